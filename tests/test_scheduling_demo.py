"""`beeldbel demo` gives the demo workers working hours and Anouk a demo agenda: a weekly
check-in series, a home visit this week and a case meeting next week. Seeding twice (also
weeks later) creates nothing new, and the two hours after seeding stay free for a call."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from beeldbel.clock import FixedClock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import SqlAgenda, SqlAvailability
from beeldbel.db.tables.identity import StaffUserRow
from beeldbel.db.tables.scheduling import AppointmentRow, SeriesRow
from beeldbel.demo import seed_demo
from beeldbel.identity.model import staff_subject
from beeldbel.scheduling.demo import DEMO_APPOINTMENTS, HORIZON
from beeldbel.scheduling.model import Appointment, Kind, WorkingHours

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SUNDAY_EARLY = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # Monday of this week: 23 November


async def subject_of(db: Database, username: str) -> str:
    async with db.transaction(read_only=True) as session:
        found = await session.scalar(
            select(StaffUserRow.id).where(StaffUserRow.username == username)
        )
    assert found is not None
    return staff_subject(found)


async def agenda_of(
    db: Database, subject: str, starts: datetime, ends: datetime
) -> list[Appointment]:
    async with db.transaction(read_only=True) as session:
        return await SqlAgenda(session).agenda([subject], starts, ends, 500)


def local(appointment: Appointment) -> datetime:
    return appointment.starts_at.astimezone(AMSTERDAM)


async def test_the_demo_agenda_is_seeded_once(backend: str, database_url: str) -> None:
    clock = FixedClock(SUNDAY_EARLY)
    db = Database(database_url)
    try:
        first = await seed_demo(db, clock)
        clock.advance(timedelta(weeks=3))
        again = await seed_demo(db, clock)
        weekly = 1 + int(HORIZON / timedelta(weeks=1))  # from this week's Tuesday on
        assert first.appointments_created == weekly + len(DEMO_APPOINTMENTS) - 1
        assert again.appointments_created == 0
        async with db.transaction(read_only=True) as session:
            assert await session.scalar(select(func.count()).select_from(SeriesRow)) == 1
            total = await session.scalar(select(func.count()).select_from(AppointmentRow))
        assert total == first.appointments_created

        anouk, daan = await subject_of(db, "anouk"), await subject_of(db, "daan")
        async with db.transaction(read_only=True) as session:
            hours = await SqlAvailability(session).hours(anouk)
        assert hours == [WorkingHours(day, time(8, 30), time(17, 0)) for day in range(5)]

        monday = datetime(2026, 11, 23, tzinfo=AMSTERDAM)
        this_week = await agenda_of(db, anouk, monday, monday + timedelta(weeks=1))
        assert [(a.kind, local(a).strftime("%a %H:%M")) for a in this_week] == [
            (Kind.CHECKIN, "Tue 10:00"),
            (Kind.VISIT, "Thu 13:30"),
        ]
        next_week = await agenda_of(
            db, anouk, monday + timedelta(weeks=1), monday + timedelta(weeks=2)
        )
        assert [(a.kind, local(a).strftime("%a %H:%M")) for a in next_week] == [
            (Kind.CHECKIN, "Tue 10:00"),
            (Kind.CASE_MEETING, "Wed 11:00"),
        ]
        meeting = next_week[1]
        assert set(meeting.workers()) == {anouk, daan}
        assert [item.topic for item in meeting.items] == [
            "Tolk bij gesprekken regelen",
            "Dagbesteding na de zomer",
        ]
        assert not any(a.outside_hours for a in this_week + next_week)
        # The series keeps its wall-clock time across the change to summer time in March.
        spring = datetime(2027, 4, 5, tzinfo=AMSTERDAM)
        later = await agenda_of(db, anouk, spring, spring + timedelta(weeks=1))
        assert [local(a).strftime("%a %H:%M") for a in later] == ["Tue 10:00"]
    finally:
        await db.dispose()


async def test_the_two_hours_after_seeding_stay_free_for_a_call_now(database_url: str) -> None:
    seeded_at = datetime(2026, 11, 24, 9, 45, tzinfo=AMSTERDAM)  # Tuesday, before the check-in
    db = Database(database_url)
    try:
        await seed_demo(db, FixedClock(seeded_at))
        anouk = await subject_of(db, "anouk")
        near = await agenda_of(db, anouk, seeded_at, seeded_at + timedelta(hours=2))
        assert near == []
        # The weekly check-in starts a day later: Wednesdays at 10:00.
        week = await agenda_of(
            db,
            anouk,
            datetime(2026, 11, 23, tzinfo=AMSTERDAM),
            datetime(2026, 11, 30, tzinfo=AMSTERDAM),
        )
        assert [(a.kind, local(a).strftime("%a %H:%M")) for a in week] == [
            (Kind.CHECKIN, "Wed 10:00"),
            (Kind.VISIT, "Thu 13:30"),
        ]
    finally:
        await db.dispose()
