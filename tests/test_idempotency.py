"""Acceptance: `Idempotency-Key` — a retried POST or PATCH creates one resource and gets the
first answer; the same key with a different body is refused with 422."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from beeldbel.api import appkeys
from beeldbel.api.idempotency import prune_expired
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.db.tables import IdempotencyKeyRow, TeamRow
from beeldbel.identity.model import Role
from beeldbel.settings import Settings
from tests.conftest import auth, token_for

TEAM = {"name": "Wijkteam Enschede-Zuid", "municipalities": ["Enschede"]}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def team_count(client: TestClient) -> int:
    assert client.app is not None
    async with client.app[appkeys.DATABASE].transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(TeamRow)) or 0)


async def test_same_post_twice_creates_one_team_and_returns_the_same_answer(
    backend: str, client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "k-1"))
    second = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "k-1"))
    assert first.status == second.status == 201
    assert await first.read() == await second.read()
    assert first.headers["Location"] == second.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await team_count(client) == 1


async def test_same_key_with_a_different_body_is_refused_with_422(
    backend: str, client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "k-2"))
    assert first.status == 201
    other = {**TEAM, "name": "Wijkteam Enschede-Noord"}
    reused = await client.post("/api/v1/teams", json=other, headers=keyed(admin_headers, "k-2"))
    assert reused.status == 422
    assert (await reused.json())["error"]["code"] == "idempotency_key_reused"
    assert await team_count(client) == 1


async def test_same_key_on_another_path_is_refused(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "k-3"))
    team = await created.json()
    patch = await client.patch(
        f"/api/v1/teams/{team['id']}",
        json={"version": 1, "name": "X Y"},
        headers=keyed(admin_headers, "k-3"),
    )
    assert patch.status == 422
    assert (await patch.json())["error"]["code"] == "idempotency_key_reused"


async def test_keys_belong_to_one_principal(client: TestClient) -> None:
    alice = auth(token_for(client, Role.ADMIN, subject="staff:alice"))
    bob = auth(token_for(client, Role.ADMIN, subject="staff:bob"))
    assert (
        await client.post("/api/v1/teams", json=TEAM, headers=keyed(alice, "same"))
    ).status == 201
    # Bob's request runs for real (and meets Alice's team) instead of replaying her answer.
    bobs = await client.post("/api/v1/teams", json=TEAM, headers=keyed(bob, "same"))
    assert bobs.status == 409
    assert (await bobs.json())["error"]["code"] == "conflict"


async def test_concurrent_retries_with_one_key_create_one_team(
    backend: str, client: TestClient, admin_headers: dict[str, str]
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "burst"))
            for _ in range(8)
        )
    )
    assert await team_count(client) == 1
    created = [await r.read() for r in responses if r.status == 201]
    assert created, [r.status for r in responses]
    assert len(set(created)) == 1  # every 201 is the same answer
    others = [r for r in responses if r.status != 201]
    for response in others:
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "idempotency_in_progress"
        assert response.headers["Retry-After"] == "1"


async def test_a_refusal_is_replayed_too(
    backend: str, client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert (await client.post("/api/v1/teams", json=TEAM, headers=admin_headers)).status == 201
    first = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "dup"))
    again = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "dup"))
    assert first.status == again.status == 409
    assert await first.read() == await again.read()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_server_error_releases_the_key_so_the_retry_runs(
    client: TestClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.app is not None
    service = client.app[appkeys.TEAMS]
    real_create = service.create
    failures = iter([RuntimeError("database fell over")])

    async def flaky_create(name: str, municipalities: tuple[str, ...]):  # type: ignore[no-untyped-def]
        for failure in failures:
            raise failure
        return await real_create(name, municipalities)

    monkeypatch.setattr(service, "create", flaky_create)
    broken = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "retry"))
    assert broken.status == 500
    retried = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, "retry"))
    assert retried.status == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert await team_count(client) == 1


async def test_patch_retry_replays_instead_of_reporting_a_stale_version(
    backend: str, client: TestClient, admin_headers: dict[str, str]
) -> None:
    team = await (await client.post("/api/v1/teams", json=TEAM, headers=admin_headers)).json()
    url = f"/api/v1/teams/{team['id']}"
    change = {"version": 1, "name": "Wijkteam Enschede-Oost"}
    first = await client.patch(url, json=change, headers=keyed(admin_headers, "p-1"))
    second = await client.patch(url, json=change, headers=keyed(admin_headers, "p-1"))
    assert first.status == second.status == 200
    assert (await second.json())["version"] == 2
    without_key = await client.patch(url, json=change, headers=admin_headers)
    assert without_key.status == 409


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ünïcode"])
async def test_malformed_keys_are_refused(
    client: TestClient, admin_headers: dict[str, str], key: str
) -> None:
    response = await client.post("/api/v1/teams", json=TEAM, headers=keyed(admin_headers, key))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_idempotency_key"
    assert await team_count(client) == 0


@pytest.fixture
async def timed_client(aiohttp_client, settings: Settings, fixed_clock: FixedClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=fixed_clock))


async def test_a_key_past_its_time_runs_again_and_is_pruned(
    timed_client: TestClient, fixed_clock: FixedClock, settings: Settings
) -> None:
    headers = keyed(auth(token_for(timed_client, Role.ADMIN, subject="staff:a")), "old")
    assert (await timed_client.post("/api/v1/teams", json=TEAM, headers=headers)).status == 201
    fixed_clock.advance(timedelta(hours=settings.idempotency_hours, seconds=1))
    headers = keyed(auth(token_for(timed_client, Role.ADMIN, subject="staff:a")), "old")
    rerun = await timed_client.post("/api/v1/teams", json=TEAM, headers=headers)
    assert rerun.status == 409  # executed again: the name now exists
    assert "Idempotent-Replayed" not in rerun.headers
    assert timed_client.app is not None
    db = timed_client.app[appkeys.DATABASE]
    fixed_clock.advance(timedelta(hours=settings.idempotency_hours, seconds=1))
    assert await prune_expired(db, fixed_clock.now()) == 1


async def test_a_claim_left_by_a_dead_process_is_taken_over(
    backend: str, timed_client: TestClient, fixed_clock: FixedClock
) -> None:
    assert timed_client.app is not None
    db = timed_client.app[appkeys.DATABASE]
    headers = keyed(auth(token_for(timed_client, Role.ADMIN, subject="staff:c")), "orphan")
    first = await timed_client.post("/api/v1/teams", json=TEAM, headers=headers)
    assert first.status == 201
    # Make it look as if the first request's process died before storing its answer.
    async with db.transaction() as session:
        row = await session.get(IdempotencyKeyRow, ("staff:c", "orphan"))
        assert row is not None
        row.status, row.body = None, None
        row.locked_until = fixed_clock.now() + timedelta(seconds=30)
    busy = await timed_client.post("/api/v1/teams", json=TEAM, headers=headers)
    assert busy.status == 409
    assert (await busy.json())["error"]["code"] == "idempotency_in_progress"
    fixed_clock.advance(timedelta(seconds=31))
    taken_over = await timed_client.post("/api/v1/teams", json=TEAM, headers=headers)
    assert taken_over.status == 409  # ran again; the team of the first run exists
    assert (await taken_over.json())["error"]["code"] == "conflict"


def test_fixed_clock_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone"):
        FixedClock(datetime(2026, 1, 1))
    assert FixedClock(datetime(2026, 1, 1, tzinfo=UTC)).now().tzinfo is UTC
