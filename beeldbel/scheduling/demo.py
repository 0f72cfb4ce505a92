"""Demo agenda of Wijkteam Hof van Twente: working hours and a few appointments.

Only for trying Beeldbel out on one's own machine. The demo workers work Monday to Friday,
from 08:30 to 17:00 (bereikbaarheid). Anouk has a weekly video check-in with Gerrit Nijhuis on
Tuesdays at 10:00 (a series from this week on), a home visit to Hendrik Oude Lenferink on
Thursday afternoon and, next week, a case meeting (casusoverleg) with Daan.

Seeding is idempotent: the series and the single appointments have fixed ids, and one that
exists is left as it is (also when another process seeds at once, or when seeding runs
again weeks later); working hours are set only for a worker who has none. Demo data is
written through the agenda's repository, not through the access policy: nobody reads or
changes a real client's file here, so there is no grant to ask for and no access to audit.

Nothing is put in the two hours after seeding, so "Nu bellen" (a call that starts now)
works right away: an appointment that would fall there moves a day on.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from beeldbel.clientfile.demo import demo_id as client_demo_id
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import SqlAgenda, SqlAvailability
from beeldbel.db.tables.scheduling import AppointmentRow, SeriesRow
from beeldbel.errors import Conflict
from beeldbel.identity.demo import DEMO_TEAM, DemoStaff
from beeldbel.scheduling.links import JoinCodes
from beeldbel.scheduling.model import (
    AGENDA_ZONE,
    AgendaItem,
    Appointment,
    Kind,
    Participant,
    ParticipantRole,
    Recurrence,
    Series,
    Status,
    WorkingHours,
)
from beeldbel.scheduling.rules import available, check_appointment, expand, local_wall_time
from beeldbel.scheduling.service import _from_template, _template

__all__ = ["DEMO_APPOINTMENTS", "DEMO_HOURS", "DemoAppointment", "seed_agenda"]

_NAMESPACE = uuid.UUID("0f5b7c52-8f0e-4c1a-9a7e-3d6f1b2c4e81")
ZONE = ZoneInfo(AGENDA_ZONE)
HORIZON = timedelta(days=365)  # like the default BEELDBEL_AGENDA_HORIZON_DAYS; a job extends it
KEEP_FREE = (timedelta(minutes=-30), timedelta(hours=2))  # around the moment of seeding

WEEKDAYS = (0, 1, 2, 3, 4)  # Monday to Friday
DEMO_HOURS: Mapping[str, tuple[WorkingHours, ...]] = {
    username: tuple(WorkingHours(day, time(8, 30), time(17, 0)) for day in WEEKDAYS)
    for username in ("anouk", "daan", "femke")
}


@dataclass(frozen=True, slots=True)
class DemoAppointment:
    key: str  # names its fixed id
    kind: Kind
    week: int  # 0: this week, 1: next week
    weekday: int  # 0 Monday … 6 Sunday
    starts: time  # wall-clock time in Europe/Amsterdam
    minutes: int
    workers: tuple[str, ...]  # usernames
    client: str | None = None  # a check-in's or visit's client (a demo client's name)
    items: tuple[tuple[str, str], ...] = ()  # a case meeting's (client name, topic)
    title: str | None = None
    weekly: bool = False  # a series, every week from its first date


DEMO_APPOINTMENTS: tuple[DemoAppointment, ...] = (
    DemoAppointment(
        "weekly-checkin-gerrit",
        Kind.CHECKIN,
        week=0,
        weekday=1,
        starts=time(10, 0),
        minutes=30,
        workers=("anouk",),
        client="Gerrit Nijhuis",
        title="Wekelijks even bijpraten",
        weekly=True,
    ),
    DemoAppointment(
        "visit-hendrik",
        Kind.VISIT,
        week=0,
        weekday=3,
        starts=time(13, 30),
        minutes=60,
        workers=("anouk",),
        client="Hendrik Oude Lenferink",
        title="Post en rekeningen samen doornemen",
    ),
    DemoAppointment(
        "case-meeting-goor",
        Kind.CASE_MEETING,
        week=1,
        weekday=2,
        starts=time(11, 0),
        minutes=60,
        workers=("anouk", "daan"),
        items=(
            ("Fatma Yılmaz", "Tolk bij gesprekken regelen"),  # noqa: RUF001 (a Turkish dotless i, on purpose)
            ("Gerrit Nijhuis", "Dagbesteding na de zomer"),
        ),
        title="Casusoverleg Goor",
    ),
)


def demo_id(kind: str, key: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"{kind}:{key}")


def _monday(now: datetime) -> date:
    today = now.astimezone(ZONE).date()
    return today - timedelta(days=today.weekday())


def _slot(demo: DemoAppointment, monday: date, now: datetime) -> tuple[datetime, datetime]:
    """Its start and end; a day later (skipping the weekend) while it would fall in the
    hours just after seeding."""
    day = monday + timedelta(weeks=demo.week, days=demo.weekday)
    free_from, free_to = now + KEEP_FREE[0], now + KEEP_FREE[1]
    while True:
        starts = datetime.combine(day, demo.starts, ZONE).astimezone(ZONE)
        ends = starts + timedelta(minutes=demo.minutes)
        if not (starts < free_to and free_from < ends):
            return starts, ends
        day += timedelta(days=3 if day.weekday() == 4 else 1)


def _appointment(
    demo: DemoAppointment,
    team_id: UUID,
    subjects: Mapping[str, str],
    starts: datetime,
    ends: datetime,
    now: datetime,
) -> Appointment:
    new = JoinCodes.new_link_id
    people = [
        Participant(uuid.uuid4(), ParticipantRole.WORKER, new(), subject=subjects[w])
        for w in demo.workers
    ]
    client_id = client_demo_id("client", demo.client) if demo.client else None
    if client_id is not None:
        people.append(Participant(uuid.uuid4(), ParticipantRole.CLIENT, new(), client_id=client_id))
    items = tuple(
        AgendaItem(uuid.uuid4(), client_demo_id("client", name), topic)
        for name, topic in demo.items
    )
    return check_appointment(
        Appointment(
            id=demo_id("appointment", demo.key),
            team_id=team_id,
            kind=demo.kind,
            status=Status.PLANNED,
            starts_at=starts,
            ends_at=ends,
            created_by=subjects[demo.workers[0]],
            created_at=now,
            updated_at=now,
            title=demo.title,
            client_id=client_id,
            participants=tuple(people),
            items=items,
        )
    )


async def _hours_flagged(availability: SqlAvailability, appointment: Appointment) -> Appointment:
    outside = False
    for subject in appointment.workers():
        hours = await availability.hours(subject)
        exceptions = await availability.exceptions(
            subject, appointment.starts_at, appointment.ends_at
        )
        if not available(hours, exceptions, appointment.starts_at, appointment.ends_at, ZONE.key):
            outside = True
    return replace(appointment, outside_hours=outside)


async def _exists(db: Database, demo: DemoAppointment) -> bool:
    async with db.transaction(read_only=True) as session:
        if demo.weekly:
            return await session.get(SeriesRow, demo_id("series", demo.key)) is not None
        return await session.get(AppointmentRow, demo_id("appointment", demo.key)) is not None


async def _add(
    db: Database,
    demo: DemoAppointment,
    team_id: UUID,
    subjects: Mapping[str, str],
    now: datetime,
) -> int:
    starts, ends = _slot(demo, _monday(now), now)
    first = _appointment(demo, team_id, subjects, starts, ends, now)
    async with db.transaction() as session:
        agenda, availability = SqlAgenda(session), SqlAvailability(session)
        if not demo.weekly:
            await agenda.add(await _hours_flagged(availability, first))
            return 1
        series = Series(
            id=demo_id("series", demo.key),
            team_id=team_id,
            recurrence=Recurrence(
                rule="FREQ=WEEKLY",
                local_start=local_wall_time(first.starts_at, AGENDA_ZONE),
                duration=first.duration,
                kinds=(first.kind,),
            ),
            materialized_until=now + HORIZON,
            created_by=first.created_by,
            created_at=now,
        )
        template = _template(first)
        await agenda.add_series(series, template)
        occurrences = expand(series.recurrence, series.materialized_until)
        for occurrence in occurrences:
            appointment = _from_template(
                template, series, occurrence.starts_at, occurrence.ends_at, occurrence.kind, now
            )
            await agenda.add(await _hours_flagged(availability, appointment))
        return len(occurrences)


async def seed_agenda(
    db: Database, clock: Clock, teams: Mapping[str, UUID], staff: DemoStaff
) -> int:
    """Seed the demo workers' hours and Anouk's demo appointments; returns how many
    appointments were created. Idempotent."""
    team_id = teams.get(DEMO_TEAM)
    subjects = staff.subjects
    if team_id is None:
        return 0
    for username, hours in DEMO_HOURS.items():
        subject = subjects.get(username)
        if subject is None:
            continue
        try:
            async with db.transaction() as session:
                availability = SqlAvailability(session)
                if not await availability.hours(subject):
                    await availability.replace_hours(subject, hours)
        except IntegrityError:  # seeded concurrently by another process
            pass
    now = clock.now()
    created = 0
    for demo in DEMO_APPOINTMENTS:
        if any(w not in subjects for w in demo.workers) or await _exists(db, demo):
            continue
        # Seeded concurrently by another process, or the slot was taken meanwhile: skip it.
        with contextlib.suppress(IntegrityError, Conflict):
            created += await _add(db, demo, team_id, subjects, now)
    return created
