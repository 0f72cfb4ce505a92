"""The agenda over HTTP: appointments, series across daylight-saving changes, conflicts
answered with 409 naming the appointment in the way, working hours, guests and consent,
join links and join tokens, ad-hoc calls, access and audit. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from beeldbel.api import appkeys
from beeldbel.clock import FixedClock
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 in Amsterdam


@pytest.fixture
async def world(
    aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock, backend: str
) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


@pytest.fixture
async def client_id(world: World) -> str:
    created = await world.create_client(name="Gerrit Nijhuis")
    await world.set_care_team(created["id"], "anouk", "daan")
    return str(created["id"])


@pytest.fixture
async def other_client(world: World) -> str:
    created = await world.create_client(name="Truus Oude Egberink")
    await world.set_care_team(created["id"], "anouk")
    return str(created["id"])


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> str:
    return (NOW + timedelta(days=days, hours=hours, minutes=minutes)).isoformat()


async def book(world: World, by: str = "anouk", expect: int = 201, **fields: Any) -> Any:
    body: dict[str, Any] = {
        "kind": "checkin",
        "team_id": str(world.home),
        "starts_at": at(days=1),
        "ends_at": at(days=1, minutes=30),
    }
    body.update(fields)
    response = await world.http.post("/api/v1/appointments", json=body, headers=world.headers(by))
    answer = await response.json()
    assert response.status == expect, answer
    return answer


async def agenda(world: World, start: str, end: str, by: str = "anouk") -> list[dict[str, Any]]:
    response = await world.http.get(
        "/api/v1/agenda", params={"from": start, "to": end}, headers=world.headers(by)
    )
    assert response.status == 200, await response.text()
    return list((await response.json())["items"])


async def patch(world: World, appointment: dict[str, Any], by: str = "anouk", **fields: Any) -> Any:
    response = await world.http.patch(
        f"/api/v1/appointments/{appointment['id']}",
        json={"version": appointment["version"], **fields},
        headers=world.headers(by),
    )
    return response.status, await response.json()


# --- appointments and the agenda ------------------------------------------------------------------


async def test_a_check_in_lands_in_the_workers_agenda_with_the_clients_name(
    world: World, client_id: str
) -> None:
    created = await book(world, client_id=client_id, title="Wekelijks contact")
    appointment = created["appointment"]
    assert created["occurrences"] == 1
    assert created["series_id"] is None
    assert appointment["client"] == {"id": client_id, "name": "Gerrit Nijhuis"}
    assert appointment["status"] == "planned"
    assert appointment["lobby_opens_at"] == at(days=1, minutes=-15).replace("+00:00", "Z")
    roles = sorted(p["role"] for p in appointment["participants"])
    assert roles == ["client", "worker"]

    items = await agenda(world, at(), at(days=7))
    assert [a["id"] for a in items] == [appointment["id"]]
    # Daan is in the care team but not in the appointment: not in his agenda.
    assert await agenda(world, at(), at(days=7), by="daan") == []


async def test_creating_reading_and_listing_appointments_is_audited_per_client(
    world: World, client_id: str
) -> None:
    created = (await book(world, client_id=client_id))["appointment"]
    response = await world.http.get(
        f"/api/v1/appointments/{created['id']}", headers=world.headers("anouk")
    )
    assert response.status == 200
    await agenda(world, at(), at(days=7))
    entries = await world.audit(client_id=UUID(client_id), actor=subject("anouk"))
    kinds = [(e.event, e.object_type) for e in entries]
    assert ("create", "appointment") in kinds
    assert ("read", "appointment") in kinds
    assert ("read", "agenda") in kinds


async def test_a_worker_outside_the_care_team_and_team_is_refused_and_that_is_audited(
    world: World, client_id: str
) -> None:
    created = (await book(world, client_id=client_id))["appointment"]
    response = await world.http.get(
        f"/api/v1/appointments/{created['id']}", headers=world.headers("olaf")
    )
    assert response.status == 403
    denied = await world.audit(event="access_denied", actor=subject("olaf"))
    assert denied
    assert denied[-1].client_id == UUID(client_id)
    # Nor can Olaf book Anouk's client.
    await book(world, by="olaf", expect=403, client_id=client_id, team_id=str(world.home))


async def test_a_coordinator_plans_a_visit_for_a_worker_of_the_team(
    world: World, client_id: str
) -> None:
    created = await book(
        world, by="femke", kind="visit", client_id=client_id, workers=[subject("daan")]
    )
    appointment = created["appointment"]
    assert appointment["kind"] == "visit"
    assert [p["subject"] for p in appointment["participants"] if p["role"] == "worker"] == [
        subject("daan")
    ]
    assert [a["id"] for a in await agenda(world, at(), at(days=7), by="daan")] == [
        appointment["id"]
    ]
    # A worker from another team cannot be booked into it.
    answer = await book(
        world, by="femke", expect=422, client_id=client_id, workers=[subject("olaf")]
    )
    assert answer["error"]["details"]["field"] == "workers"


async def test_bad_appointments_are_refused_with_the_field_named(
    world: World, client_id: str
) -> None:
    for fields, field in (
        ({"ends_at": at(days=1, minutes=-10)}, "ends_at"),
        ({"ends_at": at(days=1, hours=9)}, "ends_at"),
        ({"client_id": None}, "client_id"),
        ({"recurrence": {"rrule": "FREQ=HOURLY"}}, "rrule"),
        ({"recurrence": {"rrule": "FREQ=WEEKLY;BYHOUR=3"}}, "rrule"),
        ({"kind": "case_meeting"}, "client_id"),
    ):
        answer = await book(world, expect=422, **{"client_id": client_id, **fields})
        assert answer["error"]["details"]["field"] == field, (fields, answer)


# --- series ---------------------------------------------------------------------------------------


async def test_a_weekly_check_in_stays_at_ten_oclock_amsterdam_time_across_both_clock_changes(
    world: World, client_id: str
) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 CET
    created = await book(
        world,
        client_id=client_id,
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(minutes=20)).isoformat(),
        recurrence={"rrule": "FREQ=WEEKLY"},
    )
    assert created["series_id"] is not None
    assert 50 <= created["occurrences"] <= 53  # a year ahead (the horizon)
    spring = await agenda(world, "2027-03-22T00:00:00Z", "2027-04-05T00:00:00Z")
    assert [a["starts_at"] for a in spring] == ["2027-03-23T09:00:00Z", "2027-03-30T08:00:00Z"]
    autumn = await agenda(world, "2027-10-25T00:00:00Z", "2027-11-08T00:00:00Z")
    assert [a["starts_at"] for a in autumn] == ["2027-10-26T08:00:00Z", "2027-11-02T09:00:00Z"]
    assert all(a["ends_at"].endswith(":20:00Z") for a in spring + autumn)


async def test_a_call_one_week_and_a_visit_the_next(world: World, client_id: str) -> None:
    await book(
        world,
        client_id=client_id,
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4", "kinds": ["checkin", "visit"]},
    )
    items = await agenda(world, at(), at(days=35))
    assert [a["kind"] for a in items] == ["checkin", "visit", "checkin", "visit"]


async def test_next_weeks_occurrence_turns_into_a_visit_and_the_rest_stays_a_call(
    world: World, client_id: str
) -> None:
    await book(world, client_id=client_id, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"})
    _first, second, _third = await agenda(world, at(), at(days=21))
    status, changed = await patch(world, second, kind="visit")
    assert status == 200, changed
    assert changed["kind"] == "visit"
    assert changed["detached"] is True
    assert changed["version"] == second["version"] + 1
    assert [a["kind"] for a in await agenda(world, at(), at(days=21))] == [
        "checkin",
        "visit",
        "checkin",
    ]
    # And back into a call.
    status, back = await patch(world, changed, kind="checkin")
    assert status == 200
    assert back["kind"] == "checkin"
    # A stale version is refused.
    status, stale = await patch(world, second, kind="visit")
    assert status == 409
    assert stale["error"]["code"] == "stale_version"


async def test_this_and_following_moves_the_rest_of_the_series_and_keeps_the_links(
    world: World, client_id: str
) -> None:
    await book(world, client_id=client_id, recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"})
    items = await agenda(world, at(), at(days=28))
    third = items[2]
    links_before = await links(world, third["id"])
    new_start = datetime.fromisoformat(items[1]["starts_at"]) + timedelta(hours=3)
    status, changed = await patch(
        world,
        items[1],
        starts_at=new_start.isoformat(),
        ends_at=(new_start + timedelta(minutes=45)).isoformat(),
        scope="following",
    )
    assert status == 200, changed
    after = await agenda(world, at(), at(days=28))
    hours = [datetime.fromisoformat(a["starts_at"]).hour for a in after]
    lengths = {
        datetime.fromisoformat(a["ends_at"]) - datetime.fromisoformat(a["starts_at"])
        for a in after[1:]
    }
    assert hours == [9, 12, 12, 12]
    assert lengths == {timedelta(minutes=45)}
    assert len({a["series_id"] for a in after}) == 2
    assert await links(world, third["id"]) == links_before


async def test_cancelling_this_and_following_ends_the_series(world: World, client_id: str) -> None:
    await book(world, client_id=client_id, recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"})
    items = await agenda(world, at(), at(days=28))
    response = await world.http.post(
        f"/api/v1/appointments/{items[2]['id']}/cancel",
        json={"version": items[2]["version"], "reason": "Verhuisd", "scope": "following"},
        headers=world.headers("anouk"),
    )
    assert response.status == 200, await response.text()
    assert [a["status"] for a in await agenda(world, at(), at(days=28))] == [
        "planned",
        "planned",
        "cancelled",
        "cancelled",
    ]


async def test_the_horizon_job_extends_a_series_and_books_each_occurrence_once(
    world: World, client_id: str
) -> None:
    await book(world, client_id=client_id, recurrence={"rrule": "FREQ=WEEKLY"})
    service = world.app.get("agenda", None)
    from beeldbel.api.agenda import AGENDA

    service = world.app[AGENDA]
    assert await service.extend_horizon() == 0  # nothing due yet
    world.clock.advance(timedelta(days=30))
    added = await service.extend_horizon()
    assert 4 <= added <= 5
    assert await service.extend_horizon() == 0  # running again adds nothing
    far = await agenda(world, at(days=380), at(days=394))
    assert len(far) == 2


# --- conflicts ------------------------------------------------------------------------------------


async def test_an_overlapping_appointment_is_refused_naming_the_one_in_the_way(
    world: World, client_id: str, other_client: str
) -> None:
    first = (await book(world, client_id=client_id))["appointment"]
    # Same worker, other client, overlapping by one minute.
    answer = await book(
        world,
        expect=409,
        client_id=other_client,
        starts_at=at(days=1, minutes=29),
        ends_at=at(days=1, minutes=59),
    )
    assert answer["error"]["code"] == "booking_conflict"
    conflicts = answer["error"]["details"]["conflicts"]
    assert conflicts[0]["appointment_id"] == first["id"]
    assert conflicts[0]["resource"] == f"worker:{subject('anouk')}"
    # Touching is not overlapping.
    await book(
        world, client_id=other_client, starts_at=at(days=1, minutes=30), ends_at=at(days=1, hours=1)
    )


async def test_the_same_client_cannot_be_booked_twice_at_once(world: World, client_id: str) -> None:
    first = (await book(world, client_id=client_id))["appointment"]
    answer = await book(world, by="daan", expect=409, client_id=client_id)
    conflict = answer["error"]["details"]["conflicts"][0]
    assert conflict == {
        **conflict,
        "appointment_id": first["id"],
        "resource": f"client:{client_id}",
    }


async def test_a_cancelled_appointment_frees_its_slot(world: World, client_id: str) -> None:
    first = (await book(world, client_id=client_id))["appointment"]
    response = await world.http.post(
        f"/api/v1/appointments/{first['id']}/cancel",
        json={"version": first["version"]},
        headers=world.headers("anouk"),
    )
    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    await book(world, client_id=client_id)


async def test_moving_an_appointment_onto_another_is_refused_and_nothing_changes(
    world: World, client_id: str, other_client: str
) -> None:
    await book(world, client_id=client_id)
    second = (
        await book(
            world, client_id=other_client, starts_at=at(days=2), ends_at=at(days=2, minutes=30)
        )
    )["appointment"]
    status, answer = await patch(
        world, second, starts_at=at(days=1, minutes=10), ends_at=at(days=1, minutes=40)
    )
    assert status == 409
    assert answer["error"]["code"] == "booking_conflict"
    unchanged = await world.http.get(
        f"/api/v1/appointments/{second['id']}", headers=world.headers("anouk")
    )
    assert (await unchanged.json())["starts_at"] == second["starts_at"]


async def test_a_series_that_would_overlap_is_refused_whole(
    world: World, client_id: str, other_client: str
) -> None:
    blocker = (
        await book(
            world, client_id=other_client, starts_at=at(days=15), ends_at=at(days=15, hours=1)
        )
    )["appointment"]
    answer = await book(
        world, expect=409, client_id=client_id, recurrence={"rrule": "FREQ=WEEKLY;COUNT=5"}
    )
    assert answer["error"]["details"]["conflicts"][0]["appointment_id"] == blocker["id"]
    assert [a["id"] for a in await agenda(world, at(), at(days=35))] == [blocker["id"]]


async def test_the_database_itself_refuses_an_overlapping_booking_inserted_with_sql(
    world: World, client_id: str, other_client: str, backend: str
) -> None:
    first = (await book(world, client_id=client_id))["appointment"]
    # Daan with another client, at the same time: no one is booked twice.
    beside = (await book(world, by="femke", client_id=other_client, workers=[subject("daan")]))[
        "appointment"
    ]
    later = (
        await book(world, client_id=client_id, starts_at=at(days=2), ends_at=at(days=2, minutes=30))
    )["appointment"]
    db = world.app[appkeys.DATABASE]
    # Anouk's slot in the meeting beside hers, written straight into the table: refused.
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the driver's own error type
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO bookings (appointment_id, resource, starts_at, ends_at) "
                    "SELECT id, :resource, starts_at, ends_at FROM appointments WHERE id = :id"
                ),
                {"resource": f"worker:{subject('anouk')}", "id": _db_id(beside["id"], backend)},
            )
    assert _overlap_refusal(refused.value)
    # Moving an appointment's times with plain SQL moves its slots (the foreign key
    # cascades) and is refused when they would overlap.
    with pytest.raises(Exception) as refused:  # noqa: PT011
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE appointments SET starts_at = :s, ends_at = :e WHERE id = :id"),
                {
                    "s": _db_time(datetime.fromisoformat(first["starts_at"]), backend),
                    "e": _db_time(datetime.fromisoformat(first["ends_at"]), backend),
                    "id": _db_id(later["id"], backend),
                },
            )
    assert _overlap_refusal(refused.value)
    # A slot cannot disagree with its appointment's times either.
    with pytest.raises(Exception) as refused:  # noqa: PT011
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE bookings SET starts_at = :s WHERE appointment_id = :id"),
                {
                    "s": _db_time(NOW + timedelta(days=2, minutes=1), backend),
                    "id": _db_id(later["id"], backend),
                },
            )
    assert "foreign key" in str(refused.value).lower()


def _overlap_refusal(error: BaseException) -> bool:
    return "booking_conflict" in str(error) or "ex_bookings_no_overlap" in str(error)


def _db_time(moment: datetime, backend: str) -> Any:
    if backend == "sqlite":  # how SQLAlchemy writes a UTC time there
        return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _db_id(value: str, backend: str) -> Any:
    return UUID(value).hex if backend == "sqlite" else UUID(value)


# --- availability ---------------------------------------------------------------------------------


async def test_nothing_is_booked_outside_working_hours_unless_the_worker_says_so(
    world: World, client_id: str
) -> None:
    hours = [{"weekday": d, "starts": "09:00", "ends": "17:00"} for d in range(5)]
    response = await world.http.put(
        "/api/v1/availability/hours", json={"hours": hours}, headers=world.headers("anouk")
    )
    assert response.status == 200, await response.text()
    assert len((await response.json())["hours"]) == 5
    # Tuesday 08:00 Amsterdam is before hours.
    early = {"starts_at": "2026-12-01T07:00:00Z", "ends_at": "2026-12-01T07:30:00Z"}
    answer = await book(world, expect=409, client_id=client_id, **early)
    assert answer["error"]["code"] == "outside_working_hours"
    assert answer["error"]["details"]["workers"] == [subject("anouk")]
    booked = await book(world, client_id=client_id, override_hours=True, **early)
    assert booked["appointment"]["outside_hours"] is True
    # Within hours is fine; away (an exception) is not.
    await book(
        world, client_id=client_id, starts_at=at(days=1, hours=1), ends_at=at(days=1, hours=2)
    )
    response = await world.http.post(
        "/api/v1/availability/exceptions",
        json={"starts_at": at(days=2), "ends_at": at(days=3), "available": False, "note": "Cursus"},
        headers=world.headers("anouk"),
    )
    assert response.status == 201
    answer = await book(
        world,
        expect=409,
        client_id=client_id,
        starts_at=at(days=2, hours=1),
        ends_at=at(days=2, hours=2),
    )
    assert answer["error"]["code"] == "outside_working_hours"


# --- guests and consent ---------------------------------------------------------------------------


async def add_member(world: World, client_id: str, name: str = "Marieke Nijhuis") -> str:
    response = await world.http.post(
        f"/api/v1/clients/{client_id}/network",
        json={"name": name, "roles": ["family"]},
        headers=world.headers("anouk"),
    )
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def give_consent(world: World, client_id: str, decision: str = "given") -> None:
    response = await world.http.post(
        f"/api/v1/clients/{client_id}/consent",
        json={"topic": "guests_in_calls", "decision": decision, "how": "spoken"},
        headers=world.headers("anouk"),
    )
    assert response.status == 201, await response.text()


async def test_a_guest_cannot_be_invited_without_the_clients_consent_to_guests(
    world: World, client_id: str
) -> None:
    member = await add_member(world, client_id)
    answer = await book(world, expect=409, client_id=client_id, guests=[{"member_id": member}])
    assert answer["error"]["code"] == "consent_required"
    assert answer["error"]["details"]["client_id"] == client_id
    # Nor added afterwards.
    plain = (await book(world, client_id=client_id))["appointment"]
    response = await world.http.post(
        f"/api/v1/appointments/{plain['id']}/guests",
        json={"version": plain["version"], "member_id": member},
        headers=world.headers("anouk"),
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "consent_required"

    await give_consent(world, client_id)
    response = await world.http.post(
        f"/api/v1/appointments/{plain['id']}/guests",
        json={"version": plain["version"], "member_id": member},
        headers=world.headers("anouk"),
    )
    assert response.status == 200, await response.text()
    guests = [p for p in (await response.json())["participants"] if p["role"] == "guest"]
    assert guests[0]["name"] == "Marieke Nijhuis"
    # Consent withdrawn: no new guests.
    await give_consent(world, client_id, "withdrawn")
    answer = await book(
        world,
        expect=409,
        client_id=client_id,
        starts_at=at(days=3),
        ends_at=at(days=3, minutes=30),
        guests=[{"name": "Dr. Haverkamp (huisarts)"}],
    )
    assert answer["error"]["code"] == "consent_required"


async def test_a_home_visit_with_family_turns_into_a_call_only_with_consent(
    world: World, client_id: str
) -> None:
    member = await add_member(world, client_id)
    visit = (await book(world, kind="visit", client_id=client_id, guests=[{"member_id": member}]))[
        "appointment"
    ]
    status, answer = await patch(world, visit, kind="checkin")
    assert status == 409
    assert answer["error"]["code"] == "consent_required"


async def test_a_member_of_another_clients_network_is_no_guest_here(
    world: World, client_id: str, other_client: str
) -> None:
    await give_consent(world, client_id)
    stranger = await add_member(world, other_client, "Iemand Anders")
    await book(world, expect=404, client_id=client_id, guests=[{"member_id": stranger}])


# --- join links -----------------------------------------------------------------------------------


async def links(world: World, appointment_id: str, by: str = "anouk") -> dict[str, str]:
    response = await world.http.get(
        f"/api/v1/appointments/{appointment_id}/links", headers=world.headers(by)
    )
    assert response.status == 200, await response.text()
    return {item["role"]: item["path"] for item in (await response.json())["items"]}


def code_of(path: str) -> str:
    assert path.startswith("/join#")
    return path.removeprefix("/join#")


async def exchange(world: World, code: str) -> Any:
    response = await world.http.post("/api/v1/join", json={"code": code})
    return response.status, await response.json()


async def test_a_join_code_opened_with_get_does_nothing(world: World, client_id: str) -> None:
    appointment = (await book(world, client_id=client_id))["appointment"]
    code = code_of((await links(world, appointment["id"]))["client"])
    before = await world.audit(object_type="join_link")
    page = await world.http.get("/join")
    assert page.status == 200
    assert page.content_type == "text/html"
    # The code is in the fragment, which browsers never send; a scanner that puts it in
    # the path or the query gets no token and changes nothing.
    assert (await world.http.get(f"/join/{code}")).status == 404
    query = await world.http.get("/api/v1/join", params={"code": code})
    assert query.status in (404, 405)
    assert await world.audit(object_type="join_link") == before


async def test_the_code_gives_a_token_for_that_appointment_and_participant_only(
    world: World, client_id: str
) -> None:
    first = (await book(world, client_id=client_id))["appointment"]
    other = (
        await book(world, client_id=client_id, starts_at=at(days=2), ends_at=at(days=2, minutes=30))
    )["appointment"]
    code = code_of((await links(world, first["id"]))["client"])

    world.clock.advance(timedelta(days=1, minutes=-20))  # 20 minutes before the start
    status, early = await exchange(world, code)
    assert status == 200
    assert early["state"] == "early"
    assert early["token"] is None
    assert early["lobby_opens_at"] == at(days=1, minutes=-15).replace("+00:00", "Z")

    world.clock.advance(timedelta(minutes=5))  # the lobby opens
    status, answer = await exchange(world, code)
    assert status == 200, answer
    assert answer["state"] == "open"
    assert answer["appointment_id"] == first["id"]
    assert answer["role"] == "client"
    token = answer["token"]
    client_participant = next(p for p in first["participants"] if p["role"] == "client")
    claims = world.app[appkeys.TOKENS].verify_join(token, world.clock.now())
    assert claims.appointment_id == UUID(first["id"])
    assert claims.participant_id == UUID(client_participant["id"])

    own = await world.http.get(
        f"/api/v1/join/appointments/{first['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert own.status == 200
    elsewhere = await world.http.get(
        f"/api/v1/join/appointments/{other['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert elsewhere.status == 403
    # It is no access token: the staff API refuses it.
    api = await world.http.get("/api/v1/agenda", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 401
    # The code may be exchanged again within the window.
    status, again = await exchange(world, code)
    assert status == 200
    assert again["token"]


async def test_after_cancellation_the_code_is_refused_in_plain_dutch(
    world: World, client_id: str
) -> None:
    appointment = (await book(world, client_id=client_id))["appointment"]
    code = code_of((await links(world, appointment["id"]))["client"])
    response = await world.http.post(
        f"/api/v1/appointments/{appointment['id']}/cancel",
        json={"version": appointment["version"]},
        headers=world.headers("anouk"),
    )
    assert response.status == 200
    status, refused = await exchange(world, code)
    assert status == 409
    assert refused["error"]["code"] == "join_refused"
    assert refused["error"]["details"]["reason"] == "cancelled"
    assert refused["error"]["message"].startswith("Deze afspraak is geannuleerd.")


async def test_rescheduling_keeps_the_link_and_removing_the_guest_revokes_theirs(
    world: World, client_id: str
) -> None:
    await give_consent(world, client_id)
    appointment = (await book(world, client_id=client_id, guests=[{"name": "Tolk Ayşe"}]))[
        "appointment"
    ]
    before = await links(world, appointment["id"])
    status, moved = await patch(world, appointment, starts_at=at(hours=2), ends_at=at(hours=3))
    assert status == 200, moved
    assert await links(world, appointment["id"]) == before
    world.clock.advance(timedelta(hours=1, minutes=50))
    status, answer = await exchange(world, code_of(before["guest"]))
    assert status == 200
    assert answer["state"] == "open"

    guest = next(p for p in moved["participants"] if p["role"] == "guest")
    response = await world.http.delete(
        f"/api/v1/appointments/{appointment['id']}/participants/{guest['id']}",
        params={"version": str(moved["version"])},
        headers=world.headers("anouk"),
    )
    assert response.status == 200, await response.text()
    status, refused = await exchange(world, code_of(before["guest"]))
    assert status == 404
    assert refused["error"]["message"].startswith("Deze link werkt niet")
    status, _ = await exchange(world, code_of(before["client"]))
    assert status == 200


async def test_made_up_and_tampered_codes_are_refused_alike(world: World, client_id: str) -> None:
    appointment = (await book(world, client_id=client_id))["appointment"]
    code = code_of((await links(world, appointment["id"]))["client"])
    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    for bad in (tampered, "x" * 28, "nonsense", code[:12]):
        status, answer = await exchange(world, bad)
        assert status == 404
        assert answer["error"]["details"]["reason"] == "unknown_link"


async def test_a_home_visit_has_no_call_to_join(world: World, client_id: str) -> None:
    visit = (await book(world, kind="visit", client_id=client_id))["appointment"]
    world.clock.advance(timedelta(days=1))
    status, answer = await exchange(world, code_of((await links(world, visit["id"]))["client"]))
    assert status == 409
    assert answer["error"]["details"]["reason"] == "not_a_call"


# --- calls that start now -------------------------------------------------------------------------


async def test_start_a_call_with_this_client_now(
    world: World, client_id: str, other_client: str
) -> None:
    response = await world.http.post(
        "/api/v1/calls", json={"client_id": other_client}, headers=world.headers("anouk")
    )
    assert response.status == 201, await response.text()
    call = await response.json()
    assert call["status"] == "lobby_open"
    assert call["kind"] == "checkin"
    assert call["starts_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert call["client"]["name"] == "Truus Oude Egberink"
    status, answer = await exchange(world, code_of((await links(world, call["id"]))["client"]))
    assert status == 200
    assert answer["state"] == "open"
    # The worker is busy now: a second call at the same time is refused.
    response = await world.http.post(
        "/api/v1/calls", json={"client_id": client_id}, headers=world.headers("anouk")
    )
    assert response.status == 409
    assert (await response.json())["error"]["details"]["conflicts"][0]["appointment_id"] == call[
        "id"
    ]


# --- case meetings --------------------------------------------------------------------------------


async def test_a_case_meeting_with_items_and_a_guest_for_one_item(
    world: World, client_id: str, other_client: str
) -> None:
    await give_consent(world, client_id)
    created = await book(
        world,
        kind="case_meeting",
        client_id=None,
        title="Casusoverleg",
        workers=[subject("anouk"), subject("daan")],
        starts_at=at(days=1),
        ends_at=at(days=1, hours=1),
        items=[
            {
                "client_id": client_id,
                "topic": "Schulden en dagbesteding",
                "starts_at": at(days=1),
                "ends_at": at(days=1, minutes=20),
            },
            {"client_id": other_client, "topic": "Mantelzorg overbelast"},
        ],
        clients_take_part=False,
        guests=[{"name": "Bewindvoerder De Vries", "item": 0}],
    )
    meeting = created["appointment"]
    assert [i["topic"] for i in meeting["items"]] == [
        "Schulden en dagbesteding",
        "Mantelzorg overbelast",
    ]
    guest = next(p for p in meeting["participants"] if p["role"] == "guest")
    assert guest["item_id"] == meeting["items"][0]["id"]
    # The guest's link opens for their item only: 15 minutes before it, not before.
    code = code_of((await links(world, meeting["id"]))["guest"])
    world.clock.advance(timedelta(days=1, minutes=-16))
    assert (await exchange(world, code))[1]["state"] == "early"
    # Daan sees the meeting in his agenda; Bart (same team, in neither care team) is refused.
    assert [a["id"] for a in await agenda(world, at(), at(days=7), by="daan")] == [meeting["id"]]
    # Daan takes part but is not in Truus's care team: he sees her item without her name.
    response = await world.http.get(
        f"/api/v1/appointments/{meeting['id']}", headers=world.headers("daan")
    )
    assert response.status == 200, await response.text()
    seen = await response.json()
    assert seen["restricted"] is True
    assert seen["items"][0]["client"]["name"] == "Gerrit Nijhuis"
    assert seen["items"][1]["client"] is None
    assert seen["items"][1]["topic"] is None
    response = await world.http.get(
        f"/api/v1/appointments/{meeting['id']}", headers=world.headers("bart")
    )
    assert response.status == 403


# --- retries on a weak link -----------------------------------------------------------------------


async def test_a_retried_booking_or_call_with_one_idempotency_key_books_once(
    world: World, client_id: str, other_client: str
) -> None:
    body = {
        "kind": "checkin",
        "team_id": str(world.home),
        "client_id": client_id,
        "starts_at": at(days=1),
        "ends_at": at(days=1, minutes=30),
    }
    headers = world.headers("anouk") | {"Idempotency-Key": "book-gerrit-tuesday"}
    first = await world.http.post("/api/v1/appointments", json=body, headers=headers)
    assert first.status == 201, await first.text()
    again = await world.http.post("/api/v1/appointments", json=body, headers=headers)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert len(await agenda(world, at(), at(days=7))) == 1

    call = {"client_id": other_client}
    headers = world.headers("anouk") | {"Idempotency-Key": "call-truus-now"}
    started = await world.http.post("/api/v1/calls", json=call, headers=headers)
    assert started.status == 201, await started.text()
    retried = await world.http.post("/api/v1/calls", json=call, headers=headers)
    assert retried.status == 201
    assert (await retried.json())["id"] == (await started.json())["id"]
    assert len(await agenda(world, at(), at(days=7))) == 2
    replays = await world.audit(event="read", object_type="idempotent_replay")
    assert {str(e.client_id) for e in replays} == {client_id, other_client}


async def test_times_a_client_prefers_are_a_hint_on_the_appointment(
    world: World, client_id: str
) -> None:
    url = f"/api/v1/clients/{client_id}/contact-times"
    mornings = {"windows": [{"weekday": 1, "starts": "09:00", "ends": "12:00"}]}  # Tuesday
    response = await world.http.put(url, json=mornings, headers=world.headers("anouk"))
    assert response.status == 200, await response.text()
    assert (await response.json())["windows"] == [
        {"weekday": 1, "starts": "09:00:00", "ends": "12:00:00"}
    ]
    # Tuesday 10:00 Amsterdam suits; Tuesday 14:00 does not (but may be booked).
    fits = (await book(world, client_id=client_id))["appointment"]
    assert fits["outside_client_times"] is False
    late = (
        await book(
            world, client_id=client_id, starts_at=at(days=1, hours=4), ends_at=at(days=1, hours=5)
        )
    )["appointment"]
    assert late["outside_client_times"] is True
    # Reading and changing them is client data: audited, and refused outside the care team.
    assert (await world.http.get(url, headers=world.headers("olaf"))).status == 403
    entries = await world.audit(object_type="contact_times", client_id=UUID(client_id))
    assert [e.event for e in entries] == ["change"]
