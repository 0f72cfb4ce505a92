"""A call whose two participants are connected to two different server processes (PostgreSQL
for the call's state, Redis for Socket.IO between the processes): the cue, the admission and
the negotiation reach the other process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import aiohttp
import pytest

from beeldbel.identity.model import Role
from beeldbel.media.participant import TestParticipant
from tests.browser.conftest import Server
from tests.test_agenda_conflicts import demo_facts, staff_token, two_processes

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def two_servers(
    tmp_path: Path, pg_template: str, spent_pg_databases: list[str]
) -> Iterator[tuple[Server, Server, str]]:
    with two_processes(
        tmp_path, pg_template, spent_pg_databases, redis_url="redis://127.0.0.1:6379/0"
    ) as servers:
        yield servers


async def test_a_call_across_two_processes(two_servers: tuple[Server, Server, str]) -> None:
    first, second, url = two_servers
    facts = await demo_facts(url)
    anouk = facts["users"]["anouk"]
    headers = staff_token(first.data_dir, anouk, Role.WORKER)
    # A call that starts now, booked through one process and joined through both.
    async with aiohttp.ClientSession() as session:
        async with session.post(
            second.url("/api/v1/calls"),
            json={"client_id": facts["clients"][1]},
            headers=headers,
        ) as response:
            assert response.status == 201, await response.text()
            appointment = await response.json()
        async with session.get(
            first.url(f"/api/v1/appointments/{appointment['id']}/links"), headers=headers
        ) as response:
            links = {i["role"]: i["path"] for i in (await response.json())["items"]}
        async with session.post(
            second.url("/api/v1/join"), json={"code": links["client"].split("#")[1]}
        ) as response:
            token = (await response.json())["token"]
    worker_auth = {
        "appointment_id": appointment["id"],
        "access_token": headers["Authorization"].removeprefix("Bearer "),
    }
    client_auth = {"appointment_id": appointment["id"], "join_token": token}
    client_id = UUID(next(p["id"] for p in appointment["participants"] if p["role"] == "client"))
    worker_id = UUID(next(p["id"] for p in appointment["participants"] if p["role"] == "worker"))
    async with (
        TestParticipant(first.url("/"), worker_auth) as worker,
        TestParticipant(second.url("/"), client_auth) as client,
    ):
        await worker.until(lambda: any(e == "cue" for e, _ in worker.events))
        assert (await worker.admit(client_id))["ok"] is True
        await client.until(lambda: client.received_from(worker_id).video_frames >= 5, 30)
        await worker.until(lambda: worker.received_from(client_id).video_frames >= 5, 30)
        assert (await worker.send("end"))["ok"] is True
        await client.until(lambda: client.call.get("phase") == "ended")
