"""A retried request that carried client data is replayed only after the policy says yes again,
and the replay is audited: an Idempotency-Key is no way around NEN 7513 or a revoked access."""

from __future__ import annotations

from typing import Any

import pytest

from beeldbel.clock import FixedClock
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def test_a_replayed_client_answer_is_authorized_and_audited_again(
    backend: str, world: World
) -> None:
    body = {"team_id": str(world.home), "name": "Gerrit Nijhuis", "legal_basis": "wmo_2015"}
    headers = world.headers("anouk") | {"Idempotency-Key": "open-gerrit"}
    first = await world.http.post("/api/v1/clients", json=body, headers=headers)
    assert first.status == 201, await first.text()
    client = await first.json()

    replay = await world.http.post("/api/v1/clients", json=body, headers=headers)
    assert replay.status == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == client
    audited = await world.audit(event="read", object_type="idempotent_replay")
    assert [(e.actor, str(e.client_id)) for e in audited] == [(subject("anouk"), client["id"])]

    # Anouk leaves the care team: her retry must no longer show the file.
    url = f"/api/v1/clients/{client['id']}/care-team"
    team = await (await world.http.get(url, headers=world.headers("femke"))).json()
    moved = await world.http.put(
        url,
        json={
            "version": team["version"],
            "members": [{"subject": subject("daan"), "is_lead": True}],
        },
        headers=world.headers("femke"),
    )
    assert moved.status == 200, await moved.text()
    refused = await world.http.post("/api/v1/clients", json=body, headers=headers)
    assert refused.status == 403
    assert "Gerrit" not in await refused.text()
    denied = await world.audit(event="access_denied", actor=subject("anouk"))
    assert denied


async def test_a_replay_of_an_answer_without_client_data_needs_no_grant(world: World) -> None:
    headers = world.headers("joost") | {"Idempotency-Key": "team-once"}
    body = {"name": "Wijkteam Rijssen", "municipalities": ["Rijssen-Holten"]}
    first = await world.http.post("/api/v1/teams", json=body, headers=headers)
    again = await world.http.post("/api/v1/teams", json=body, headers=headers)
    assert first.status == again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
