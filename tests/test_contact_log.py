"""Every contact is filed from its event, once: a completed call, a check-in the client never
joined (and whether they opened the link), a home visit; delivered twice, filed once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from beeldbel.api.calls import CALLS
from beeldbel.clock import FixedClock
from beeldbel.settings import Settings
from tests.clients_support import World, make_world
from tests.test_call_signaling import NOW, in_call, scheduled_call


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock, backend: str
) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def contacts(world: World, client_id: str, by: str = "anouk") -> Any:
    response = await world.http.get(
        f"/api/v1/clients/{client_id}/contacts", headers=world.headers(by)
    )
    return response.status, await response.json()


async def test_a_call_and_a_check_in_nobody_joined_are_filed_once_each(
    world: World, peers: Any
) -> None:
    appointment, worker, _ = await in_call(world, peers)
    client_id = appointment["client"]["id"]
    world.clock.advance(timedelta(minutes=14))
    assert (await worker.send("end", {"id": "e"}))["ok"] is True
    await worker.wait_for("call", lambda c: c["phase"] == "ended")

    # A second check-in with the same client an hour later: the client opens the link early,
    # then never comes.
    missed = await scheduled_call(
        world,
        client_id,
        starts_at=(NOW + timedelta(hours=1)).isoformat(),
        ends_at=(NOW + timedelta(hours=1, minutes=30)).isoformat(),
    )
    links = await world.http.get(
        f"/api/v1/appointments/{missed['id']}/links", headers=world.headers("anouk")
    )
    code = next(i["path"] for i in (await links.json())["items"] if i["role"] == "client")
    assert (await world.http.post("/api/v1/join", json={"code": code.split("#")[1]})).status == 200
    world.clock.advance(timedelta(hours=2))
    service = world.app[CALLS]
    assert await service.close_unjoined() == 1

    # The events arrive a second time: nothing new is filed.
    await service.file_outcome(UUID(appointment["id"]))
    await service.file_outcome(UUID(missed["id"]))

    status, log = await contacts(world, client_id)
    assert status == 200, log
    kinds = [(e["kind"], e["appointment_id"]) for e in log["items"]]
    assert kinds == [("not_joined", missed["id"]), ("call", appointment["id"])]
    call = log["items"][1]
    assert call["duration_s"] == 14 * 60
    assert call["ended_because"] == "ended_by_host"
    assert sorted((p["role"], p["took_part"]) for p in call["people"]) == [
        ("client", True),
        ("worker", True),
    ]
    not_joined = log["items"][0]
    client = next(p for p in not_joined["people"] if p["role"] == "client")
    assert client == {**client, "took_part": False, "opened_link": True}
    # The client's timeline shows both, once each, without anyone having typed them.
    timeline = await world.http.get(
        f"/api/v1/clients/{client_id}/timeline",
        params={"kinds": "contact"},
        headers=world.headers("anouk"),
    )
    shown = [
        (i["contact"]["kind"], i["contact"]["appointment_id"])
        for i in (await timeline.json())["items"]
    ]
    assert shown == [("not_joined", missed["id"]), ("call", appointment["id"])]
    # The coordinator plans but does not read the care file.
    assert (await contacts(world, client_id, by="femke"))[0] == 403


async def test_a_home_visit_is_filed_when_its_outcome_is_recorded(world: World) -> None:
    client = await world.create_client(name="Hendrik Oude Lenferink")
    await world.set_care_team(client["id"], "anouk")
    response = await world.http.post(
        "/api/v1/appointments",
        json={
            "kind": "visit",
            "team_id": str(world.home),
            "client_id": client["id"],
            "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(minutes=45)).isoformat(),
        },
        headers=world.headers("anouk"),
    )
    visit = (await response.json())["appointment"]
    world.clock.advance(timedelta(hours=1))
    done = await world.http.post(
        f"/api/v1/appointments/{visit['id']}/outcome",
        json={"version": visit["version"], "status": "completed"},
        headers=world.headers("anouk"),
    )
    assert done.status == 200, await done.text()
    status, log = await contacts(world, client["id"])
    assert status == 200
    assert [(e["kind"], e["duration_s"]) for e in log["items"]] == [("visit", 45 * 60)]
