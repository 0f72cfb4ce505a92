"""Appointments, series, availability and join links: the agenda's values. Pure.

An appointment is a check-in call, a home visit or a case meeting. It has a team, a time
(UTC instants, half-open ``[starts_at, ends_at)``), a status and participants: workers
(staff subjects), the client, and guests (a member of the client's network or someone
outside it, such as an external professional). A case meeting carries an agenda of items,
each about one client, with an optional slot so a guest joins only for their item.

Everything here is a plain value; the rules that make and change them live in
:mod:`beeldbel.scheduling.rules` and take ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

__all__ = [
    "AGENDA_ZONE",
    "JOIN_GRACE",
    "LOBBY_LEAD",
    "MAX_DURATION",
    "MIN_DURATION",
    "AgendaItem",
    "Appointment",
    "AvailabilityException",
    "Booking",
    "Kind",
    "Occurrence",
    "Participant",
    "ParticipantRole",
    "Recurrence",
    "Series",
    "Status",
    "WorkingHours",
]

AGENDA_ZONE: Final = "Europe/Amsterdam"
"""The wall clock of every agenda: a weekly 10:00 check-in stays at 10:00 here."""

LOBBY_LEAD: Final = timedelta(minutes=15)
"""The lobby (waiting room) opens this long before the start."""

JOIN_GRACE: Final = timedelta(minutes=30)
"""A call that runs over can still be (re)joined this long after its planned end."""

MIN_DURATION: Final = timedelta(minutes=5)
MAX_DURATION: Final = timedelta(hours=8)


class Kind(StrEnum):
    CHECKIN = "checkin"  # a video call, worker and client (and maybe a guest)
    VISIT = "visit"  # a home visit in person (huisbezoek)
    CASE_MEETING = "case_meeting"  # casusoverleg: several workers, maybe client and guests

    @property
    def is_call(self) -> bool:
        return self is not Kind.VISIT


class Status(StrEnum):
    PLANNED = "planned"
    LOBBY_OPEN = "lobby_open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED)

    @property
    def blocks(self) -> bool:
        """Whether the appointment holds its slot (a cancelled one frees it)."""
        return self is not Status.CANCELLED


class ParticipantRole(StrEnum):
    WORKER = "worker"
    CLIENT = "client"
    GUEST = "guest"  # a network member (member_id) or someone outside it (name only)


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in an appointment. ``link_id`` names their personal join link."""

    id: UUID
    role: ParticipantRole
    link_id: str
    subject: str | None = None  # a worker: staff subject
    client_id: UUID | None = None  # the client
    member_id: UUID | None = None  # a guest from the client's network
    name: str | None = None  # a guest from outside the network (an external professional)
    item_id: UUID | None = None  # a guest who joins only for this agenda item

    @property
    def key(self) -> str:
        """Who this is, independent of the appointment: the same person is in it once."""
        if self.subject is not None:
            return f"worker:{self.subject}"
        if self.client_id is not None:
            return f"client:{self.client_id}"
        if self.member_id is not None:
            return f"member:{self.member_id}"
        return f"guest:{self.id}"


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """A case meeting's item: one client, a topic, and maybe its own slot."""

    id: UUID
    client_id: UUID
    topic: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Appointment:
    id: UUID
    team_id: UUID
    kind: Kind
    status: Status
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    title: str | None = None
    client_id: UUID | None = None  # the client of a check-in or visit
    participants: tuple[Participant, ...] = ()
    items: tuple[AgendaItem, ...] = ()
    series_id: UUID | None = None
    occurrence_at: datetime | None = None  # its original start in the series
    detached: bool = False  # edited on its own: changes to the series leave it be
    outside_hours: bool = False  # booked outside a worker's hours, on purpose
    cancel_reason: str | None = None
    version: int = 1

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at

    @property
    def lobby_opens_at(self) -> datetime:
        return self.starts_at - LOBBY_LEAD

    def participant(self, participant_id: UUID) -> Participant | None:
        return next((p for p in self.participants if p.id == participant_id), None)

    def workers(self) -> tuple[str, ...]:
        return tuple(p.subject for p in self.participants if p.subject is not None)

    def clients(self) -> tuple[UUID, ...]:
        """Every client the appointment is about (its client, participants and items)."""
        seen: dict[UUID, None] = {}
        if self.client_id is not None:
            seen[self.client_id] = None
        for p in self.participants:
            if p.client_id is not None:
                seen[p.client_id] = None
        for item in self.items:
            seen[item.client_id] = None
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Booking:
    """A slot one resource (a worker, a client, later a tablet) holds; no two overlap."""

    resource: str  # "worker:<subject>", "client:<uuid>"
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Recurrence:
    """An RFC 5545 rule over a wall-clock start in ``zone``.

    ``rule`` is an RRULE value (``FREQ=WEEKLY;BYDAY=MO``) without DTSTART; ``kinds``
    cycles per occurrence (``(checkin, visit)``: a call one week, a visit the next);
    ``until`` (UTC, exclusive) ends a series that was split or stopped.
    """

    rule: str
    local_start: datetime  # naive wall-clock time in ``zone``
    duration: timedelta
    kinds: tuple[Kind, ...]
    zone: str = AGENDA_ZONE
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    index: int  # 0 for the series' first
    starts_at: datetime
    ends_at: datetime
    kind: Kind


@dataclass(frozen=True, slots=True)
class Series:
    id: UUID
    team_id: UUID
    recurrence: Recurrence
    materialized_until: datetime  # occurrences before this instant exist as appointments
    created_by: str
    created_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """A window a worker can be booked in on one weekday (0 Monday … 6 Sunday), wall time."""

    weekday: int
    starts: time
    ends: time


@dataclass(frozen=True, slots=True)
class AvailabilityException:
    """A period a worker is away (``available`` False) or works extra (True)."""

    id: UUID
    starts_at: datetime
    ends_at: datetime
    available: bool
    note: str | None = None
