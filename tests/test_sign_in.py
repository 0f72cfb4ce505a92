"""Signing in through the API: password, then TOTP or a recovery code; enrolment; the
throttle after failed attempts; the audit trail of every attempt; sessions and cookies."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import jwt
import pyotp
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.db.repositories.staff import staff_exists, teams_of
from beeldbel.db.tables.identity import RecoveryCodeRow, StaffUserRow
from beeldbel.identity.model import Role
from beeldbel.identity.passwords import Passwords
from beeldbel.identity.rules import FREE_FAILURES
from beeldbel.settings import Settings
from tests.conftest import auth, token_for
from tests.staffing import (
    PASSWORD,
    SECRET,
    Staff,
    app_of,
    audit_rows,
    bearer,
    challenge,
    code,
    make_staff,
    post,
    sign_in,
)

SIGN_IN = "/api/v1/auth/sign-in"
SECOND_FACTOR = "/api/v1/auth/second-factor"


@pytest.fixture
async def fclient(aiohttp_client, settings: Settings, fixed_clock: FixedClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=fixed_clock))


async def attempt(client: TestClient, username: str, password: str) -> tuple[int, Any, Any]:
    response = await post(client, SIGN_IN, {"username": username, "password": password})
    return response.status, await response.json(), response.headers


# Two steps ------------------------------------------------------------------------------


async def test_first_sign_in_enrols_an_authenticator_and_shows_recovery_codes_once(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient, "daan", secret=None)
    status, body, _ = await attempt(fclient, "daan", PASSWORD)
    assert status == 200
    assert body["status"] == "enrolment_required"
    assert body["expires_in"] == 300
    # The enrolment challenge is not good for the second-factor step.
    refused = await post(fclient, SECOND_FACTOR, {"challenge": body["challenge"], "code": "123456"})
    assert refused.status == 401

    enrolment = await post(fclient, "/api/v1/auth/totp/enrol", {"challenge": body["challenge"]})
    assert enrolment.status == 200
    factor = await enrolment.json()
    assert factor["otpauth_uri"].startswith("otpauth://totp/Beeldbel:daan?")
    assert f"secret={factor['secret']}" in factor["otpauth_uri"]
    assert factor["qr_svg"].startswith("<svg")

    wrong = await post(
        fclient, "/api/v1/auth/totp/confirm", {"challenge": body["challenge"], "code": "000000"}
    )
    assert wrong.status == 401
    confirmed = await post(
        fclient,
        "/api/v1/auth/totp/confirm",
        {"challenge": body["challenge"], "code": code(fclient, factor["secret"])},
    )
    assert confirmed.status == 200, await confirmed.text()
    session = await confirmed.json()
    codes = session["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10

    me = await (await fclient.get("/api/v1/me", headers=bearer(session))).json()
    assert me["subject"] == staff.subject
    assert me["totp_enabled"] is True
    assert me["second_factor"] is True
    assert me["recovery_codes_left"] == 10

    # Enrolling again with the same challenge is refused: the factor is set.
    again = await post(fclient, "/api/v1/auth/totp/enrol", {"challenge": body["challenge"]})
    assert again.status == 401
    # From now on sign-in asks for the code, and the codes are never shown again.
    fixed_clock.advance(timedelta(seconds=30))
    status, body, _ = await attempt(fclient, "daan", PASSWORD)
    assert body["status"] == "second_factor_required"
    later = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": body["challenge"], "code": code(fclient, factor["secret"])},
    )
    assert later.status == 200
    assert (await later.json())["recovery_codes"] is None
    # Only hashes are stored.
    async with app_of(fclient)[appkeys.DATABASE].transaction(read_only=True) as db:
        stored = list((await db.scalars(select(RecoveryCodeRow.code_hash))).all())
        secret_column = await db.scalar(select(StaffUserRow.totp_secret))
    assert not set(stored) & set(codes)
    assert secret_column is not None
    assert factor["secret"] not in secret_column


async def test_a_session_carries_the_second_factor_and_the_users_roles(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient, "femke", Role.COORDINATOR, Role.WORKER)
    session = await sign_in(fclient, staff)
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["sub"] == staff.subject
    assert sorted(claims["roles"]) == ["coordinator", "worker"]
    assert session["roles"] == ["coordinator", "worker"]
    assert session["expires_in"] == 600
    assert session["refresh_token"].startswith("bbr1.")


async def test_a_totp_code_works_once(fclient: TestClient, fixed_clock: FixedClock) -> None:
    staff = await make_staff(fclient)
    await sign_in(fclient, staff)
    replayed = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "code": code(fclient)},
    )
    assert replayed.status == 401
    assert (await replayed.json())["error"]["details"]["reason"] == "code_invalid"
    # The next code (the app shows it 30 s later) works.
    fixed_clock.advance(timedelta(seconds=30))
    await sign_in(fclient, staff)


async def test_one_code_sent_twice_at_once_gives_one_session(
    backend: str, fclient: TestClient
) -> None:
    staff = await make_staff(fclient)
    tickets = [await challenge(fclient, staff) for _ in range(4)]
    responses = await asyncio.gather(
        *(post(fclient, SECOND_FACTOR, {"challenge": t, "code": code(fclient)}) for t in tickets)
    )
    assert sorted(r.status for r in responses) == [200, 401, 401, 401]


async def test_a_code_from_one_step_either_side_is_accepted_for_clock_drift(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient)
    await sign_in(fclient, staff, offset_steps=-1)
    await sign_in(fclient, staff, offset_steps=1)
    too_far = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "code": code(fclient, offset_steps=3)},
    )
    assert too_far.status == 401


async def test_a_recovery_code_works_once_instead_of_a_code(fclient: TestClient) -> None:
    staff = await make_staff(fclient, secret=None)
    first = await challenge(fclient, staff)
    factor = await (await post(fclient, "/api/v1/auth/totp/enrol", {"challenge": first})).json()
    confirmed = await post(
        fclient,
        "/api/v1/auth/totp/confirm",
        {"challenge": first, "code": code(fclient, factor["secret"])},
    )
    recovery = (await confirmed.json())["recovery_codes"][3]

    typed = " " + recovery.upper().replace("-", " ") + " "  # as read aloud and typed
    used = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "recovery_code": typed},
    )
    assert used.status == 200, await used.text()
    me = await (await fclient.get("/api/v1/me", headers=bearer(await used.json()))).json()
    assert me["recovery_codes_left"] == 9
    again = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "recovery_code": recovery},
    )
    assert again.status == 401
    rows = await audit_rows(fclient, "second_factor")
    assert [(r.outcome, r.detail.get("method"), r.detail.get("reason")) for r in rows] == [
        ("success", "totp", None),
        ("success", "recovery_code", None),
        ("failed", None, "wrong_recovery_code"),
    ]


async def test_code_and_recovery_code_together_or_neither_is_422(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    ticket = await challenge(fclient, staff)
    for body in ({"challenge": ticket}, {"challenge": ticket, "code": "1", "recovery_code": "x"}):
        response = await post(fclient, SECOND_FACTOR, body)
        assert response.status == 422


async def test_a_challenge_expires_after_five_minutes(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    ticket = await challenge(fclient, staff)
    fixed_clock.advance(timedelta(minutes=6))
    response = await post(fclient, SECOND_FACTOR, {"challenge": ticket, "code": code(fclient)})
    assert response.status == 401
    assert (await response.json())["error"]["details"]["reason"] == "challenge_invalid"


async def test_a_challenge_is_not_an_access_token_nor_the_other_way_round(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient)
    ticket = await challenge(fclient, staff)
    assert (await fclient.get("/api/v1/me", headers=auth(ticket))).status == 401
    session = await sign_in(fclient, staff, offset_steps=1)
    response = await post(
        fclient, SECOND_FACTOR, {"challenge": session["access_token"], "code": code(fclient)}
    )
    assert response.status == 401


async def test_a_password_reset_voids_outstanding_challenges(fclient: TestClient) -> None:
    from beeldbel.api.auth import ACCOUNTS

    staff = await make_staff(fclient)
    ticket = await challenge(fclient, staff)
    await app_of(fclient)[ACCOUNTS].reset_password("test", staff.id, "nieuwe-lange-zin-42")
    response = await post(fclient, SECOND_FACTOR, {"challenge": ticket, "code": code(fclient)})
    assert response.status == 401


# Failed attempts ------------------------------------------------------------------------


async def test_five_wrong_passwords_then_429_with_retry_after_and_every_attempt_audited(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    for _ in range(FREE_FAILURES):
        status, body, _ = await attempt(fclient, "anouk", "not-the-password")
        assert status == 401
        assert body["error"]["code"] == "unauthenticated"
    status, body, headers = await attempt(fclient, "anouk", "not-the-password")
    assert status == 429
    assert headers["Retry-After"] == "30"
    assert body["error"]["code"] == "rate_limited"
    # Even the right password waits: a guesser cannot tell it was right.
    status, _, headers = await attempt(fclient, "anouk", PASSWORD)
    assert status == 429
    # An unknown user gets the same answers.
    for _ in range(FREE_FAILURES):
        assert (await attempt(fclient, "nobody-here", "not-the-password"))[0] == 401
    status, _, unknown_headers = await attempt(fclient, "nobody-here", "not-the-password")
    assert status == 429
    assert unknown_headers["Retry-After"] == "30"

    rows = await audit_rows(fclient, "sign_in")
    assert len(rows) == 2 * FREE_FAILURES + 3
    known = [r for r in rows if r.object_id == staff.subject]
    assert [r.outcome for r in known] == ["failed"] * FREE_FAILURES + ["denied", "denied"]
    assert all(r.actor is None for r in known)  # a failed attempt proves nobody's identity
    unknown = [r for r in rows if r.object_id is None]
    assert [r.outcome for r in unknown] == ["failed"] * FREE_FAILURES + ["denied"]
    assert {r.detail.get("reason") for r in unknown} == {"unknown_user", "throttled"}
    assert len({r.detail["username_hash"] for r in unknown}) == 1
    # Nothing typed is kept: neither the password nor the unknown name.
    for row in rows:
        text = repr(row.detail)
        assert "not-the-password" not in text
        assert "nobody-here" not in text
        assert PASSWORD not in text
    assert all(r.source == "127.0.0.1" for r in rows)


async def test_the_wait_grows_but_ends_so_an_account_is_never_locked_for_good(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    waits = []
    for _ in range(12):
        status, _, headers = await attempt(fclient, "anouk", "not-the-password")
        if status == 429:
            waits.append(int(headers["Retry-After"]))
            fixed_clock.advance(timedelta(seconds=int(headers["Retry-After"])))
    assert waits == [30, 60, 120, 240, 480, 900, 900][: len(waits)]
    assert max(waits) <= 900
    fixed_clock.advance(timedelta(minutes=15))
    status, body, _ = await attempt(fclient, "anouk", PASSWORD)
    assert status == 200
    assert body["status"] == "second_factor_required"
    # A success wipes the slate: the next mistake is a plain 401 again.
    assert (await attempt(fclient, "anouk", "not-the-password"))[0] == 401
    assert staff.username == "anouk"


async def test_unknown_user_wrong_password_and_disabled_account_get_the_same_answer(
    fclient: TestClient,
) -> None:
    from beeldbel.api.auth import ACCOUNTS

    await make_staff(fclient, "anouk")
    gone = await make_staff(fclient, "daan")
    await app_of(fclient)[ACCOUNTS].set_disabled("test", gone.id, True)
    answers = [
        await attempt(fclient, "anouk", "not-the-password"),
        await attempt(fclient, "nobody", "not-the-password"),
        await attempt(fclient, "daan", PASSWORD),
    ]
    assert {status for status, _, _ in answers} == {401}
    assert answers[0][1] == answers[1][1] == answers[2][1]
    reasons = [r.detail["reason"] for r in await audit_rows(fclient, "sign_in")]
    assert reasons == ["wrong_password", "unknown_user", "account_disabled"]


def test_an_unknown_user_is_checked_against_a_dummy_hash() -> None:
    from argon2 import PasswordHasher

    class Counting(PasswordHasher):
        checked = 0

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            Counting.checked += 1
            return super().verify(hash, password)

    passwords = Passwords(Counting(time_cost=1, memory_cost=1024, parallelism=1))
    stored = passwords.hash_now("lange-dijk-7-wind")
    assert passwords.verify_now(None, "lange-dijk-7-wind") is False
    assert passwords.verify_now(stored, "something-else") is False
    assert passwords.verify_now(stored, "lange-dijk-7-wind") is True
    assert Counting.checked == 3  # the unknown user cost an argon2 check like the others


async def test_concurrent_wrong_passwords_cannot_slip_past_the_throttle(
    backend: str, fclient: TestClient
) -> None:
    await make_staff(fclient)
    results = await asyncio.gather(
        *(attempt(fclient, "anouk", f"guess-number-{i}") for i in range(12))
    )
    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= FREE_FAILURES  # never more guesses checked than allowed
    assert len(await audit_rows(fclient, "sign_in")) == 12


async def test_wrong_codes_are_throttled_too(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    ticket = await challenge(fclient, staff)
    statuses = []
    for guess in range(FREE_FAILURES + 1):
        response = await post(fclient, SECOND_FACTOR, {"challenge": ticket, "code": f"{guess:06d}"})
        statuses.append(response.status)
    assert statuses == [401] * FREE_FAILURES + [429]
    assert len(await audit_rows(fclient, "second_factor")) == FREE_FAILURES + 1


# Sessions -------------------------------------------------------------------------------


async def test_browser_sessions_use_http_only_strict_cookies_scoped_to_auth(
    fclient: TestClient,
) -> None:
    staff = await make_staff(fclient)
    response = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "code": code(fclient)},
    )
    assert response.status == 200
    body = await response.json()
    assert body["refresh_token"] is None  # never readable by page script
    refresh = response.cookies["bb_refresh"]
    csrf = response.cookies["bb_csrf"]
    assert refresh["httponly"]
    assert refresh["samesite"] == "Strict"
    assert refresh["path"] == "/api/v1/auth"
    assert not refresh["secure"]  # plain http on this machine
    assert int(refresh["max-age"]) == 14 * 24 * 3600
    assert not csrf["httponly"]
    assert csrf["samesite"] == "Strict"
    assert len(csrf.value) >= 32


async def test_cookies_are_secure_off_this_machine(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    response = await fclient.post(
        SECOND_FACTOR,
        json={"challenge": await challenge(fclient, staff), "code": code(fclient)},
        headers={"Host": "beeldbel.example.nl"},
    )
    assert response.status == 200
    assert response.cookies["bb_refresh"]["secure"]
    assert response.cookies["bb_csrf"]["secure"]


async def test_sign_out_ends_the_sign_in_and_clears_the_cookies(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, staff), "code": code(fclient)},
    )
    refreshed = await post(fclient, "/api/v1/auth/refresh", {})
    assert refreshed.status == 200
    out = await post(fclient, "/api/v1/auth/sign-out", {})
    assert out.status == 204
    assert out.cookies["bb_refresh"].value == ""
    assert out.cookies["bb_refresh"]["path"] == "/api/v1/auth"
    assert not [c for c in fclient.session.cookie_jar if c.key == "bb_refresh"]
    rows = await audit_rows(fclient, "sign_out")
    assert [(r.actor, r.outcome) for r in rows] == [(staff.subject, "success")]


async def test_sign_out_with_a_body_token_revokes_it(fclient: TestClient) -> None:
    staff = await make_staff(fclient)
    session = await sign_in(fclient, staff)
    out = await post(fclient, "/api/v1/auth/sign-out", {"refresh_token": session["refresh_token"]})
    assert out.status == 204
    again = await post(fclient, "/api/v1/auth/refresh", {"refresh_token": session["refresh_token"]})
    assert again.status == 401
    # Signing out twice, or with nonsense, is still a quiet 204.
    assert (
        await post(fclient, "/api/v1/auth/sign-out", {"refresh_token": "nonsense"})
    ).status == 204


async def test_changing_the_password_ends_the_other_sign_ins_but_not_this_one(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    staff = await make_staff(fclient)
    here = await sign_in(fclient, staff)
    fixed_clock.advance(timedelta(seconds=30))
    elsewhere = await sign_in(fclient, staff)
    wrong = await fclient.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it", "new_password": "nieuwe-lange-zin-42"},
        headers=bearer(here),
    )
    assert wrong.status == 422
    weak = await fclient.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "kort"},
        headers=bearer(here),
    )
    assert weak.status == 422
    changed = await fclient.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "nieuwe-lange-zin-42"},
        headers=bearer(here),
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["sessions_ended"] == 1
    kept = await post(fclient, "/api/v1/auth/refresh", {"refresh_token": here["refresh_token"]})
    assert kept.status == 200
    ended = await post(
        fclient, "/api/v1/auth/refresh", {"refresh_token": elsewhere["refresh_token"]}
    )
    assert ended.status == 401
    assert (await attempt(fclient, "anouk", PASSWORD))[0] == 401
    assert (await attempt(fclient, "anouk", "nieuwe-lange-zin-42"))[0] == 200
    changes = await audit_rows(fclient, "account_change")
    assert [r.detail.get("change") or r.detail.get("reason") for r in changes] == [
        "created",
        "wrong_password",
        "password",
    ]


async def test_only_a_second_factor_token_manages_accounts(fclient: TestClient) -> None:
    without = token_for(fclient, Role.ADMIN, second_factor=False)
    response = await fclient.get("/api/v1/users", headers=auth(without))
    assert response.status == 403
    worker = token_for(fclient, Role.WORKER)
    assert (await fclient.get("/api/v1/users", headers=auth(worker))).status == 403


async def test_an_admin_creates_an_account_whose_first_sign_in_enrols(
    fclient: TestClient,
) -> None:
    admin = await make_staff(fclient, "joost", Role.ADMIN)
    session = await sign_in(fclient, admin)
    teams = await fclient.post(
        "/api/v1/teams",
        json={"name": "Wijkteam Hof van Twente", "municipalities": ["Hof van Twente"]},
        headers=bearer(session),
    )
    team_id = (await teams.json())["id"]
    created = await fclient.post(
        "/api/v1/users",
        json={
            "username": "Marieke",
            "display_name": "Marieke Visser",
            "roles": ["worker"],
            "teams": [team_id],
        },
        headers=bearer(session),
    )
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["user"]["teams"] == [team_id]
    assert body["user"]["totp_enabled"] is False
    duplicate = await fclient.post(
        "/api/v1/users",
        json={"username": "MARIEKE", "display_name": "Another", "roles": ["worker"]},
        headers=bearer(session),
    )
    assert duplicate.status == 409
    status, first, _ = await attempt(fclient, "marieke", body["initial_password"])
    assert status == 200
    assert first["status"] == "enrolment_required"
    listing = await (await fclient.get("/api/v1/users", headers=bearer(session))).json()
    assert {u["username"] for u in listing["items"]} == {"joost", "Marieke"}


async def test_an_admin_disables_an_account_and_its_sign_ins_end(fclient: TestClient) -> None:
    admin = await make_staff(fclient, "joost", Role.ADMIN)
    worker = await make_staff(fclient, "anouk")
    admin_session = await sign_in(fclient, admin)
    worker_session = await sign_in(fclient, worker)
    path = f"/api/v1/users/{worker.id}"
    current = await (await fclient.get(path, headers=bearer(admin_session))).json()
    disabled = await fclient.patch(
        path, json={"version": current["version"], "disabled": True}, headers=bearer(admin_session)
    )
    assert disabled.status == 200
    assert (await disabled.json())["disabled"] is True
    refused = await post(
        fclient, "/api/v1/auth/refresh", {"refresh_token": worker_session["refresh_token"]}
    )
    assert refused.status == 401
    assert (await fclient.get("/api/v1/me", headers=bearer(worker_session))).status == 401
    own = await fclient.patch(
        f"/api/v1/users/{admin.id}",
        json={"version": 1, "disabled": True},
        headers=bearer(admin_session),
    )
    assert own.status == 403
    rows = await audit_rows(fclient, "account_change")
    assert rows[-1].actor == admin.subject
    assert rows[-1].detail["fields"] == "disabled"
    assert rows[-1].detail["tokens_revoked"] == "1"


async def test_an_admin_resets_a_factor_and_the_next_sign_in_enrols_again(
    fclient: TestClient,
) -> None:
    admin = await make_staff(fclient, "joost", Role.ADMIN)
    worker = await make_staff(fclient, "anouk")
    admin_session = await sign_in(fclient, admin)
    worker_session = await sign_in(fclient, worker)
    reset = await fclient.post(
        f"/api/v1/users/{worker.id}/reset-factor",
        json={"reason": "nieuwe telefoon"},
        headers=bearer(admin_session),
    )
    assert reset.status == 200
    assert (await reset.json())["totp_enabled"] is False
    status, body, _ = await attempt(fclient, "anouk", PASSWORD)
    assert status == 200
    assert body["status"] == "enrolment_required"
    refused = await post(
        fclient, "/api/v1/auth/refresh", {"refresh_token": worker_session["refresh_token"]}
    )
    assert refused.status == 401
    changes = await audit_rows(fclient, "account_change")
    assert changes[-1].actor == admin.subject
    assert changes[-1].detail["change"] == "factor_reset"
    assert changes[-1].detail["reason"] == "nieuwe telefoon"


async def test_a_stale_version_of_a_user_conflicts(fclient: TestClient) -> None:
    admin = await make_staff(fclient, "joost", Role.ADMIN)
    worker = await make_staff(fclient, "anouk")
    session = await sign_in(fclient, admin)
    path = f"/api/v1/users/{worker.id}"
    current = await (await fclient.get(path, headers=bearer(session))).json()
    changed = await fclient.patch(
        path,
        json={"version": current["version"], "roles": ["worker", "coordinator"]},
        headers=bearer(session),
    )
    assert changed.status == 200
    assert (await changed.json())["roles"] == ["coordinator", "worker"]
    stale = await fclient.patch(
        path, json={"version": current["version"], "display_name": "A"}, headers=bearer(session)
    )
    assert stale.status == 409


async def test_teams_of_and_staff_exists(backend: str, fclient: TestClient) -> None:
    from beeldbel.api.auth import ACCOUNTS

    app = app_of(fclient)
    team = await app[appkeys.TEAMS].create("Wijkteam Twenterand", ("Twenterand",))
    member: Staff = await make_staff(fclient, "anouk", teams=frozenset({team.id}))
    loner = await make_staff(fclient, "daan")
    async with app[appkeys.DATABASE].transaction(read_only=True) as db:
        assert await teams_of(db, member.subject) == frozenset({team.id})
        assert await teams_of(db, loner.subject) == frozenset()
        assert await teams_of(db, "client:whoever") == frozenset()
        assert await staff_exists(db, member.subject)
        assert not await staff_exists(db, "staff:00000000-0000-0000-0000-000000000000")
        assert not await staff_exists(db, "staff:walker")
    await app[ACCOUNTS].set_disabled("test", member.id, True)
    async with app[appkeys.DATABASE].transaction(read_only=True) as db:
        assert not await staff_exists(db, member.subject)
        assert await teams_of(db, member.subject) == frozenset()


def test_the_enrolment_secret_works_in_any_authenticator() -> None:
    totp = pyotp.TOTP(SECRET)
    assert totp.verify(totp.now())


# Device cookies -------------------------------------------------------------------------


async def stranger_attempt(client: TestClient, username: str) -> int:
    """A sign-in attempt from another browser: none of this client's cookies."""
    async with ClientSession() as other:
        response = await other.post(
            client.make_url(SIGN_IN), json={"username": username, "password": "a-wild-guess"}
        )
        return response.status


async def test_a_stranger_cannot_keep_a_worker_from_signing_in_on_her_own_browser(
    fclient: TestClient, fixed_clock: FixedClock
) -> None:
    anouk = await make_staff(fclient, "anouk")
    await make_staff(fclient, "daan")
    signed_in = await post(
        fclient,
        SECOND_FACTOR,
        {"challenge": await challenge(fclient, anouk), "code": code(fclient)},
    )
    device = signed_in.cookies["bb_device"]
    assert device["httponly"]
    assert device["path"] == "/api/v1/auth"
    assert "anouk" not in device.value

    statuses = [await stranger_attempt(fclient, name) for name in ["anouk"] * 6 + ["daan"] * 6]
    assert statuses == ([401] * FREE_FAILURES + [429]) * 2
    # Anouk's own browser still gets in; Daan's name is not vouched for by it.
    status, body, _ = await attempt(fclient, "anouk", PASSWORD)
    assert status == 200
    assert (await attempt(fclient, "daan", PASSWORD))[0] == 429
    rows = await audit_rows(fclient, "sign_in")
    assert rows[-2].detail == {"next": "second_factor", "trusted_device": "true"}
    # The browser's own mistakes are throttled like anyone's.
    for _ in range(FREE_FAILURES):
        assert (await attempt(fclient, "anouk", "not-the-password"))[0] == 401
    assert (await attempt(fclient, "anouk", PASSWORD))[0] == 429
    assert body["status"] == "second_factor_required"


def test_a_device_cookie_names_the_last_five_users_and_no_one_else() -> None:
    from beeldbel.identity.devices import DeviceCookies
    from beeldbel.identity.serverkey import ServerKey

    devices = DeviceCookies(ServerKey(b"k" * 32))
    cookie = None
    for name in ["anouk", "daan", "femke", "joost", "ingrid", "marieke"]:
        cookie = devices.remember(cookie, name)
    assert devices.trusted(cookie, "anouk") is None  # the oldest made room
    keys = {devices.trusted(cookie, name) for name in ["daan", "femke", "joost", "ingrid"]}
    assert None not in keys
    assert len(keys) == 4
    assert devices.trusted(cookie, "MARIEKE") == devices.trusted(cookie, "marieke") is not None
    other = DeviceCookies(ServerKey(b"x" * 32))
    assert other.trusted(cookie, "marieke") is None  # another server's key
    assert cookie is not None
    forged = cookie.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    assert devices.trusted(forged, "nobody") is None
    for garbage in (None, "", "bbd1", "bbd1..x", "nonsense", "bbd1.é.x", "bbd1." + "a" * 500):
        assert devices.trusted(garbage, "daan") is None


async def test_control_characters_get_4xx_never_500(backend: str, fclient: TestClient) -> None:
    admin = await make_staff(fclient, "joost", Role.ADMIN)
    session = await sign_in(fclient, admin)
    for username in ("a\x00b", "anouk\x00", "\x00" * 64, "é" * 200):
        status, body, _ = await attempt(fclient, username, "a\x00password")
        assert status == 401, body
    created = await fclient.post(
        "/api/v1/users",
        json={"username": "anouk", "display_name": "A\x00B", "roles": ["worker"]},
        headers=bearer(session),
    )
    assert created.status == 422
    reset = await fclient.post(
        f"/api/v1/users/{admin.id}/end-sessions",
        json={"reason": "kwijt\x00"},
        headers=bearer(session),
    )
    assert reset.status == 422
