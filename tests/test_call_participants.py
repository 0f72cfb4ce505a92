"""Two aiortc participants (the Python test participant) hold a real call through Beeldbel's
signaling: the client waits, the worker admits, media flows both ways, the worker ends it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.db.tables.calls import CallOutcomeRow
from beeldbel.media.participant import TestParticipant
from beeldbel.settings import Settings
from tests.clients_support import World, make_world
from tests.test_call_signaling import join_token, pid, scheduled_call, worker_auth

pytestmark = pytest.mark.slow


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def test_two_aiortc_participants_talk_through_our_signaling(world: World) -> None:
    appointment = await scheduled_call(world)
    url = str(world.http.make_url("/"))
    client_auth = {
        "appointment_id": appointment["id"],
        "join_token": await join_token(world, appointment),
    }
    async with (
        TestParticipant(url, worker_auth(world, appointment)) as worker,
        TestParticipant(url, client_auth) as client,
    ):
        client_id = UUID(pid(appointment, "client"))
        worker_id = UUID(pid(appointment, "worker"))
        await client.until(lambda: client.status() == "waiting")
        assert (await worker.admit(client_id))["ok"] is True
        await client.until(lambda: client.received_from(worker_id).video_frames >= 10, 30)
        await worker.until(lambda: worker.received_from(client_id).video_frames >= 10, 30)
        await worker.until(lambda: worker.received_from(client_id).audio_frames >= 25, 30)
        await client.until(lambda: client.received_from(worker_id).audio_frames >= 25, 30)
        assert (await worker.send("end"))["ok"] is True
        await client.until(lambda: client.call.get("phase") == "ended")
    async with world.app[appkeys.DATABASE].transaction(read_only=True) as session:
        outcomes = (await session.scalars(select(CallOutcomeRow))).all()
    assert [o.reason for o in outcomes] == ["ended_by_host"]
