"""Acceptance 4 (issue 8): every read of a client's file writes an audit entry naming the grant
it was made with: care team, handover (on behalf of whom) or emergency (with its reason).

The reads are found by walking the route table: every GET whose path names a client, so a
read added later is checked without anyone listing it here.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from beeldbel.clock import FixedClock
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject

PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
REASON = "Alarmcentrale meldt een val, de dochter is niet bereikbaar"


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def prepared(world: World) -> tuple[str, dict[str, str]]:
    """A client with one of everything a read can return; the ids to fill paths with."""
    http, anouk = world.http, world.headers("anouk")
    client = await world.create_client(name="Willem Oude Wesselink")
    await world.set_care_team(client["id"], "anouk")
    url = f"/api/v1/clients/{client['id']}"
    member = await http.post(
        f"{url}/network", json={"name": "Riet", "roles": ["mantelzorger"]}, headers=anouk
    )
    note = await http.post(
        f"{url}/notes", json={"visibility": "shared", "text": "Verslag."}, headers=anouk
    )
    assert (member.status, note.status) == (201, 201)
    return client["id"], {
        "client_id": client["id"],
        "member_id": (await member.json())["id"],
        "note_id": (await note.json())["id"],
    }


def file_reads(world: World) -> list[str]:
    app = world.http.app
    assert app is not None
    return sorted(
        {
            route.resource.canonical
            for route in app.router.routes()
            if route.method == "GET"
            and route.resource is not None
            and "{client_id}" in route.resource.canonical
        }
    )


async def read_all(world: World, who: str, ids: dict[str, str]) -> dict[str, list[Any]]:
    """Each file read as ``who``: the audit entries it wrote, by path."""
    written: dict[str, list[Any]] = {}
    for path in file_reads(world):
        url = PARAM.sub(lambda m: ids[m.group(1)], path)
        request_id = uuid.uuid4().hex
        response = await world.http.get(
            url, headers={**world.headers(who), "X-Request-ID": request_id}
        )
        assert response.status == 200, (who, url, await response.text())
        written[path] = await world.audit(request_id=request_id)
    return written


async def test_every_file_read_names_its_grant_care_team_handover_and_emergency(
    backend: str, world: World
) -> None:
    client_id, ids = await prepared(world)
    reads = file_reads(world)
    assert len(reads) >= 9  # record, network, care team, consent, contacts, notes, timeline...

    expected: dict[str, dict[str, Any]] = {
        "anouk": {"basis": "care_team", "on_behalf_of": None},
        "bart": {"basis": "handover", "on_behalf_of": subject("anouk")},
        "nina": {"basis": "emergency", "on_behalf_of": None, "emergency_reason": REASON},
    }
    start = world.clock.now()
    handover = await world.http.post(
        "/api/v1/handovers",
        json={
            "from_subject": subject("anouk"),
            "to_subject": subject("bart"),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=3)).isoformat(),
        },
        headers=world.headers("femke"),
    )
    assert handover.status == 201, await handover.text()
    pressed = await world.http.post(
        f"/api/v1/clients/{client_id}/emergency-access",
        json={"reason": REASON},
        headers=world.headers("nina"),
    )
    assert pressed.status == 201, await pressed.text()

    for who, grant in expected.items():
        for path, entries in (await read_all(world, who, ids)).items():
            reads_of_file = [
                e for e in entries if e.event in ("read", "search") and e.client_id is not None
            ]
            assert reads_of_file, (who, path, "no audit entry")
            for entry in reads_of_file:
                assert str(entry.client_id) == client_id, (who, path)
                assert entry.actor == subject(who), (who, path)
                assert entry.outcome == "success"
                assert entry.detail["basis"] == grant["basis"], (who, path, entry.detail)
                assert entry.on_behalf_of == grant["on_behalf_of"], (who, path)
                if "emergency_reason" in grant:
                    assert entry.detail["emergency_reason"] == REASON, (who, path)
