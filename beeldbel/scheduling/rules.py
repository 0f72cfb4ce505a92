"""The agenda's rules: making and changing appointments, recurrence, overlap, availability,
join windows. Pure functions of plain values and ``now``.

Times are UTC instants on the way in and out; wall-clock reasoning (working hours, a
weekly 10:00 that stays 10:00 across daylight-saving changes) happens in
:data:`~beeldbel.scheduling.model.AGENDA_ZONE` through :mod:`zoneinfo`.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from beeldbel.errors import InvalidInput, InvalidTransition
from beeldbel.scheduling.model import (
    JOIN_GRACE,
    LOBBY_LEAD,
    MAX_DURATION,
    MIN_DURATION,
    AgendaItem,
    Appointment,
    AvailabilityException,
    Booking,
    Kind,
    Occurrence,
    Participant,
    ParticipantRole,
    Recurrence,
    Status,
    WorkingHours,
)

__all__ = [
    "MAX_GUESTS",
    "MAX_ITEMS",
    "MAX_OCCURRENCES",
    "MAX_PARTICIPANTS",
    "JoinState",
    "JoinVerdict",
    "available",
    "bookings",
    "cancel",
    "change_kind",
    "check_appointment",
    "expand",
    "join_verdict",
    "local_wall_time",
    "overlaps",
    "parse_rule",
    "reschedule",
    "rule_count",
    "set_status",
    "split_series",
    "validate_hours",
    "validate_title",
]

MAX_TITLE: Final = 200
MAX_TOPIC: Final = 300
MAX_REASON: Final = 500
MAX_PARTICIPANTS: Final = 20
MAX_GUESTS: Final = 5
MAX_ITEMS: Final = 20
MAX_OCCURRENCES: Final = 800  # more than fifteen years of weekly check-ins
MAX_RULE: Final = 300
MAX_HOURS_PER_DAY: Final = 4  # windows per weekday (a split shift, say)
ALLOWED_FREQUENCIES: Final = frozenset({"DAILY", "WEEKLY", "MONTHLY"})
ALLOWED_PARTS: Final = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST"}
)
_MONTHDAY: Final = re.compile(r"-?([1-9]|[12][0-9]|3[01])")
_BYDAY: Final = re.compile(r"[+-]?[1-5]?(MO|TU|WE|TH|FR|SA|SU)")  # a month has five of a day


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def validate_title(title: str | None, field: str = "title", maximum: int = MAX_TITLE) -> str | None:
    if title is None:
        return None
    cleaned = _clean(title)
    if not cleaned:
        return None
    if len(cleaned) > maximum:
        raise InvalidInput(f"{field} has at most {maximum} characters", details={"field": field})
    return cleaned


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("a time needs its offset (UTC or +01:00)", details={"field": field})
    return moment.astimezone(UTC)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: one ending at 10:00 and one starting at 10:00 do not overlap."""
    return a_start < b_end and b_start < a_end


# --- appointments ----------------------------------------------------------------------------


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("the end must come after the start", details={"field": "ends_at"})
    duration = ends_at - starts_at
    if duration < MIN_DURATION or duration > MAX_DURATION:
        raise InvalidInput(
            "an appointment lasts between 5 minutes and 8 hours", details={"field": "ends_at"}
        )


def check_appointment(appointment: Appointment) -> Appointment:
    """The appointment, cleaned, or InvalidInput naming what is wrong with it."""
    a = appointment
    starts_at, ends_at = _aware(a.starts_at, "starts_at"), _aware(a.ends_at, "ends_at")
    _check_times(starts_at, ends_at)
    title = validate_title(a.title)
    participants = a.participants
    if len(participants) > MAX_PARTICIPANTS:
        raise InvalidInput(
            f"at most {MAX_PARTICIPANTS} participants", details={"field": "participants"}
        )
    keys = [p.key for p in participants]
    if len(set(keys)) != len(keys):
        raise InvalidInput("someone is in the appointment twice", details={"field": "participants"})
    workers = [p for p in participants if p.role is ParticipantRole.WORKER]
    clients = [p for p in participants if p.role is ParticipantRole.CLIENT]
    guests = [p for p in participants if p.role is ParticipantRole.GUEST]
    for p in participants:
        _check_participant(p)
    if not workers:
        raise InvalidInput("an appointment needs a worker", details={"field": "workers"})
    if len(guests) > MAX_GUESTS:
        raise InvalidInput(f"at most {MAX_GUESTS} guests", details={"field": "guests"})
    items = tuple(_check_item(item, starts_at, ends_at) for item in a.items)
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} agenda items", details={"field": "items"})
    if a.kind is Kind.CASE_MEETING:
        if a.client_id is not None:
            raise InvalidInput(
                "a case meeting is about the clients of its agenda items",
                details={"field": "client_id"},
            )
        item_clients = {item.client_id for item in items}
        for p in clients:
            if p.client_id not in item_clients:
                raise InvalidInput(
                    "a client takes part in a case meeting for an item about them",
                    details={"field": "participants"},
                )
        item_ids = {item.id for item in items}
        for p in guests:
            if p.item_id is not None and p.item_id not in item_ids:
                raise InvalidInput(
                    "a guest's item is not on the agenda", details={"field": "guests"}
                )
            if p.member_id is not None and len(item_clients) != 1 and p.item_id is None:
                raise InvalidInput(
                    "a guest from a client's network joins for that client's item",
                    details={"field": "guests"},
                )
    else:
        if a.client_id is None:
            raise InvalidInput(
                f"a {a.kind.value} is with one client", details={"field": "client_id"}
            )
        if items:
            raise InvalidInput("only a case meeting has agenda items", details={"field": "items"})
        if [p.client_id for p in clients] != [a.client_id]:
            raise InvalidInput(
                "the client takes part in their own appointment",
                details={"field": "participants"},
            )
        if any(p.item_id is not None for p in guests):
            raise InvalidInput("only a case meeting has agenda items", details={"field": "guests"})
    return replace(a, starts_at=starts_at, ends_at=ends_at, title=title, items=items)


def _check_participant(p: Participant) -> None:
    who = [p.subject is not None, p.client_id is not None, p.member_id is not None]
    expected = {
        ParticipantRole.WORKER: p.subject is not None and sum(who) == 1,
        ParticipantRole.CLIENT: p.client_id is not None and sum(who) == 1,
        ParticipantRole.GUEST: (sum(who) == 0 and p.name is not None)
        or (p.member_id is not None and sum(who) == 1),
    }[p.role]
    if not expected:
        raise InvalidInput(
            f"a {p.role.value} participant is not described right",
            details={"field": "participants"},
        )
    if p.name is not None and not validate_title(p.name, "name"):
        raise InvalidInput("a guest needs a name", details={"field": "guests"})


def _check_item(item: AgendaItem, starts_at: datetime, ends_at: datetime) -> AgendaItem:
    topic = validate_title(item.topic, "topic", MAX_TOPIC)
    if topic is None:
        raise InvalidInput("an agenda item needs a topic", details={"field": "items"})
    if (item.starts_at is None) != (item.ends_at is None):
        raise InvalidInput(
            "an item's slot has a start and an end, or neither", details={"field": "items"}
        )
    if item.starts_at is not None and item.ends_at is not None:
        s, e = _aware(item.starts_at, "items"), _aware(item.ends_at, "items")
        if not starts_at <= s < e <= ends_at:
            raise InvalidInput("an item's slot lies within the meeting", details={"field": "items"})
        return replace(item, topic=topic, starts_at=s, ends_at=e)
    return replace(item, topic=topic)


def bookings(appointment: Appointment) -> list[Booking]:
    """The slots the appointment holds: each worker's and each taking-part client's.

    Guests hold none (their own agenda is not ours); a cancelled appointment holds none.
    """
    if not appointment.status.blocks:
        return []
    held: list[Booking] = []
    for p in appointment.participants:
        if p.subject is not None:
            held.append(Booking(f"worker:{p.subject}", appointment.starts_at, appointment.ends_at))
        elif p.role is ParticipantRole.CLIENT and p.client_id is not None:
            held.append(
                Booking(f"client:{p.client_id}", appointment.starts_at, appointment.ends_at)
            )
    return held


_NEXT: Final[dict[Status, frozenset[Status]]] = {
    Status.PLANNED: frozenset(
        {Status.LOBBY_OPEN, Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED}
    ),
    Status.LOBBY_OPEN: frozenset(
        {Status.IN_PROGRESS, Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED}
    ),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.NO_SHOW: frozenset(),
    Status.CANCELLED: frozenset(),
}


def set_status(appointment: Appointment, status: Status, now: datetime) -> Appointment:
    """Move the appointment on (planned → lobby open → in progress → completed; no-show;
    cancelled); InvalidTransition for a step back or out of a final state."""
    if status is appointment.status:
        return appointment
    if status not in _NEXT[appointment.status]:
        raise InvalidTransition(
            f"an appointment that is {appointment.status.value} cannot become {status.value}",
            details={"status": appointment.status.value, "to": status.value},
        )
    if status in (Status.COMPLETED, Status.NO_SHOW) and now < appointment.starts_at - LOBBY_LEAD:
        raise InvalidTransition(
            "an appointment that has not started cannot be completed or missed",
            details={"status": appointment.status.value, "to": status.value},
        )
    return replace(appointment, status=status, updated_at=now, version=appointment.version + 1)


def cancel(appointment: Appointment, reason: str | None, now: datetime) -> Appointment:
    if appointment.status is Status.CANCELLED:
        raise InvalidTransition(
            "the appointment is already cancelled", details={"status": appointment.status.value}
        )
    cancelled = set_status(appointment, Status.CANCELLED, now)
    return replace(cancelled, cancel_reason=validate_title(reason, "reason", MAX_REASON))


def _changeable(appointment: Appointment) -> None:
    if appointment.status.final or appointment.status is Status.IN_PROGRESS:
        raise InvalidTransition(
            f"an appointment that is {appointment.status.value} cannot be changed",
            details={"status": appointment.status.value},
        )


def reschedule(
    appointment: Appointment,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    *,
    detach: bool = True,
) -> Appointment:
    """A new time; participants (and their links) stay. Items with their own slot move
    along with the meeting."""
    _changeable(appointment)
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    _check_times(starts_at, ends_at)
    if (starts_at, ends_at) == (appointment.starts_at, appointment.ends_at):
        return appointment
    shift = starts_at - appointment.starts_at
    items = tuple(
        replace(i, starts_at=i.starts_at + shift, ends_at=i.ends_at + shift)
        if i.starts_at is not None and i.ends_at is not None
        else i
        for i in appointment.items
    )
    moved = replace(
        appointment,
        starts_at=starts_at,
        ends_at=ends_at,
        items=items,
        status=Status.PLANNED if appointment.status is Status.LOBBY_OPEN else appointment.status,
        detached=appointment.detached or (detach and appointment.series_id is not None),
        updated_at=now,
        version=appointment.version + 1,
    )
    return check_appointment(moved)


def change_kind(appointment: Appointment, kind: Kind, now: datetime) -> Appointment:
    """Turn a visit into a call or a call into a visit ("stap ik op de fiets")."""
    _changeable(appointment)
    if kind is appointment.kind:
        return appointment
    if Kind.CASE_MEETING in (kind, appointment.kind):
        raise InvalidInput(
            "only a check-in and a visit turn into each other", details={"field": "kind"}
        )
    return replace(
        appointment,
        kind=kind,
        # A visit has no waiting room: a call that becomes a visit is simply planned.
        status=Status.PLANNED if appointment.status is Status.LOBBY_OPEN else appointment.status,
        detached=appointment.detached or appointment.series_id is not None,
        updated_at=now,
        version=appointment.version + 1,
    )


# --- recurrence ------------------------------------------------------------------------------


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name or not value or name in parts:
            raise InvalidInput("not a recurrence rule", details={"field": "rrule"})
        parts[name] = value
    return parts


def parse_rule(text: str) -> str:
    """An RFC 5545 RRULE value we accept: DAILY, WEEKLY or MONTHLY, no DTSTART, the time of
    day from the series' start (no BYHOUR and the like), at most :data:`MAX_OCCURRENCES`
    occurrences when it has a COUNT."""
    cleaned = text.strip().upper()
    if cleaned.startswith("RRULE:"):
        cleaned = cleaned[len("RRULE:") :]
    if not cleaned or len(cleaned) > MAX_RULE or not cleaned.isprintable():
        raise InvalidInput("not a recurrence rule", details={"field": "rrule"})
    parts = _parts(cleaned)
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise InvalidInput("a series repeats daily, weekly or monthly", details={"field": "rrule"})
    if parts.keys() & {"BYHOUR", "BYMINUTE", "BYSECOND", "DTSTART"}:
        raise InvalidInput(
            "the time of day comes from the series' start, not from the rule",
            details={"field": "rrule"},
        )
    # Only parts that cannot make a rule that never occurs (BYMONTH=2;BYMONTHDAY=30 would
    # send the expansion searching until the year 9999).
    unknown = parts.keys() - ALLOWED_PARTS
    if unknown:
        raise InvalidInput(
            f"a series may use {', '.join(sorted(ALLOWED_PARTS))}; "
            f"not {', '.join(sorted(unknown))}",
            details={"field": "rrule"},
        )
    if "BYMONTHDAY" in parts and not all(
        _MONTHDAY.fullmatch(d) for d in parts["BYMONTHDAY"].split(",")
    ):
        raise InvalidInput("BYMONTHDAY is 1 to 31 or -1 to -31", details={"field": "rrule"})
    if "BYSETPOS" in parts and (
        parts["FREQ"] != "MONTHLY"
        or "BYDAY" not in parts
        or parts["BYSETPOS"] not in {"1", "2", "3", "4", "-1"}
    ):
        raise InvalidInput(
            "BYSETPOS picks the first to fourth or the last (-1) of a month's BYDAY days",
            details={"field": "rrule"},
        )
    count = parts.get("COUNT")
    if count is not None and not (count.isdigit() and 1 <= int(count) <= MAX_OCCURRENCES):
        raise InvalidInput(
            f"a series has at most {MAX_OCCURRENCES} occurrences", details={"field": "rrule"}
        )
    if count is not None and "UNTIL" in parts:
        raise InvalidInput(
            "a series ends by COUNT or by UNTIL, not both", details={"field": "rrule"}
        )
    interval = parts.get("INTERVAL")
    if interval is not None and not (interval.isascii() and interval.isdigit() and int(interval)):
        raise InvalidInput("INTERVAL is a positive whole number", details={"field": "rrule"})
    if "BYDAY" in parts and not all(_BYDAY.fullmatch(d) for d in parts["BYDAY"].split(",")):
        raise InvalidInput("not a recurrence rule: BYDAY", details={"field": "rrule"})
    try:
        rrulestr(cleaned, dtstart=datetime(2000, 1, 3, tzinfo=UTC))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise InvalidInput(f"not a recurrence rule: {error}", details={"field": "rrule"}) from None
    return cleaned


def rule_count(rule: str) -> int | None:
    count = _parts(parse_rule(rule)).get("COUNT")
    return None if count is None else int(count)


def _rule(recurrence: Recurrence) -> rrule:
    zone = ZoneInfo(recurrence.zone)
    start = recurrence.local_start.replace(tzinfo=zone)
    parsed = rrulestr(parse_rule(recurrence.rule), dtstart=start)
    assert isinstance(parsed, rrule)
    return parsed


def expand(
    recurrence: Recurrence, until: datetime, since: datetime | None = None
) -> list[Occurrence]:
    """Every occurrence starting before ``until`` (UTC, exclusive) and before the series'
    own end (from ``since`` on, if given; indexes still count from the series' first), in
    order, at most :data:`MAX_OCCURRENCES` of them. Each keeps its wall-clock time in the
    series' zone: a weekly 10:00 is 09:00 UTC in winter and 08:00 UTC in summer. A start
    that does not exist on the day clocks go forward (02:30) moves on by the gap, as RFC
    5545 says."""
    if not recurrence.kinds:
        raise InvalidInput("a series needs at least one kind", details={"field": "kinds"})
    end = until if recurrence.until is None else min(until, recurrence.until)
    found: list[Occurrence] = []
    for index, moment in enumerate(_rule(recurrence)):
        if len(found) >= MAX_OCCURRENCES:
            break
        starts_at = moment.astimezone(UTC)
        if starts_at >= end:
            break
        if since is not None and starts_at < since:
            continue
        ends_at = starts_at + recurrence.duration  # elapsed time, also when clocks change
        kind = recurrence.kinds[index % len(recurrence.kinds)]
        found.append(Occurrence(index, starts_at, ends_at, kind))
    return found


def local_wall_time(moment: datetime, zone: str) -> datetime:
    """The naive wall-clock time of a UTC instant in ``zone``."""
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def split_series(
    recurrence: Recurrence, at: datetime, new_start: datetime, duration: timedelta
) -> tuple[Recurrence, Recurrence]:
    """ "This and following": the series up to ``at`` (exclusive), and a new one with the
    same rule from ``new_start`` (UTC) whose wall-clock time and length hold from then on.
    Kinds keep cycling where the old series was."""
    if recurrence.until is not None and at >= recurrence.until:
        raise InvalidInput("the series has ended before then", details={"field": "scope"})
    done = len(expand(recurrence, at))
    kinds = (
        recurrence.kinds[done % len(recurrence.kinds) :]
        + recurrence.kinds[: done % len(recurrence.kinds)]
    )
    before = replace(recurrence, until=at)
    count = rule_count(recurrence.rule)
    remaining = count - done if count is not None else None
    text = recurrence.rule
    if remaining is not None:
        if remaining < 1:
            raise InvalidInput("the series has ended before then", details={"field": "scope"})
        text = ";".join(
            f"COUNT={remaining}" if part.startswith("COUNT=") else part
            for part in parse_rule(recurrence.rule).split(";")
        )
    after = Recurrence(
        rule=text,
        local_start=local_wall_time(new_start, recurrence.zone),
        duration=duration,
        kinds=kinds,
        zone=recurrence.zone,
        until=recurrence.until,
    )
    return before, after


# --- availability ----------------------------------------------------------------------------


def validate_hours(hours: Iterable[WorkingHours]) -> tuple[WorkingHours, ...]:
    """Working hours in order, each window a positive span within one day, none overlapping."""
    ordered = sorted(hours, key=lambda h: (h.weekday, h.starts))
    for h in ordered:
        if not 0 <= h.weekday <= 6:
            raise InvalidInput("a weekday is 0 (Monday) to 6 (Sunday)", details={"field": "hours"})
        if h.ends <= h.starts:
            raise InvalidInput("working hours end after they start", details={"field": "hours"})
    per_day: dict[int, list[WorkingHours]] = {}
    for h in ordered:
        per_day.setdefault(h.weekday, []).append(h)
    for windows in per_day.values():
        if len(windows) > MAX_HOURS_PER_DAY:
            raise InvalidInput(
                f"at most {MAX_HOURS_PER_DAY} windows a day", details={"field": "hours"}
            )
        for a, b in itertools.pairwise(windows):
            if b.starts < a.ends:
                raise InvalidInput("working hours overlap", details={"field": "hours"})
    return tuple(ordered)


def _windows_on(
    day: date, hours: Sequence[WorkingHours], zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    found = []
    for h in hours:
        if h.weekday == day.weekday():
            start = datetime.combine(day, h.starts, zone).astimezone(UTC)
            end = datetime.combine(day, h.ends, zone).astimezone(UTC)
            found.append((start, end))
    return found


def _covered(start: datetime, end: datetime, windows: list[tuple[datetime, datetime]]) -> bool:
    """Whether the union of ``windows`` covers ``[start, end)``."""
    point = start
    for w_start, w_end in sorted(windows):
        if w_start > point:
            break
        point = max(point, w_end)
        if point >= end:
            return True
    return point >= end


def available(
    hours: Sequence[WorkingHours],
    exceptions: Sequence[AvailabilityException],
    starts_at: datetime,
    ends_at: datetime,
    zone: str,
) -> bool:
    """Whether a worker can be booked for ``[starts_at, ends_at)``.

    A worker who has set no working hours can be booked any time (nothing to respect yet).
    Away (an exception with ``available`` False) always wins; otherwise the span must be
    covered by working hours on the days it falls on (wall-clock, in ``zone``) together
    with extra periods (exceptions with ``available`` True).
    """
    if any(
        not e.available and overlaps(e.starts_at, e.ends_at, starts_at, ends_at) for e in exceptions
    ):
        return False
    if not hours:
        return True
    tz = ZoneInfo(zone)
    windows = [(e.starts_at, e.ends_at) for e in exceptions if e.available]
    first = starts_at.astimezone(tz).date()
    last = (ends_at - timedelta(microseconds=1)).astimezone(tz).date()
    day = first
    while day <= last:
        windows.extend(_windows_on(day, hours, tz))
        day += timedelta(days=1)
    return _covered(starts_at, ends_at, windows)


# --- join links ------------------------------------------------------------------------------


class JoinState(StrEnum):
    EARLY = "early"  # the lobby is not open yet: count down to ``opens_at``
    OPEN = "open"  # exchange the code for a join token
    CANCELLED = "cancelled"
    ENDED = "ended"
    NOT_A_CALL = "not_a_call"  # a home visit: there is nothing to join


@dataclass(frozen=True, slots=True)
class JoinVerdict:
    state: JoinState
    opens_at: datetime
    closes_at: datetime


def join_verdict(appointment: Appointment, participant: Participant, now: datetime) -> JoinVerdict:
    """Whether a participant's link lets them in now. A guest bound to an agenda item
    joins for that item's slot; everyone else for the appointment's time. The lobby opens
    :data:`LOBBY_LEAD` before and the link works until :data:`JOIN_GRACE` after, or for as
    long as the call is still going on."""
    starts_at, ends_at = appointment.starts_at, appointment.ends_at
    own_slot = False  # an item's slot: a meeting already going on does not let them in early
    if participant.item_id is not None:
        item = next((i for i in appointment.items if i.id == participant.item_id), None)
        if item is not None and item.starts_at is not None and item.ends_at is not None:
            starts_at, ends_at = item.starts_at, item.ends_at
            own_slot = True
    opens_at, closes_at = starts_at - LOBBY_LEAD, ends_at + JOIN_GRACE
    state = JoinState.OPEN
    if appointment.status is Status.CANCELLED:
        state = JoinState.CANCELLED
    elif not appointment.kind.is_call:
        state = JoinState.NOT_A_CALL
    elif appointment.status in (Status.COMPLETED, Status.NO_SHOW):
        state = JoinState.ENDED
    elif now >= closes_at and appointment.status is not Status.IN_PROGRESS:
        # A call still going on lets its people back in however long it runs: one whose
        # network dropped for a moment must not find "afspraak voorbij" while the worker
        # waits for them in the call.
        state = JoinState.ENDED
    elif now < opens_at and (own_slot or appointment.status is Status.PLANNED):
        state = JoinState.EARLY
    return JoinVerdict(state, opens_at, closes_at)
