"""GET /api/v1/audit/entries: the privacy officer's audit queries, themselves audited;
and the sealer the application runs (in the background, and once more on shutdown)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.api.audit import CHAIN
from beeldbel.app import create_app
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.db.engine import Database
from beeldbel.db.tables.audit import AuditEntryRow
from beeldbel.identity.model import Role
from beeldbel.settings import Settings
from tests.conftest import auth, token_for

URL = "/api/v1/audit/entries"
OFFICER = "staff:privacy-officer"


def app_of(client: TestClient) -> web.Application:
    assert client.app is not None
    return client.app


def officer(client: TestClient, *, second_factor: bool = True) -> dict[str, str]:
    return auth(
        token_for(client, Role.PRIVACY_OFFICER, subject=OFFICER, second_factor=second_factor)
    )


async def write(client: TestClient, actor: str, client_id: UUID | None, n: int = 1) -> None:
    log = app_of(client)[appkeys.AUDIT]
    for i in range(n):
        await log.append_alone(
            AuditRecord(
                event=AuditEvent.READ,
                outcome=Outcome.SUCCESS,
                actor=actor,
                client_id=client_id,
                object_type="client",
                object_id=str(i),
                detail={"basis": "care_team"},
            )
        )


async def all_rows(client: TestClient) -> list[AuditEntryRow]:
    await app_of(client)[CHAIN].seal()
    db = app_of(client)[appkeys.DATABASE]
    async with db.transaction(read_only=True) as session:
        result = await session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))
        return list(result.scalars().all())


async def get(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(URL, params=params, headers=headers)
    return response.status, await response.json()


async def test_the_privacy_officer_reads_one_clients_trail_and_that_read_is_audited(
    backend: str, client: TestClient
) -> None:
    anna, bert = uuid4(), uuid4()
    await write(client, "staff:worker-a", anna, 3)
    await write(client, "staff:worker-b", bert, 2)
    status, page = await get(client, officer(client), client_id=str(anna))
    assert status == 200, page
    assert [e["client_id"] for e in page["items"]] == [str(anna)] * 3
    assert page["next_cursor"] is None
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs)
    query_entries = [r for r in await all_rows(client) if r.event == "audit_query"]
    assert len(query_entries) == 1
    (entry,) = query_entries
    assert (entry.actor, entry.client_id, entry.outcome) == (OFFICER, anna, "success")
    assert entry.detail["basis"] == "privacy_officer"
    assert entry.detail["results"] == "3"
    assert entry.source is not None
    assert entry.request_id is not None


async def test_the_audit_query_shows_up_in_the_next_query(backend: str, client: TestClient) -> None:
    anna = uuid4()
    await write(client, "staff:worker-a", anna)
    await get(client, officer(client), client_id=str(anna))
    status, page = await get(client, officer(client), client_id=str(anna))
    assert status == 200
    assert [e["event"] for e in page["items"]] == ["read", "audit_query"]
    assert page["items"][1]["actor"] == OFFICER


async def test_a_search_across_clients_writes_an_entry_on_each_clients_trail(
    backend: str, client: TestClient
) -> None:
    anna, bert = uuid4(), uuid4()
    await write(client, "staff:worker-a", anna, 2)
    await write(client, "staff:worker-a", bert, 1)
    await write(client, "staff:worker-a", None, 1)  # e.g. a sign-in: no client
    status, page = await get(client, officer(client), actor="staff:worker-a")
    assert status == 200
    assert len(page["items"]) == 4
    queries = [r for r in await all_rows(client) if r.event == "audit_query"]
    assert sorted((str(r.client_id), r.detail.get("results")) for r in queries) == sorted(
        [("None", "4"), (str(anna), "2"), (str(bert), "1")]
    )


async def test_a_search_that_finds_nothing_still_answers_and_is_audited(
    backend: str, client: TestClient
) -> None:
    status, page = await get(client, officer(client), actor="staff:nobody")
    assert (status, page) == (200, {"items": [], "next_cursor": None})
    status, page = await get(client, officer(client), client_id=str(uuid4()))
    assert (status, page) == (200, {"items": [], "next_cursor": None})
    assert [r.detail["results"] for r in await all_rows(client)] == ["0", "0"]


async def test_filters_by_actor_and_period(backend: str, client: TestClient) -> None:
    await write(client, "staff:worker-a", uuid4(), 2)
    await write(client, "staff:worker-b", uuid4(), 1)
    rows = await all_rows(client)
    status, page = await get(client, officer(client), actor="staff:worker-b")
    assert [e["actor"] for e in page["items"]] == ["staff:worker-b"]
    second = rows[1].at
    status, page = await get(
        client, officer(client), **{"from": second.isoformat(), "to": rows[2].at.isoformat()}
    )
    assert status == 200, page
    assert [e["id"] for e in page["items"]] == [rows[1].id]


async def test_pages_walk_the_whole_log_in_chain_order_without_repeats(
    backend: str, client: TestClient
) -> None:
    await write(client, "staff:worker-a", uuid4(), 7)
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"actor": "staff:worker-a", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        status, page = await get(client, officer(client), **params)
        assert status == 200, page
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert seen == sorted(set(seen))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.WORKER, Role.COORDINATOR])
async def test_admins_and_care_staff_may_not_read_audit_trails(
    client: TestClient, role: Role
) -> None:
    headers = auth(token_for(client, role, subject=f"staff:{role.value}"))
    status, body = await get(client, headers, client_id=str(uuid4()))
    assert status == 403
    assert body["error"]["code"] == "forbidden"


async def test_without_a_second_factor_the_query_is_refused_and_the_refusal_audited(
    backend: str, client: TestClient
) -> None:
    anna = uuid4()
    status, body = await get(client, officer(client, second_factor=False), client_id=str(anna))
    assert status == 403
    assert body["error"]["details"]["category"] == "audit_trail"
    (entry,) = await all_rows(client)
    assert (entry.event, entry.outcome, entry.actor, entry.client_id) == (
        "audit_query",
        "denied",
        OFFICER,
        anna,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "not-a-uuid"},
        {"from": "2026-11-30T09:00:00"},  # no zone
        {"from": "yesterday"},
        {"from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"},
        {"cursor": "bm90IGEgY3Vyc29y"},
        {"actor": ""},
        {"actor": "x" * 201},
        {"limit": "0"},
        {"from_": "2026-11-30T09:00:00Z"},
    ],
)
async def test_bad_query_parameters_get_422_in_the_error_shape(
    client: TestClient, params: dict[str, str]
) -> None:
    status, body = await get(client, officer(client), **params)
    assert status == 422, body
    assert set(body["error"]) == {"code", "message", "details"}


async def test_the_running_app_runs_the_sealer_and_seals_what_is_left_on_shutdown(
    backend: str, settings: Settings
) -> None:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        log = app[appkeys.AUDIT]
        for n in range(3):
            await log.append_alone(
                AuditRecord(event=AuditEvent.SIGN_IN, outcome=Outcome.SUCCESS, actor=f"s:{n}")
            )
        assert "seal_audit_log" in app[appkeys.TASKS].running
    finally:
        await runner.cleanup()
    db = Database.from_settings(settings)
    try:
        async with db.transaction(read_only=True) as session:
            seqs = (await session.execute(select(AuditEntryRow.seq))).scalars().all()
    finally:
        await db.dispose()
    assert sorted(s for s in seqs if s is not None) == [1, 2, 3]
