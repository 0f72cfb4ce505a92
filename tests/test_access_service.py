"""The access policy fed from the database: who reaches a client's data, why, and until when.
Every refusal leaves an ACCESS_DENIED entry; every success an entry with the grant's basis."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest

from beeldbel.access.model import Action, Category
from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.db.repositories.clients import SqlClientFile
from beeldbel.errors import Forbidden
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, request_id, subject


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


@pytest.fixture
async def client_id(world: World) -> str:
    created = await world.create_client()
    await world.set_care_team(created["id"], "anouk", "daan")
    return str(created["id"])


async def test_the_care_team_reads_and_changes_with_the_care_team_basis(
    backend: str, world: World, client_id: str
) -> None:
    url = f"/api/v1/clients/{client_id}"
    for name in ("anouk", "daan"):
        read = await world.http.get(url, headers=world.headers(name))
        assert read.status == 200
        assert (await read.json())["access"]["basis"] == "care_team"
    network = await world.http.post(
        f"{url}/network",
        json={"name": "Ans", "roles": ["mantelzorger"]},
        headers=world.headers("daan"),
    )
    assert network.status == 201


@pytest.mark.parametrize(
    ("name", "second_factor", "why"),
    [
        ("bart", True, "you are not in this client's care team"),  # same team, not care team
        ("olaf", True, "you are not in this client's care team"),  # another team
        ("joost", True, "client data is for care workers and coordinators"),  # admin
        ("ingrid", True, "client data is for care workers and coordinators"),  # privacy officer
        ("anouk", False, "sign in with your second factor first"),  # care team, no 2nd factor
    ],
)
async def test_those_outside_the_care_team_are_refused_and_the_refusal_is_audited(
    backend: str, world: World, client_id: str, name: str, second_factor: bool, why: str
) -> None:
    url = f"/api/v1/clients/{client_id}"
    headers = world.headers(name, second_factor=second_factor)
    reads_before = await world.audit(event="read", actor=subject(name))
    for method, path, body in (
        ("GET", url, None),
        ("PATCH", url, {"version": 1, "name": "X"}),
        ("GET", f"{url}/network", None),
        ("GET", f"{url}/consent", None),
        ("GET", f"{url}/care-team", None),
    ):
        response = await world.http.request(method, path, json=body, headers=headers)
        assert response.status == 403, (method, path, await response.text())
        error = (await response.json())["error"]
        assert error["code"] == "forbidden"
        assert error["details"]["reason"] == why
    denied = await world.audit(event="access_denied", actor=subject(name))
    assert len(denied) == 5
    assert {str(row.client_id) for row in denied} == {client_id}
    assert {row.outcome for row in denied} == {"denied"}
    assert {row.detail["reason"] for row in denied} == {why}
    assert len(await world.audit(event="read", actor=subject(name))) == len(reads_before)


async def test_admin_and_privacy_officer_cannot_even_search_clients(
    backend: str, world: World, client_id: str
) -> None:
    for name in ("joost", "ingrid"):
        response = await world.http.get("/api/v1/clients", headers=world.headers(name))
        assert response.status == 403
        denied = await world.audit(event="access_denied", actor=subject(name))
        assert [(row.client_id, row.detail["action"]) for row in denied] == [(None, "search")]


async def test_a_coordinator_of_the_team_reads_the_record_but_not_the_care_file(
    backend: str, world: World, client_id: str
) -> None:
    read = await world.http.get(f"/api/v1/clients/{client_id}", headers=world.headers("femke"))
    assert read.status == 200
    assert (await read.json())["access"]["basis"] == "team_coordination"
    other_team = await world.http.get(
        f"/api/v1/clients/{client_id}", headers=world.headers("gerda")
    )
    assert other_team.status == 403
    access = world.access
    async with access.transaction() as session:
        grant = await access.grant(
            session, world.principal("femke"), uuid.UUID(client_id), Action.READ, Category.RECORD
        )
    assert grant.basis.value == "team_coordination"
    with pytest.raises(Forbidden):
        async with access.transaction() as session:
            await access.grant(
                session,
                world.principal("femke"),
                uuid.UUID(client_id),
                Action.READ,
                Category.CARE_FILE,
            )
    denied = await world.audit(event="access_denied", actor=subject("femke"))
    assert [row.detail["category"] for row in denied] == ["care_file"]


async def test_a_handover_grants_access_only_during_its_period_on_behalf_of_the_colleague(
    backend: str, world: World, client_id: str
) -> None:
    start = world.clock.now() + timedelta(hours=1)
    created = await world.http.post(
        "/api/v1/handovers",
        json={
            "from_subject": subject("anouk"),
            "to_subject": subject("bart"),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=7)).isoformat(),
        },
        headers=world.headers("femke"),
    )
    assert created.status == 201, await created.text()
    handover = await created.json()
    assert (handover["created_by"], handover["active"]) == (subject("femke"), False)
    url = f"/api/v1/clients/{client_id}"

    assert (await world.http.get(url, headers=world.headers("bart"))).status == 403
    world.clock.advance(timedelta(hours=2))
    during = await world.http.get(url, headers={**world.headers("bart"), **request_id()})
    assert during.status == 200
    access = (await during.json())["access"]
    assert access["basis"] == "handover"
    assert access["on_behalf_of"] == subject("anouk")
    assert access["expires_at"] is not None
    reads = await world.audit(event="read", actor=subject("bart"))
    assert [(r.on_behalf_of, r.detail["basis"]) for r in reads] == [(subject("anouk"), "handover")]
    listed = await world.http.get("/api/v1/clients", headers=world.headers("bart"))
    assert [c["id"] for c in (await listed.json())["items"]] == [client_id]

    world.clock.advance(timedelta(days=7))
    assert (await world.http.get(url, headers=world.headers("bart"))).status == 403
    listed = await world.http.get("/api/v1/clients", headers=world.headers("bart"))
    assert (await listed.json())["items"] == []


async def test_who_may_hand_over_whose_clients_to_whom(
    backend: str, world: World, client_id: str
) -> None:
    start = world.clock.now()

    async def hand_over(by: str, giver: str, taker: str) -> int:
        response = await world.http.post(
            "/api/v1/handovers",
            json={
                "from_subject": subject(giver),
                "to_subject": subject(taker),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(days=1)).isoformat(),
            },
            headers=world.headers(by),
        )
        return response.status

    assert await hand_over("anouk", "anouk", "daan") == 201  # the worker themself
    assert await hand_over("femke", "daan", "bart") == 201  # a coordinator of the team
    assert await hand_over("bart", "anouk", "bart") == 403  # a colleague cannot take clients
    assert await hand_over("gerda", "anouk", "olaf") == 403  # a coordinator of another team
    assert await hand_over("anouk", "anouk", "olaf") == 422  # not a colleague
    assert await hand_over("joost", "joost", "anouk") == 403  # an admin has no clients
    mine = await world.http.get("/api/v1/handovers", headers=world.headers("daan"))
    assert len((await mine.json())["items"]) == 2  # to daan and from daan
    theirs = await world.http.get(
        "/api/v1/handovers", params={"subject": subject("anouk")}, headers=world.headers("femke")
    )
    assert [h["to_subject"] for h in (await theirs.json())["items"]] == [subject("daan")]
    nosy = await world.http.get(
        "/api/v1/handovers", params={"subject": subject("anouk")}, headers=world.headers("bart")
    )
    assert nosy.status == 403
    changes = await world.audit(event="change", object_type="handover")
    assert len(changes) == 2


async def test_emergency_access_needs_a_reason_is_flagged_read_only_and_expires(
    backend: str, world: World, client_id: str
) -> None:
    url = f"/api/v1/clients/{client_id}"
    press = f"{url}/emergency-access"
    nina = world.headers("nina")
    assert (await world.http.get(url, headers=nina)).status == 403
    assert (await world.http.post(press, json={}, headers=nina)).status == 422
    assert (await world.http.post(press, json={"reason": "  nood "}, headers=nina)).status == 422
    reason = "Valmelding via alarmcentrale om 02:10, dochter niet bereikbaar"
    pressed = await world.http.post(press, json={"reason": reason}, headers=nina)
    assert pressed.status == 201, await pressed.text()
    emergency = await pressed.json()
    assert (emergency["reason"], emergency["flagged"], emergency["active"]) == (reason, True, True)

    read = await world.http.get(url, headers=world.headers("nina"))
    assert read.status == 200
    access = (await read.json())["access"]
    assert (access["basis"], access["flagged"]) == ("emergency", True)
    assert access["expires_at"] == emergency["ends_at"]
    change = await world.http.patch(
        url, json={"version": 1, "name": "X"}, headers=world.headers("nina")
    )
    assert change.status == 403  # reading only

    flagged = await world.audit(event="emergency_access")
    assert [(r.actor, r.detail["basis"], r.detail["emergency_reason"]) for r in flagged] == [
        (subject("nina"), "emergency", reason)
    ]
    reads = await world.audit(event="read", actor=subject("nina"))
    assert {r.detail["basis"] for r in reads} == {"emergency"}

    world.clock.advance(timedelta(hours=4))
    assert (await world.http.get(url, headers=world.headers("nina"))).status == 403


async def test_emergency_accesses_are_shown_to_the_care_team_and_the_privacy_officer(
    backend: str, world: World, client_id: str
) -> None:
    url = f"/api/v1/clients/{client_id}"
    reason = "Buurvrouw belt: meneer reageert niet, deur op slot"
    pressed = await world.http.post(
        f"{url}/emergency-access", json={"reason": reason}, headers=world.headers("nina")
    )
    assert pressed.status == 201
    for name in ("anouk", "daan", "ingrid"):
        shown = await world.http.get(f"{url}/emergency-accesses", headers=world.headers(name))
        assert shown.status == 200, (name, await shown.text())
        items = (await shown.json())["items"]
        assert [(i["subject"], i["reason"], i["flagged"]) for i in items] == [
            (subject("nina"), reason, True)
        ]
        recent = await world.http.get("/api/v1/emergency-accesses", headers=world.headers(name))
        assert [i["client_id"] for i in (await recent.json())["items"]] == [client_id]
    privacy = await world.audit(event="read", actor=subject("ingrid"))
    assert {r.detail["basis"] for r in privacy} == {"privacy_officer"}
    for name in ("bart", "joost"):
        hidden = await world.http.get(f"{url}/emergency-accesses", headers=world.headers(name))
        assert hidden.status == 403
    outside = await world.http.get("/api/v1/emergency-accesses", headers=world.headers("olaf"))
    assert (await outside.json())["items"] == []


async def test_only_a_worker_outside_the_care_team_can_press_the_noodknop(
    backend: str, world: World, client_id: str
) -> None:
    press = f"/api/v1/clients/{client_id}/emergency-access"
    reason = {"reason": "Nachtelijke melding van de thuiszorg, dossier nodig"}
    admin = await world.http.post(press, json=reason, headers=world.headers("joost"))
    assert admin.status == 403
    no_factor = await world.http.post(
        press, json=reason, headers=world.headers("nina", second_factor=False)
    )
    assert no_factor.status == 403
    member = await world.http.post(press, json=reason, headers=world.headers("anouk"))
    assert member.status == 409
    listed = await world.http.get(
        f"/api/v1/clients/{client_id}/emergency-accesses", headers=world.headers("ingrid")
    )
    assert (await listed.json())["items"] == []  # refused presses left no access behind
    denied = await world.audit(event="access_denied")
    assert {r.actor for r in denied} == {subject("joost"), subject("nina")}


async def test_every_successful_client_request_left_an_audit_entry_with_its_basis(
    backend: str, world: World, client_id: str
) -> None:
    url = f"/api/v1/clients/{client_id}"
    requests: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("GET", "/api/v1/clients", None, "anouk"),
        ("GET", url, None, "anouk"),
        ("PATCH", url, {"version": 1, "phone": "0547 271 430"}, "daan"),
        ("GET", f"{url}/network", None, "femke"),
        ("POST", f"{url}/network", {"name": "Ans", "roles": ["family"]}, "anouk"),
        ("GET", f"{url}/care-team", None, "femke"),
        (
            "POST",
            f"{url}/consent",
            {"topic": "recording", "decision": "given", "how": "signed"},
            "anouk",
        ),
        ("GET", f"{url}/consent", None, "daan"),
        ("GET", f"{url}/emergency-accesses", None, "ingrid"),
    ]
    for method, path, body, name in requests:
        tag = request_id()
        response = await world.http.request(
            method, path, json=body, headers={**world.headers(name), **tag}
        )
        assert response.status < 300, (method, path, await response.text())
        rows = await world.audit(request_id=tag["X-Request-ID"])
        assert rows, (method, path)
        assert all(r.actor == subject(name) for r in rows)
        assert all(r.detail["basis"] for r in rows)
        assert all(str(r.client_id) == client_id for r in rows)


async def test_no_path_around_the_policy_a_repository_demands_a_fitting_grant(
    backend: str, world: World, client_id: str
) -> None:
    other = await world.create_client(name="Sem Kamphuis")
    access, db = world.access, world.app[appkeys.DATABASE]
    async with access.transaction() as session:
        grant = await access.grant(
            session, world.principal("daan"), uuid.UUID(client_id), Action.READ, Category.RECORD
        )
    async with db.transaction() as session:
        file = SqlClientFile(session, access.audit, world.clock.now())
        assert (await file.get(grant, uuid.UUID(client_id))).id == uuid.UUID(client_id)
        with pytest.raises(Forbidden):
            await file.get(grant, uuid.UUID(other["id"]))  # another client
        narrowed = dataclasses.replace(grant, actions=frozenset({Action.SEARCH}))
        with pytest.raises(Forbidden):
            await file.get(narrowed, uuid.UUID(client_id))  # another action
        expired = dataclasses.replace(grant, expires_at=world.clock.now())
        with pytest.raises(Forbidden):
            await file.network(expired, uuid.UUID(client_id))  # an expired grant
