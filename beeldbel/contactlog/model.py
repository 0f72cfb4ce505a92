"""The contact log: every contact with a client, written from the event, never retyped. Pure.

A finished call, a call the client never joined, a home visit that took place or found nobody
home, and each item of a case meeting become entries in the file of the client they were
about. An entry's ``source`` names the event it was written from (one per appointment and
client), so an event delivered twice is filed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

__all__ = [
    "ContactEntry",
    "ContactKind",
    "Direction",
    "Quality",
    "Taking",
    "entries_for_call",
    "entry_for_visit",
    "source_of",
]


class ContactKind(StrEnum):
    CALL = "call"  # a video call took place
    NOT_JOINED = "not_joined"  # a call the client never joined
    VISIT = "visit"  # a home visit took place
    NOBODY_HOME = "nobody_home"  # a home visit where the client was not there
    CASE_MEETING = "case_meeting"  # the client was discussed in a case meeting


@dataclass(frozen=True, slots=True)
class Taking:
    """Someone in the contact: a role, whether they took part, and when."""

    role: str
    took_part: bool
    joined_at: datetime | None = None
    left_at: datetime | None = None
    opened_link: bool = False  # a client or guest opened their invitation link
    subject: str | None = None  # a worker's staff subject


@dataclass(frozen=True, slots=True)
class ContactEntry:
    id: UUID
    client_id: UUID
    kind: ContactKind
    source: str  # the event it was written from: "appointment:<id>:<client id>"
    appointment_id: UUID | None
    occurred_at: datetime
    duration: timedelta
    people: tuple[Taking, ...] = ()
    media_path: str | None = None
    reconnects: int = 0
    ended_because: str | None = None  # ended_by_host, everyone_left, host_gone, not_joined
    topic: str | None = None  # a case meeting's item
    quality: Quality | None = None  # the modes the call went through (the fallback ladder)


@dataclass(frozen=True, slots=True)
class Direction:
    """One sending direction of a call: whose, and the modes it went through in order."""

    role: str
    modes: tuple[str, ...]
    lowest: str


@dataclass(frozen=True, slots=True)
class Quality:
    directions: tuple[Direction, ...]
    phone_recommended: bool = False
    phoned: bool = False  # the worker took the advice

    @classmethod
    def of(cls, data: Mapping[str, object] | None) -> Quality | None:
        """From the quality desk's summary (or its JSON); None stays None."""
        if not data:
            return None
        directions = data.get("directions", [])
        assert isinstance(directions, list)
        return cls(
            directions=tuple(
                Direction(str(d["role"]), tuple(str(m) for m in d["modes"]), str(d["lowest"]))
                for d in directions
                if isinstance(d, dict)
            ),
            phone_recommended=bool(data.get("phone_recommended", False)),
            phoned=bool(data.get("phoned", False)),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "directions": [
                {"role": d.role, "modes": list(d.modes), "lowest": d.lowest}
                for d in self.directions
            ],
            "phone_recommended": self.phone_recommended,
            "phoned": self.phoned,
        }


def source_of(appointment_id: UUID, client_id: UUID) -> str:
    return f"appointment:{appointment_id}:{client_id}"


def entries_for_call(
    *,
    new_id: Callable[[], UUID],
    appointment_id: UUID,
    kind: str,
    clients: tuple[tuple[UUID, str | None], ...],
    scheduled_at: datetime,
    reason: str,
    started_at: datetime | None,
    ended_at: datetime,
    media_path: str | None,
    reconnects: int,
    people: tuple[Taking, ...],
    quality: Quality | None = None,
) -> list[ContactEntry]:
    """The entries a finished call files: one per client it was about (a case meeting: one
    per item, with its topic). ``new_id`` makes ids (a callable, given by the adapter)."""
    meeting = kind == "case_meeting"
    if meeting:
        entry_kind = ContactKind.CASE_MEETING
    elif reason == "not_joined":
        entry_kind = ContactKind.NOT_JOINED
    else:
        entry_kind = ContactKind.CALL
    duration = ended_at - started_at if started_at is not None else timedelta(0)
    return [
        ContactEntry(
            id=new_id(),
            client_id=client_id,
            kind=entry_kind,
            source=source_of(appointment_id, client_id),
            appointment_id=appointment_id,
            occurred_at=started_at or scheduled_at,
            duration=duration,
            people=people,
            media_path=media_path,
            reconnects=reconnects,
            ended_because=reason,
            topic=topic,
            quality=quality,
        )
        for client_id, topic in clients
    ]


def entry_for_visit(
    *,
    entry_id: UUID,
    appointment_id: UUID,
    client_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    took_place: bool,
    workers: tuple[str, ...],
) -> ContactEntry:
    return ContactEntry(
        id=entry_id,
        client_id=client_id,
        kind=ContactKind.VISIT if took_place else ContactKind.NOBODY_HOME,
        source=source_of(appointment_id, client_id),
        appointment_id=appointment_id,
        occurred_at=starts_at,
        duration=ends_at - starts_at if took_place else timedelta(0),
        people=(
            *(Taking("worker", True, subject=w) for w in workers),
            Taking("client", took_place),
        ),
    )
