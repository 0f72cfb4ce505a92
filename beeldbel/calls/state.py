"""The life of one call: lobby, waiting room, admission, drops and returns, the end. Pure.

A call belongs to one appointment. Each participant has a seat:

* ``waiting``  — in the waiting room until a worker admits them;
* ``in_call``  — admitted (workers are in at once; the invited client too when policy says
  so);
* ``away``     — their connection dropped: the seat is kept for the grace period, and when
  they come back within it they are in again without being admitted again;
* ``left``     — they left, or the grace period ran out (the place is released).

:func:`step` takes the call, one event and ``now`` and returns the new call and the commands
for the adapter (tell someone, ring the host, file the outcome). Nothing here does I/O or
reads a clock; :func:`step` is the only way a call changes.

The call is *live* from the first moment a worker and someone else are both in it, and ends
when a worker ends it for all, when everyone has left, or when no worker has been in it for a
grace period while others wait. A call that never went live ends as *not joined*.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

from beeldbel.errors import Forbidden, InvalidInput, InvalidTransition, NotFound

__all__ = [
    "DEFAULT_GRACE",
    "Admit",
    "Call",
    "Command",
    "Connect",
    "Disconnect",
    "EndForAll",
    "EndReason",
    "Event",
    "Finished",
    "Leave",
    "Outcome",
    "Phase",
    "ReportPath",
    "Seat",
    "SeatOutcome",
    "SeatStatus",
    "Tell",
    "Tick",
    "close_unjoined",
    "new_call",
    "outcome_of",
    "step",
]

DEFAULT_GRACE: Final = timedelta(seconds=60)
WORKER: Final = "worker"
CLIENT: Final = "client"


class Phase(StrEnum):
    OPEN = "open"  # the lobby is open; nobody talks yet
    LIVE = "live"  # a worker and someone else have been in the call together
    ENDED = "ended"


class SeatStatus(StrEnum):
    WAITING = "waiting"
    IN_CALL = "in_call"
    AWAY = "away"
    LEFT = "left"


class EndReason(StrEnum):
    ENDED_BY_HOST = "ended_by_host"
    EVERYONE_LEFT = "everyone_left"
    HOST_GONE = "host_gone"  # no worker came back within the grace period
    NOT_JOINED = "not_joined"  # it never went live


@dataclass(frozen=True, slots=True)
class Seat:
    participant_id: UUID
    role: str  # worker, client or guest
    status: SeatStatus
    admitted: bool = False  # kept while away: coming back needs no new admission
    first_joined_at: datetime | None = None
    in_call_since: datetime | None = None
    away_since: datetime | None = None
    left_at: datetime | None = None
    reconnects: int = 0
    media_path: str | None = None  # "direct" or "relay", as the browser reports it
    took_part: bool = False  # was in the call while it was live (kept across a rejoin)

    @property
    def present(self) -> bool:
        return self.status is not SeatStatus.LEFT


@dataclass(frozen=True, slots=True)
class Call:
    appointment_id: UUID
    phase: Phase
    opened_at: datetime
    grace: timedelta = DEFAULT_GRACE
    auto_admit_client: bool = False
    colleagues_count: bool = False  # a case meeting: two workers together make it live
    seats: tuple[Seat, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    no_host_since: datetime | None = None  # when the last worker went away or left
    version: int = 1

    def seat(self, participant_id: UUID) -> Seat | None:
        return next((s for s in self.seats if s.participant_id == participant_id), None)

    def waiting(self) -> tuple[UUID, ...]:
        return tuple(s.participant_id for s in self.seats if s.status is SeatStatus.WAITING)

    def in_call(self) -> tuple[UUID, ...]:
        return tuple(s.participant_id for s in self.seats if s.status is SeatStatus.IN_CALL)

    def _with(self, seat: Seat) -> Call:
        others = tuple(s for s in self.seats if s.participant_id != seat.participant_id)
        return replace(self, seats=(*others, seat))


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    """A participant's socket arrived (first time, again after a drop, or after leaving)."""

    participant_id: UUID
    role: str


@dataclass(frozen=True, slots=True)
class Admit:
    """A worker lets someone in from the waiting room (``participant_id`` None: everyone)."""

    by: UUID
    participant_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The socket is gone. Not "left": the seat is kept for the grace period."""

    participant_id: UUID


@dataclass(frozen=True, slots=True)
class Leave:
    participant_id: UUID


@dataclass(frozen=True, slots=True)
class EndForAll:
    by: UUID


@dataclass(frozen=True, slots=True)
class ReportPath:
    participant_id: UUID
    path: str  # "direct" or "relay"


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: grace periods may have run out."""


Event = Connect | Admit | Disconnect | Leave | EndForAll | ReportPath | Tick


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tell:
    """Tell participants (None: everyone present) what changed; ``cue`` rings the host."""

    what: str  # waiting, admitted, seat_released, host_left, ended, state
    to: tuple[UUID, ...] | None = None
    about: UUID | None = None
    cue: bool = False


@dataclass(frozen=True, slots=True)
class SeatOutcome:
    participant_id: UUID
    role: str
    joined_at: datetime | None
    left_at: datetime | None
    reconnects: int
    took_part: bool  # was in the call while it was live


@dataclass(frozen=True, slots=True)
class Outcome:
    appointment_id: UUID
    reason: EndReason
    started_at: datetime | None
    ended_at: datetime
    duration: timedelta
    media_path: str | None  # "relay" if any participant's path was relayed
    reconnects: int
    seats: tuple[SeatOutcome, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Finished:
    """The call is over: file this outcome once."""

    outcome: Outcome


Command = Tell | Finished


# --- the machine ------------------------------------------------------------------------------


def new_call(
    appointment_id: UUID,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    auto_admit_client: bool = False,
    colleagues_count: bool = False,
) -> Call:
    return Call(
        appointment_id,
        Phase.OPEN,
        now,
        grace=grace,
        auto_admit_client=auto_admit_client,
        colleagues_count=colleagues_count,
        no_host_since=now,
    )


def step(call: Call, event: Event, now: datetime) -> tuple[Call, list[Command]]:
    """The call after ``event`` at ``now``, and what the adapter must do about it."""
    if call.phase is Phase.ENDED:
        if isinstance(event, Tick | Disconnect | ReportPath):
            return call, []
        raise InvalidTransition("the call has ended", details={"reason": "call_ended"})
    commands: list[Command] = []
    call = _expire(call, now, commands)  # a return after the grace finds the seat released
    if isinstance(event, Connect):
        call = _connect(call, event, now, commands)
    elif isinstance(event, Admit):
        call = _admit(call, event, now, commands)
    elif isinstance(event, Disconnect):
        call = _away(call, event.participant_id, now, commands)
    elif isinstance(event, Leave):
        call = _leave(call, event.participant_id, now, commands)
    elif isinstance(event, EndForAll):
        _require_host(call, event.by)
        call = _end(call, EndReason.ENDED_BY_HOST, now, commands)
    elif isinstance(event, ReportPath):
        seat = _require_seat(call, event.participant_id)
        if event.path not in ("direct", "relay"):
            raise InvalidInput("a media path is direct or relay", details={"field": "path"})
        # Relayed once counts as relayed: the outcome says whether a relay carried the call.
        path = "relay" if seat.media_path == "relay" else event.path
        call = call._with(replace(seat, media_path=path))
    call = _expire(call, now, commands)
    call = _settle(call, now, commands)
    return replace(call, version=call.version + 1), commands


def _require_seat(call: Call, participant_id: UUID) -> Seat:
    seat = call.seat(participant_id)
    if seat is None:
        raise NotFound("not in this call", details={"participant_id": str(participant_id)})
    return seat


def _require_host(call: Call, participant_id: UUID) -> Seat:
    seat = _require_seat(call, participant_id)
    if seat.role != WORKER or seat.status is not SeatStatus.IN_CALL:
        raise Forbidden("only a worker in the call may do this", details={"reason": "not_host"})
    return seat


def _hosts_in(call: Call) -> tuple[UUID, ...]:
    return tuple(
        s.participant_id for s in call.seats if s.role == WORKER and s.status is SeatStatus.IN_CALL
    )


def _connect(call: Call, event: Connect, now: datetime, commands: list[Command]) -> Call:
    seat = call.seat(event.participant_id)
    if seat is not None and seat.role != event.role:
        raise Forbidden("the seat belongs to someone else", details={"reason": "role"})
    if seat is not None and seat.status in (
        SeatStatus.AWAY,
        SeatStatus.IN_CALL,
        SeatStatus.WAITING,
    ):
        # Back within the grace period (or a second connection replacing the first):
        # the same place, no new admission.
        status = SeatStatus.IN_CALL if seat.admitted else SeatStatus.WAITING
        back = replace(
            seat,
            status=status,
            away_since=None,
            reconnects=seat.reconnects + 1,
            in_call_since=seat.in_call_since if status is SeatStatus.IN_CALL else None,
        )
        commands.append(Tell("state", about=seat.participant_id))
        return call._with(back)
    admitted = event.role == WORKER or (event.role == CLIENT and call.auto_admit_client)
    new = Seat(
        participant_id=event.participant_id,
        role=event.role,
        status=SeatStatus.IN_CALL if admitted else SeatStatus.WAITING,
        admitted=admitted,
        first_joined_at=seat.first_joined_at if seat and seat.first_joined_at else now,
        in_call_since=now if admitted else None,
        reconnects=seat.reconnects if seat else 0,
        media_path=seat.media_path if seat else None,
        took_part=seat.took_part if seat else False,
    )
    call = call._with(new)
    if admitted:
        commands.append(Tell("admitted", about=new.participant_id))
    else:
        hosts = _hosts_in(call)
        commands.append(Tell("waiting", to=hosts or None, about=new.participant_id, cue=True))
    return call


def _admit(call: Call, event: Admit, now: datetime, commands: list[Command]) -> Call:
    _require_host(call, event.by)
    targets = call.waiting() if event.participant_id is None else (event.participant_id,)
    for participant_id in targets:
        seat = _require_seat(call, participant_id)
        if seat.status is not SeatStatus.WAITING:
            if event.participant_id is not None:
                raise InvalidTransition(
                    "only someone in the waiting room can be admitted",
                    details={"status": seat.status.value},
                )
            continue
        call = call._with(
            replace(seat, status=SeatStatus.IN_CALL, admitted=True, in_call_since=now)
        )
        commands.append(Tell("admitted", about=participant_id))
    return call


def _away(call: Call, participant_id: UUID, now: datetime, commands: list[Command]) -> Call:
    seat = call.seat(participant_id)
    if seat is None or seat.status in (SeatStatus.AWAY, SeatStatus.LEFT):
        return call
    commands.append(Tell("away", about=participant_id))
    return call._with(replace(seat, status=SeatStatus.AWAY, away_since=now))


def _leave(call: Call, participant_id: UUID, now: datetime, commands: list[Command]) -> Call:
    seat = _require_seat(call, participant_id)
    if seat.status is SeatStatus.LEFT:
        return call
    commands.append(Tell("left", about=participant_id))
    return call._with(
        replace(seat, status=SeatStatus.LEFT, admitted=False, left_at=now, away_since=None)
    )


def _expire(call: Call, now: datetime, commands: list[Command]) -> Call:
    """Seats away longer than the grace period are released."""
    for seat in call.seats:
        if (
            seat.status is SeatStatus.AWAY
            and seat.away_since is not None
            and now - seat.away_since >= call.grace
        ):
            call = call._with(
                replace(
                    seat,
                    status=SeatStatus.LEFT,
                    admitted=False,
                    left_at=seat.away_since,
                    away_since=None,
                )
            )
            commands.append(Tell("seat_released", about=seat.participant_id))
    return call


def _settle(call: Call, now: datetime, commands: list[Command]) -> Call:
    """Go live, note a missing host, end when nobody (or no worker) is left."""
    if call.phase is Phase.ENDED:
        return call
    in_call = [s for s in call.seats if s.status is SeatStatus.IN_CALL]
    # A worker whose connection dropped is not there: the no-host clock starts at the drop,
    # so a call without its worker ends one grace period later, as a released seat would.
    hosts_present = [s for s in in_call if s.role == WORKER]
    others = [s for s in in_call if s.role != WORKER or call.colleagues_count]
    if (
        call.phase is Phase.OPEN
        and hosts_present
        and len(others) >= (2 if call.colleagues_count else 1)
    ):
        # A worker and the client or a guest; in a case meeting, also two colleagues.
        call = replace(call, phase=Phase.LIVE, started_at=now)
    if call.phase is Phase.LIVE:
        call = replace(
            call,
            seats=tuple(
                replace(s, took_part=True) if s.status is SeatStatus.IN_CALL else s
                for s in call.seats
            ),
        )
    if hosts_present:
        call = replace(call, no_host_since=None)
    elif call.no_host_since is None:
        call = replace(call, no_host_since=now)
        if any(s.present for s in call.seats):
            commands.append(Tell("host_left"))
    if call.phase is Phase.LIVE and not any(s.present for s in call.seats):
        return _end(call, EndReason.EVERYONE_LEFT, now, commands)
    if (
        call.phase is Phase.LIVE
        and call.no_host_since is not None
        and now - call.no_host_since >= call.grace
    ):
        return _end(call, EndReason.HOST_GONE, now, commands)
    return call


def _end(call: Call, reason: EndReason, now: datetime, commands: list[Command]) -> Call:
    if call.phase is not Phase.LIVE and reason is not EndReason.ENDED_BY_HOST:
        reason = EndReason.NOT_JOINED
    if call.phase is Phase.OPEN:
        reason = EndReason.NOT_JOINED
    seats = tuple(
        replace(
            s,
            status=SeatStatus.LEFT,
            admitted=False,
            left_at=s.left_at if s.status is SeatStatus.LEFT else (s.away_since or now),
            away_since=None,
        )
        for s in call.seats
    )
    ended = replace(call, phase=Phase.ENDED, ended_at=now, end_reason=reason, seats=seats)
    commands.append(Tell("ended"))
    commands.append(Finished(outcome_of(ended)))
    return ended


def close_unjoined(call: Call, now: datetime) -> tuple[Call, list[Command]]:
    """The appointment is over and the call never went live: end it as not joined."""
    if call.phase is not Phase.OPEN:
        return call, []
    commands: list[Command] = []
    ended = _end(call, EndReason.NOT_JOINED, now, commands)
    return replace(ended, version=call.version + 1), commands


def outcome_of(call: Call) -> Outcome:
    assert call.ended_at is not None
    assert call.end_reason is not None
    started = call.started_at
    duration = call.ended_at - started if started is not None else timedelta(0)
    paths = {s.media_path for s in call.seats if s.media_path}
    return Outcome(
        appointment_id=call.appointment_id,
        reason=call.end_reason,
        started_at=started,
        ended_at=call.ended_at,
        duration=duration,
        media_path="relay" if "relay" in paths else ("direct" if paths else None),
        reconnects=sum(s.reconnects for s in call.seats),
        seats=tuple(
            SeatOutcome(
                participant_id=s.participant_id,
                role=s.role,
                joined_at=s.first_joined_at,
                left_at=s.left_at,
                reconnects=s.reconnects,
                took_part=s.took_part,
            )
            for s in sorted(call.seats, key=lambda s: (s.role != WORKER, str(s.participant_id)))
        ),
    )
