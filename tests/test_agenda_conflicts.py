"""No double booking under load, decided by the database: two server processes on one
PostgreSQL database get 200 concurrent bookings whose slots all share one instant.

Exactly one is booked and 199 are answered 409 naming it: first for one worker (with
different clients), then for one client (with different workers). A cancelled appointment
no longer blocks. SQLite serves one process (the service refuses more), where writing
transactions cannot interleave; the database-level refusal itself is shown on both
databases in ``tests/test_agenda_api.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from beeldbel.identity.keys import Keyring
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.identity.tokens import TokenService
from tests.browser.conftest import Server, start_server, stop_server
from tests.conftest import _asyncpg_dsn, create_pg_database, pg_database_url, run_async

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REQUESTS = 200


@contextmanager
def two_processes(
    tmp_path: Path, pg_template: str, spent: list[str], **settings: str
) -> Iterator[tuple[Server, Server, str]]:
    """Two ``beeldbel serve`` processes on one new PostgreSQL database, with the same keys."""
    name = run_async(create_pg_database(pg_template))
    spent.append(name)
    url = pg_database_url(name)
    data = tmp_path / "data"
    data.mkdir()
    first = start_server(data, database_url=url, **settings)
    try:
        second = start_server(data, database_url=url, **settings)
        try:
            yield first, second, url
        finally:
            stop_server(second)
    finally:
        stop_server(first)


@pytest.fixture
def two_servers(
    tmp_path: Path, pg_template: str, spent_pg_databases: list[str]
) -> Iterator[tuple[Server, Server, str]]:
    with two_processes(tmp_path, pg_template, spent_pg_databases) as servers:
        yield servers


def staff_token(data_dir: Path, subject: str, *roles: Role) -> dict[str, str]:
    tokens = TokenService(
        Keyring.load_or_create(data_dir / "keys"),
        issuer="beeldbel",
        audience="beeldbel-api",
        lifetime=timedelta(minutes=10),
    )
    principal = Principal(subject, PrincipalKind.STAFF, frozenset(roles), second_factor=True)
    return {"Authorization": f"Bearer {tokens.issue(principal, datetime.now(UTC))}"}


async def demo_facts(url: str) -> dict[str, Any]:
    """Who is who in the demo data: Anouk and Daan, their team, and Anouk's clients."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        users = {
            row["username"]: f"staff:{row['id']}"
            for row in await connection.fetch("SELECT id, username FROM staff_users")
        }
        team = await connection.fetchval(
            "SELECT team_id FROM team_memberships m JOIN staff_users u ON u.id = m.user_id "
            "WHERE u.username = 'anouk'"
        )
        clients = [
            str(row["client_id"])
            for row in await connection.fetch(
                "SELECT client_id FROM care_team_members WHERE subject = $1 ORDER BY client_id",
                users["anouk"],
            )
        ]
    finally:
        await connection.close()
    return {"users": users, "team": str(team), "clients": clients}


async def burst(
    servers: tuple[Server, Server], headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """Every body POSTed at once, alternately to each process."""
    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            await start.wait()
            url = servers[index % 2].url("/api/v1/appointments")
            async with session.post(url, json=body, headers=headers) as response:
                return response.status, await response.json()

        tasks = [asyncio.create_task(one(i, body)) for i, body in enumerate(bodies)]
        await asyncio.sleep(0.2)
        start.set()
        return await asyncio.gather(*tasks)


def slots_sharing(instant: datetime, count: int) -> list[tuple[str, str]]:
    """``count`` different slots, each containing ``instant``."""
    return [
        (
            (instant - timedelta(minutes=10) + timedelta(seconds=2 * i)).isoformat(),
            (instant + timedelta(minutes=5) + timedelta(seconds=3 * i)).isoformat(),
        )
        for i in range(count)
    ]


def outcome(answers: list[tuple[int, dict[str, Any]]]) -> tuple[Counter[int], list[str], set[str]]:
    statuses = Counter(status for status, _ in answers)
    booked = [body["appointment"]["id"] for status, body in answers if status == 201]
    named = {
        conflict["appointment_id"]
        for status, body in answers
        if status == 409
        for conflict in body["error"]["details"]["conflicts"]
    }
    return statuses, booked, named


async def test_two_hundred_concurrent_bookings_through_two_processes_book_one(
    two_servers: tuple[Server, Server, str],
) -> None:
    first, second, url = two_servers
    facts = await demo_facts(url)
    anouk, daan = facts["users"]["anouk"], facts["users"]["daan"]
    clients = facts["clients"]
    assert len(clients) >= 2, facts
    headers = staff_token(first.data_dir, anouk, Role.WORKER)
    instant = datetime.now(UTC).replace(microsecond=0) + timedelta(days=200)

    # One worker, different clients.
    bodies = [
        {
            "kind": "checkin",
            "team_id": facts["team"],
            "client_id": clients[i % len(clients)],
            "starts_at": starts,
            "ends_at": ends,
            "override_hours": True,
        }
        for i, (starts, ends) in enumerate(slots_sharing(instant, REQUESTS))
    ]
    statuses, booked, named = outcome(await burst((first, second), headers, bodies))
    assert statuses == Counter({201: 1, 409: REQUESTS - 1}), statuses
    assert named == set(booked)

    # One client, different workers (Anouk books for herself or for Daan).
    later = instant + timedelta(days=1)
    bodies = [
        {
            "kind": "checkin",
            "team_id": facts["team"],
            "client_id": clients[0],
            "workers": [anouk if i % 2 else daan],
            "starts_at": starts,
            "ends_at": ends,
            "override_hours": True,
        }
        for i, (starts, ends) in enumerate(slots_sharing(later, REQUESTS))
    ]
    statuses, booked_client, named = outcome(await burst((first, second), headers, bodies))
    assert statuses == Counter({201: 1, 409: REQUESTS - 1}), statuses
    assert named == set(booked_client)

    # Cancelled, the slot is free again: exactly one of a new burst gets it.
    async with aiohttp.ClientSession() as session:
        async with session.get(
            second.url(f"/api/v1/appointments/{booked[0]}"), headers=headers
        ) as response:
            version = (await response.json())["version"]
        async with session.post(
            first.url(f"/api/v1/appointments/{booked[0]}/cancel"),
            json={"version": version},
            headers=headers,
        ) as response:
            assert response.status == 200
    retry = [
        {
            "kind": "checkin",
            "team_id": facts["team"],
            "client_id": clients[1],
            "starts_at": starts,
            "ends_at": ends,
            "override_hours": True,
        }
        for starts, ends in slots_sharing(instant, 20)
    ]
    statuses, _, _ = outcome(await burst((first, second), headers, retry))
    assert statuses == Counter({201: 1, 409: 19}), statuses
