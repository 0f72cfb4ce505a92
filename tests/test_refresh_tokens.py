"""Refresh tokens rotate on use; a replay within 60 s gets the same successor (the answer
was lost on a weak link); a later replay revokes the whole chain."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.db.tables.identity import RefreshTokenRow
from beeldbel.settings import Settings
from tests.staffing import app_of, audit_rows, bearer, challenge, code, make_staff, post, sign_in

REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
async def fclient(aiohttp_client, settings: Settings, fixed_clock: FixedClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=fixed_clock))


async def refresh(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    response = await post(client, REFRESH, {"refresh_token": token})
    return response.status, await response.json()


async def test_a_refresh_token_rotates_and_its_successor_works(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    fixed_clock.advance(timedelta(minutes=9))
    status, first = await refresh(fclient, session["refresh_token"])
    assert status == 200
    assert first["refresh_token"] != session["refresh_token"]
    assert first["access_token"] != session["access_token"]
    me = await fclient.get("/api/v1/me", headers=bearer(first))
    assert (await me.json())["second_factor"] is True
    fixed_clock.advance(timedelta(minutes=9))
    status, second = await refresh(fclient, str(first["refresh_token"]))
    assert status == 200
    assert len({session["refresh_token"], first["refresh_token"], second["refresh_token"]}) == 3
    rows = await audit_rows(fclient, "token_refresh")
    assert [(r.outcome, r.actor) for r in rows] == [("success", staff.subject)] * 2


async def test_a_refresh_replayed_within_60_seconds_returns_the_same_successor(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    status, lost = await refresh(fclient, session["refresh_token"])  # this answer never arrived
    assert status == 200
    fixed_clock.advance(timedelta(seconds=59))
    status, retried = await refresh(fclient, session["refresh_token"])
    assert status == 200
    assert retried["refresh_token"] == lost["refresh_token"]
    # The chain goes on from the successor, and nothing was revoked.
    fixed_clock.advance(timedelta(seconds=5))
    status, onward = await refresh(fclient, str(retried["refresh_token"]))
    assert status == 200
    assert onward["refresh_token"] not in {lost["refresh_token"], session["refresh_token"]}
    assert not await audit_rows(fclient, "token_reuse")
    replays = [r for r in await audit_rows(fclient, "token_refresh") if r.detail.get("replay")]
    assert len(replays) == 1


async def test_a_refresh_replayed_after_60_seconds_revokes_the_whole_chain(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    status, successor = await refresh(fclient, session["refresh_token"])
    assert status == 200
    fixed_clock.advance(timedelta(seconds=61))
    status, body = await refresh(fclient, session["refresh_token"])  # a stolen copy, say
    assert status == 401
    assert body["error"]["details"]["reason"] == "reused"  # type: ignore[index]
    # The rightful holder's successor is dead too: the thief's copy bought nothing.
    status, _ = await refresh(fclient, str(successor["refresh_token"]))
    assert status == 401
    reuse = await audit_rows(fclient, "token_reuse")
    assert len(reuse) == 2
    assert reuse[0].object_id == staff.subject
    assert reuse[0].detail["was"] == "used"
    assert reuse[0].detail["tokens_revoked"] == "2"
    assert reuse[1].detail["was"] == "revoked"
    # Another sign-in of the same user is untouched.
    fixed_clock.advance(timedelta(seconds=30))
    other = await sign_in(fclient, staff)
    assert (await refresh(fclient, other["refresh_token"]))[0] == 200


async def test_concurrent_refreshes_of_one_token_get_one_successor(
    backend: str, fclient: TestClient
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    results = await asyncio.gather(*(refresh(fclient, session["refresh_token"]) for _ in range(8)))
    assert {status for status, _ in results} == {200}
    assert len({body["refresh_token"] for _, body in results}) == 1
    async with app_of(fclient)[appkeys.DATABASE].transaction(read_only=True) as db:
        rows = (await db.scalars(select(RefreshTokenRow))).all()
    assert len(rows) == 2  # the token and its one successor
    assert not await audit_rows(fclient, "token_reuse")


async def test_an_expired_refresh_token_is_refused(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    fixed_clock.advance(timedelta(days=14))
    status, body = await refresh(fclient, session["refresh_token"])
    assert status == 401
    assert body["error"]["details"]["reason"] == "expired"  # type: ignore[index]


async def test_each_refresh_extends_the_sign_in_by_the_configured_days(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    token = session["refresh_token"]
    for _ in range(3):  # three weeks of work, refreshing every ten days
        fixed_clock.advance(timedelta(days=10))
        status, body = await refresh(fclient, token)
        assert status == 200
        token = str(body["refresh_token"])


async def test_a_browser_refreshes_with_the_cookie_and_gets_a_new_one(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient)
    signed_in = await post(
        fclient,
        "/api/v1/auth/second-factor",
        {"challenge": await challenge(fclient, staff), "code": code(fclient)},
    )
    first_cookie = signed_in.cookies["bb_refresh"].value
    response = await post(fclient, REFRESH, {})
    assert response.status == 200, await response.text()
    assert (await response.json())["refresh_token"] is None
    assert response.cookies["bb_refresh"].value not in {"", first_cookie}


async def test_a_dead_cookie_is_cleared(fclient: TestClient, fixed_clock: FixedClock) -> None:
    staff = await make_staff(fclient)
    await post(
        fclient,
        "/api/v1/auth/second-factor",
        {"challenge": await challenge(fclient, staff), "code": code(fclient)},
    )
    fixed_clock.advance(timedelta(days=15))
    response = await post(fclient, REFRESH, {})
    assert response.status == 401
    assert response.cookies["bb_refresh"].value == ""


@pytest.mark.parametrize("token", ["", "nonsense", "bbr1." + "A" * 43, "bbr1.é", "x" * 200])
async def test_a_bad_refresh_token_is_401_or_422_never_500(fclient: TestClient, token: str) -> None:
    response = await post(fclient, REFRESH, {"refresh_token": token})
    assert response.status in {401, 422}
    assert set((await response.json())["error"]) == {"code", "message", "details"}


async def test_no_refresh_token_at_all_is_401(fclient: TestClient) -> None:
    assert (await post(fclient, REFRESH, {})).status == 401


async def test_refresh_tokens_are_stored_only_as_hashes(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    _, body = await refresh(fclient, session["refresh_token"])
    async with app_of(fclient)[appkeys.DATABASE].transaction(read_only=True) as db:
        hashes = set((await db.scalars(select(RefreshTokenRow.token_hash))).all())
    for token in (session["refresh_token"], body["refresh_token"]):
        assert token not in hashes
        assert not any(str(token)[5:] in h for h in hashes)


async def test_refresh_answers_are_never_replayed_from_idempotency_storage(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    headers = {"Idempotency-Key": "same-key-1"}
    first = await post(fclient, REFRESH, {"refresh_token": session["refresh_token"]}, **headers)
    second = await post(fclient, REFRESH, {"refresh_token": session["refresh_token"]}, **headers)
    assert first.status == second.status == 200
    assert "Idempotent-Replayed" not in second.headers
    from beeldbel.db.tables import IdempotencyKeyRow

    async with app_of(fclient)[appkeys.DATABASE].transaction(read_only=True) as db:
        assert not (await db.scalars(select(IdempotencyKeyRow))).all()
