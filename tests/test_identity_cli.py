"""`beeldbel user ...` (as a real subprocess) and the demo staff."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.db.tables.audit import AuditEntryRow
from beeldbel.db.tables.identity import StaffUserRow
from beeldbel.demo import seed_demo
from beeldbel.identity.demo import DEMO_PASSWORD, DEMO_STAFF, DEMO_TEAM
from beeldbel.settings import Settings
from tests.staffing import app_of, audit_rows, post

ROOT = Path(__file__).resolve().parent.parent


def beeldbel(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")}
    env |= {
        "BEELDBEL_DATA_DIR": str(settings.data_dir),
        "BEELDBEL_DATABASE_URL": settings.effective_database_url,
        "BEELDBEL_LOG_FORMAT": "console",
    }
    return subprocess.run(
        [sys.executable, "-m", "beeldbel", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def fclient(aiohttp_client, settings: Settings, fixed_clock: FixedClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=fixed_clock))


async def sign_in_status(client: TestClient, username: str, password: str) -> tuple[int, str]:
    response = await post(
        client, "/api/v1/auth/sign-in", {"username": username, "password": password}
    )
    body = await response.json()
    return response.status, body.get("status", "")


async def test_user_create_prints_a_generated_password_once_and_it_signs_in(
    backend: str, settings: Settings, fclient: TestClient
) -> None:
    await app_of(fclient)[appkeys.TEAMS].create(DEMO_TEAM, ("Hof van Twente",))
    result = beeldbel(
        settings,
        "user",
        "create",
        "marieke",
        "--name",
        "Marieke Visser",
        "--role",
        "worker",
        "--role",
        "coordinator",
        "--team",
        "wijkteam hof van twente",
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"password \(shown once[^)]*\): (\S+)", result.stdout)
    assert match is not None, result.stdout
    password = match.group(1)
    assert password not in result.stderr  # not in the log lines
    assert await sign_in_status(fclient, "Marieke", password) == (200, "enrolment_required")
    listing = beeldbel(settings, "user", "list")
    assert "marieke\tMarieke Visser\tcoordinator,worker\tnew\tWijkteam Hof van Twente" in (
        listing.stdout
    )
    rows = await audit_rows(fclient, "account_change")
    assert [(r.actor, r.source, r.detail["change"]) for r in rows] == [("cli", "cli", "created")]


async def test_user_create_reads_the_password_from_standard_input(
    settings: Settings, fclient: TestClient
) -> None:
    result = beeldbel(
        settings,
        "user",
        "create",
        "bram",
        "--name",
        "Bram",
        "--role",
        "admin",
        "--password-stdin",
        stdin="een-eigen-lange-zin\n",
    )
    assert result.returncode == 0, result.stderr
    assert "een-eigen-lange-zin" not in result.stdout + result.stderr
    assert (await sign_in_status(fclient, "bram", "een-eigen-lange-zin"))[0] == 200


async def test_reset_password_and_reset_factor_end_sign_ins_and_are_audited(
    settings: Settings, fclient: TestClient
) -> None:
    created = beeldbel(
        settings, "user", "create", "anouk", "--name", "Anouk", "--role", "worker",
        "--password-stdin", stdin="lange-dijk-7-wind\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    status, _ = await sign_in_status(fclient, "anouk", "lange-dijk-7-wind")
    assert status == 200

    reset = beeldbel(settings, "user", "reset-password", "anouk")
    assert reset.returncode == 0, reset.stderr
    new_password = reset.stdout.split("new password (shown once): ")[1].split()[0]
    assert (await sign_in_status(fclient, "anouk", "lange-dijk-7-wind"))[0] == 401
    assert (await sign_in_status(fclient, "anouk", new_password))[0] == 200

    factor = beeldbel(settings, "user", "reset-factor", "anouk")
    assert factor.returncode == 0, factor.stderr
    async with app_of(fclient)[appkeys.DATABASE].transaction(read_only=True) as db:
        row = await db.scalar(select(StaffUserRow).where(StaffUserRow.username_key == "anouk"))
        assert row is not None
        assert row.totp_secret is None
        entries = (
            await db.scalars(select(AuditEntryRow).where(AuditEntryRow.actor == "cli"))
        ).all()
    assert [e.detail["change"] for e in entries] == ["created", "password_reset", "factor_reset"]
    assert all(e.source == "cli" for e in entries)


def test_unknown_user_or_team_or_a_weak_password_exits_1_saying_why(settings: Settings) -> None:
    missing = beeldbel(settings, "user", "reset-factor", "nobody")
    assert missing.returncode == 1
    assert "no such user" in missing.stderr
    team = beeldbel(
        settings, "user", "create", "anouk", "--name", "A", "--role", "worker", "--team", "Mars"
    )
    assert team.returncode == 1
    assert "no such team" in team.stderr
    weak = beeldbel(
        settings, "user", "create", "anouk", "--name", "A", "--role", "worker",
        "--password-stdin", stdin="kort\n",
    )  # fmt: skip
    assert weak.returncode == 1
    assert "at least 10 characters" in weak.stderr
    assert "Traceback" not in missing.stderr + team.stderr + weak.stderr


async def test_demo_staff_sign_in_with_the_printed_secrets_and_seeding_twice_changes_nothing(
    settings: Settings, fclient: TestClient, fixed_clock: FixedClock
) -> None:
    app = app_of(fclient)
    first = await seed_demo(app[appkeys.DATABASE], fixed_clock)
    second = await seed_demo(app[appkeys.DATABASE], fixed_clock)
    assert first.sign_in_help == second.sign_in_help
    help_text = "\n".join(first.sign_in_help)
    assert DEMO_PASSWORD in help_text
    assert "pyotp.TOTP('SECRET').now()" in help_text
    async with app[appkeys.DATABASE].transaction(read_only=True) as db:
        assert len((await db.scalars(select(StaffUserRow))).all()) == len(DEMO_STAFF)

    roles = set()
    for demo in DEMO_STAFF:
        assert demo.totp_secret in help_text
        response = await post(
            fclient, "/api/v1/auth/sign-in", {"username": demo.username, "password": DEMO_PASSWORD}
        )
        body = await response.json()
        assert body["status"] == "second_factor_required"
        code = pyotp.TOTP(demo.totp_secret).at(fixed_clock.now())
        session = await post(
            fclient,
            "/api/v1/auth/second-factor",
            {"challenge": body["challenge"], "code": code, "refresh_delivery": "body"},
        )
        assert session.status == 200, await session.text()
        me = await fclient.get(
            "/api/v1/me",
            headers={"Authorization": f"Bearer {(await session.json())['access_token']}"},
        )
        data = await me.json()
        assert [t["name"] for t in data["teams"]] == [DEMO_TEAM]
        roles |= set(data["roles"])
    assert roles == {"worker", "coordinator", "admin", "privacy_officer"}
