"""Reports and notes in the client's file: written from an appointment with the effectenster
inside, shared or professional, versioned; two workers editing one note at once lose nothing
(acceptance 3); the timeline shows contacts, notes, appointments and consent at a glance."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.contactlog.model import Taking, entries_for_call
from beeldbel.db.repositories.contactlog import SqlContactLog
from beeldbel.db.tables.contactlog import ContactEntryRow
from beeldbel.identity.model import Role
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject
from tests.conftest import auth, token_for

STAR = {"housing": 7, "money": 3, "social_network": 5}


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


@pytest.fixture
async def client_id(world: World) -> str:
    created = await world.create_client(name="Hendrika Brinkhuis")
    await world.set_care_team(created["id"], "anouk", "daan")
    return str(created["id"])


async def visit(world: World, client_id: str, hours: int = 1) -> dict[str, Any]:
    starts = world.clock.now() + timedelta(hours=hours)
    response = await world.http.post(
        "/api/v1/appointments",
        json={
            "kind": "visit",
            "team_id": str(world.home),
            "client_id": client_id,
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=45)).isoformat(),
        },
        headers=world.headers("anouk"),
    )
    assert response.status == 201, await response.text()
    return dict((await response.json())["appointment"])


async def write(world: World, client_id: str, by: str = "anouk", **fields: Any) -> tuple[int, Any]:
    body = {"visibility": "shared", "text": "Gesprek over de thuiszorg.", **fields}
    response = await world.http.post(
        f"/api/v1/clients/{client_id}/notes", json=body, headers=world.headers(by)
    )
    return response.status, await response.json()


async def patch(
    world: World, client_id: str, note_id: str, by: str, **fields: Any
) -> tuple[int, Any]:
    response = await world.http.patch(
        f"/api/v1/clients/{client_id}/notes/{note_id}", json=fields, headers=world.headers(by)
    )
    return response.status, await response.json()


async def timeline(world: World, client_id: str, by: str = "anouk", **params: str) -> Any:
    response = await world.http.get(
        f"/api/v1/clients/{client_id}/timeline", params=params, headers=world.headers(by)
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_report_from_an_appointment_carries_the_effectenster_and_lands_in_the_timeline(
    backend: str, world: World, client_id: str
) -> None:
    appointment = await visit(world, client_id)
    status, report = await write(
        world,
        client_id,
        text="Huisbezoek: mevrouw redt zich, zorgen om de administratie.\nVolgende week bellen.",
        appointment_id=appointment["id"],
        effectenster=STAR,
    )
    assert status == 201, report
    world.clock.advance(timedelta(minutes=2))
    assert report["version"] == 1
    assert report["effectenster"] == STAR
    assert report["appointment_id"] == appointment["id"]
    assert report["created_by"] == subject("anouk")
    status, private = await write(
        world,
        client_id,
        visibility="professional",
        text="Vermoeden van huiselijk geweld; overleg met Veilig Thuis.",
        appointment_id=appointment["id"],
    )
    assert status == 201, private

    read = await world.http.get(
        f"/api/v1/clients/{client_id}/notes/{report['id']}", headers=world.headers("daan")
    )
    assert read.status == 200
    assert (await read.json())["access"]["basis"] == "care_team"

    items = (await timeline(world, client_id))["items"]
    notes = [i["note"] for i in items if i["kind"] == "note"]
    assert [(n["id"], n["visibility"]) for n in notes] == [
        (private["id"], "professional"),
        (report["id"], "shared"),
    ]
    assert notes[1]["effectenster"] == STAR
    planned = [i["appointment"] for i in items if i["kind"] == "appointment"]
    assert [(a["id"], a["status"]) for a in planned] == [(appointment["id"], "planned")]

    creates = await world.audit(event="create", object_type="note")
    assert [(r.actor, r.detail["basis"], r.detail["visibility"]) for r in creates] == [
        (subject("anouk"), "care_team", "shared"),
        (subject("anouk"), "care_team", "professional"),
    ]


async def test_notes_refuse_bad_input_outsiders_and_closed_files(
    backend: str, world: World, client_id: str
) -> None:
    other = await world.create_client(name="Jan Kamphuis")
    elsewhere = await visit(world, other["id"], hours=3)
    cases = [
        ({"effectenster": {"happiness": 5}}, 422),
        ({"effectenster": {"housing": 11}}, 422),
        ({"effectenster": {"housing": 0}}, 422),
        ({"effectenster": {}}, 422),
        ({"text": "   \n  "}, 422),
        ({"text": "x" * 20_001}, 422),
        ({"visibility": "everyone"}, 422),
        ({"appointment_id": elsewhere["id"]}, 404),  # not this client's appointment
        ({"appointment_id": str(uuid.uuid4())}, 404),
        ({"contact_id": str(uuid.uuid4())}, 404),
    ]
    for fields, expected in cases:
        status, body = await write(world, client_id, **fields)
        assert status == expected, (fields, body)
        assert set(body) == {"error"}
    assert (await write(world, client_id, text="x" * 20_000))[0] == 201
    for outsider in ("bart", "femke", "olaf", "joost", "ingrid"):
        assert (await write(world, client_id, by=outsider))[0] == 403, outsider

    status, note = await write(world, client_id)
    closed = await world.http.post(
        f"/api/v1/clients/{client_id}/close", json={"version": 1}, headers=world.headers("anouk")
    )
    assert closed.status == 200, await closed.text()
    assert (await write(world, client_id))[0] == 409
    assert (await patch(world, client_id, note["id"], "anouk", version=1, text="later"))[0] == 409
    # A closed file is still read.
    got = await world.http.get(
        f"/api/v1/clients/{client_id}/notes/{note['id']}", headers=world.headers("anouk")
    )
    assert got.status == 200


async def test_two_workers_edit_one_note_the_second_gets_both_versions_and_merging_loses_nothing(
    backend: str, world: World, client_id: str
) -> None:
    """Acceptance 3."""
    _, note = await write(
        world,
        client_id,
        text="Afspraken:\n- boodschappen: dochter\n- medicatie: apotheek",
        effectenster={"housing": 6},
    )
    # Both open version 1. Anouk saves first.
    status, anouk = await patch(
        world,
        client_id,
        note["id"],
        "anouk",
        version=1,
        text="Afspraken:\n- boodschappen: dochter, op dinsdag\n- medicatie: apotheek",
    )
    assert (status, anouk["version"]) == (200, 2)
    # Daan saves his edit of version 1: refused, with both versions and a merge.
    status, refused = await patch(
        world,
        client_id,
        note["id"],
        "daan",
        version=1,
        text="Afspraken:\n- boodschappen: dochter\n- medicatie: apotheek\n- alarm: aangevraagd",
        effectenster={"housing": 6, "money": 4},
    )
    assert status == 409, refused
    error = refused["error"]
    assert error["code"] == "edit_conflict"
    details = error["details"]
    assert details["current"]["version"] == 2
    assert details["current"]["updated_by"] == subject("anouk")
    assert "op dinsdag" in details["current"]["text"]
    assert "alarm: aangevraagd" in details["yours"]["text"]
    assert details["base"]["version"] == 1
    merged = details["merged"]
    assert merged["clean"] is True
    assert "op dinsdag" in merged["text"]
    assert "alarm: aangevraagd" in merged["text"]
    assert merged["effectenster"] == {"housing": 6, "money": 4}

    status, saved = await patch(
        world,
        client_id,
        note["id"],
        "daan",
        version=details["current"]["version"],
        text=merged["text"],
        effectenster=merged["effectenster"],
    )
    assert (status, saved["version"]) == (200, 3), saved
    assert "op dinsdag" in saved["text"]
    assert "alarm: aangevraagd" in saved["text"]

    history = await world.http.get(
        f"/api/v1/clients/{client_id}/notes/{note['id']}/history", headers=world.headers("anouk")
    )
    versions = (await history.json())["items"]
    assert [(v["version"], v["changed_by"]) for v in versions] == [
        (1, subject("anouk")),
        (2, subject("anouk")),
        (3, subject("daan")),
    ]
    assert "op dinsdag" in versions[1]["text"]
    assert "alarm" not in versions[1]["text"]
    changes = await world.audit(event="change", object_type="note")
    assert [r.actor for r in changes] == [subject("anouk"), subject("daan")]


async def test_when_both_change_the_same_line_both_passages_are_kept_for_the_merge(
    backend: str, world: World, client_id: str
) -> None:
    _, note = await write(world, client_id, text="Stand van zaken: onbekend.")
    assert (await patch(world, client_id, note["id"], "anouk", version=1, text="Stand: stabiel."))[
        0
    ] == 200
    status, refused = await patch(
        world, client_id, note["id"], "daan", version=1, text="Stand: zorgen om valrisico."
    )
    assert status == 409
    merged = refused["error"]["details"]["merged"]
    assert merged["clean"] is False
    assert merged["text"] == "Stand: stabiel.\nStand: zorgen om valrisico."
    assert merged["clashes"] == [
        {"theirs": "Stand: stabiel.", "yours": "Stand: zorgen om valrisico."}
    ]


async def test_concurrent_saves_on_one_version_let_exactly_one_through(
    backend: str, world: World, client_id: str
) -> None:
    """At the database: the conditional update lets one of two simultaneous saves win."""
    _, note = await write(world, client_id, text="Begin.")
    outcomes: Counter[int] = Counter()
    version = 1
    for round_ in range(8):
        results = await asyncio.gather(
            patch(world, client_id, note["id"], "anouk", version=version, text=f"A{round_}"),
            patch(world, client_id, note["id"], "daan", version=version, text=f"D{round_}"),
        )
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 409], results
        outcomes.update(statuses)
        winner = next(body for status, body in results if status == 200)
        loser = next(body for status, body in results if status == 409)
        assert loser["error"]["details"]["current"]["text"] == winner["text"]
        version = winner["version"]
    assert outcomes == Counter({200: 8, 409: 8})
    history = await world.http.get(
        f"/api/v1/clients/{client_id}/notes/{note['id']}/history", headers=world.headers("anouk")
    )
    assert [v["version"] for v in (await history.json())["items"]] == list(range(1, 10))


async def test_new_notes_never_conflict_and_two_people_write_in_one_file_at_once(
    backend: str, world: World, client_id: str
) -> None:
    results = await asyncio.gather(
        *(
            write(world, client_id, by=("anouk", "daan")[i % 2], text=f"Notitie {i}")
            for i in range(12)
        )
    )
    assert [status for status, _ in results] == [201] * 12
    items = (await timeline(world, client_id, kinds="note", limit="50"))["items"]
    assert sorted(i["note"]["text"] for i in items) == sorted(f"Notitie {i}" for i in range(12))


async def test_a_retried_save_with_one_idempotency_key_files_one_note(
    backend: str, world: World, client_id: str
) -> None:
    headers = {**world.headers("anouk"), "Idempotency-Key": uuid.uuid4().hex}
    url = f"/api/v1/clients/{client_id}/notes"
    body = {"visibility": "shared", "text": "Eén keer opgeslagen."}
    first = await world.http.post(url, json=body, headers=headers)
    second = await world.http.post(url, json=body, headers=headers)
    assert (first.status, second.status) == (201, 201)
    assert (await first.json())["id"] == (await second.json())["id"]
    items = (await timeline(world, client_id, kinds="note"))["items"]
    assert len(items) == 1


async def test_emergency_access_reads_notes_but_writes_none(
    backend: str, world: World, client_id: str
) -> None:
    _, note = await write(world, client_id, visibility="professional", text="Alleen voor ons.")
    nina = world.headers("nina")
    url = f"/api/v1/clients/{client_id}"
    assert (await world.http.get(f"{url}/timeline", headers=nina)).status == 403
    pressed = await world.http.post(
        f"{url}/emergency-access",
        json={"reason": "Nachtelijke melding van de buren, cliënt niet bereikbaar"},
        headers=nina,
    )
    assert pressed.status == 201
    read = await timeline(world, client_id, by="nina")
    assert read["access"] == {**read["access"], "basis": "emergency", "flagged": True}
    assert [i["note"]["text"] for i in read["items"] if i["kind"] == "note"] == ["Alleen voor ons."]
    assert (await write(world, client_id, by="nina"))[0] == 403
    assert (await patch(world, client_id, note["id"], "nina", version=1, text="x"))[0] == 403


async def file_attempts(world: World, client_id: str, kinds: list[str]) -> None:
    """Contacts filed as the call service files them: one per (made-up) appointment."""
    async with world.app[appkeys.DATABASE].transaction() as session:
        log = SqlContactLog(session, world.clock.now())
        for n, reason in enumerate(kinds):
            at = world.clock.now() - timedelta(days=len(kinds) - n)
            entries = entries_for_call(
                new_id=uuid.uuid4,
                appointment_id=uuid.uuid4(),
                kind="checkin",
                clients=((uuid.UUID(client_id), None),),
                scheduled_at=at,
                reason=reason,
                started_at=None if reason == "not_joined" else at,
                ended_at=at + timedelta(minutes=10),
                media_path=None,
                reconnects=0,
                people=(Taking("worker", True, subject=subject("anouk")),),
            )
            # Made-up appointments: file without the appointment link.
            await log.file([dataclasses.replace(e, appointment_id=None) for e in entries])


async def test_the_timeline_shows_unanswered_attempts_and_filters_by_kind_and_period(
    backend: str, world: World, client_id: str
) -> None:
    await file_attempts(
        world,
        client_id,
        ["ended_by_host", "not_joined", "ended_by_host", "not_joined", "not_joined", "not_joined"],
    )
    consent = await world.http.post(
        f"/api/v1/clients/{client_id}/consent",
        json={"topic": "video_calls", "decision": "given", "how": "spoken"},
        headers=world.headers("anouk"),
    )
    assert consent.status == 201, await consent.text()
    world.clock.advance(timedelta(minutes=5))
    await write(world, client_id, text="Drie keer niet bereikt; morgen langs.")

    whole = await timeline(world, client_id)
    assert whole["unreached"]["attempts"] == 3
    contacts = [i["contact"] for i in whole["items"] if i["kind"] == "contact"]
    assert [(c["kind"], c["attempt"], c["attempts"]) for c in contacts] == [
        ("not_joined", 3, 3),
        ("not_joined", 2, 3),
        ("not_joined", 1, 3),
        ("call", None, None),
        ("not_joined", None, None),
        ("call", None, None),
    ]
    kinds = [i["kind"] for i in whole["items"]]
    assert kinds[:2] == ["note", "consent"]  # newest first
    ats = [i["at"] for i in whole["items"]]
    assert ats == sorted(ats, reverse=True)

    only = await timeline(world, client_id, kinds="consent,note")
    assert {i["kind"] for i in only["items"]} == {"consent", "note"}
    since = (world.clock.now() - timedelta(days=3, hours=12)).isoformat()
    recent = await timeline(world, client_id, kinds="contact", since=since)
    assert len(recent["items"]) == 3

    # Pages of two walk the whole timeline once, in order.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await timeline(world, client_id, **params)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in whole["items"]]

    for bad in (
        {"kinds": "contact,gossip"},
        {"cursor": "nonsense"},
        {"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
    ):
        response = await world.http.get(
            f"/api/v1/clients/{client_id}/timeline", params=bad, headers=world.headers("anouk")
        )
        assert response.status == 422, bad
    reads = await world.audit(event="read", object_type="timeline")
    assert {r.detail["basis"] for r in reads} == {"care_team"}


async def test_the_file_names_colleagues_not_just_their_ids(backend: str, world: World) -> None:
    """The care team, a note's author, who took part in a contact and who recorded consent
    are shown by name (colleagues see each other's names)."""
    admin = auth(token_for(world.http, Role.ADMIN, subject="staff:setup"))
    created = await world.http.post(
        "/api/v1/users",
        json={
            "username": "marloes",
            "display_name": "Marloes ter Horst",
            "roles": ["worker"],
            "teams": [str(world.home)],
        },
        headers=admin,
    )
    assert created.status == 201, await created.text()
    marloes = f"staff:{(await created.json())['user']['id']}"
    world.membership.teams[marloes] = {world.home}
    headers = auth(token_for(world.http, Role.WORKER, subject=marloes))
    client = await world.create_client(name="Dinie Kampman")
    url = f"/api/v1/clients/{client['id']}"
    team = await (await world.http.get(f"{url}/care-team", headers=world.headers("anouk"))).json()
    put = await world.http.put(
        f"{url}/care-team",
        json={"version": team["version"], "members": [{"subject": marloes, "is_lead": True}]},
        headers=world.headers("anouk"),
    )
    assert put.status == 200, await put.text()
    assert (await put.json())["members"] == [
        {"subject": marloes, "name": "Marloes ter Horst", "is_lead": True}
    ]
    consent = await world.http.post(
        f"{url}/consent",
        json={"topic": "video_calls", "decision": "given", "how": "spoken"},
        headers=headers,
    )
    assert consent.status == 201
    note = await world.http.post(
        f"{url}/notes", json={"visibility": "shared", "text": "Kennismaking."}, headers=headers
    )
    assert (await note.json())["created_by_name"] == "Marloes ter Horst"
    await file_attempts(world, client["id"], ["ended_by_host"])
    async with world.app[appkeys.DATABASE].transaction() as session:
        await session.execute(
            update(ContactEntryRow).values(
                people=[{"role": "worker", "took_part": True, "subject": marloes}]
            )
        )
    items = (await (await world.http.get(f"{url}/timeline", headers=headers)).json())["items"]
    by_kind = {i["kind"]: i for i in items}
    assert by_kind["note"]["note"]["created_by_name"] == "Marloes ter Horst"
    assert by_kind["consent"]["consent"]["recorded_by_name"] == "Marloes ter Horst"
    assert by_kind["contact"]["contact"]["people"][0]["name"] == "Marloes ter Horst"
    overview = await (await world.http.get(f"{url}/consent", headers=headers)).json()
    assert overview["history"][0]["recorded_by_name"] == "Marloes ter Horst"
    contacts = await (await world.http.get(f"{url}/contacts", headers=headers)).json()
    assert contacts["items"][0]["people"][0]["name"] == "Marloes ter Horst"
