"""Call use cases: apply one event to a call's state, in one unit of work, and follow up.

Every event is ``load → step → compare-and-set`` on the call's row, retried when another
process changed the call meanwhile (PostgreSQL; on SQLite writers never interleave). In the
same unit of work the appointment follows the call (lobby open, in progress, completed or
no-show) and a finished call's outcome is stored once. Background jobs tick the calls
(grace periods run out) and close calls nobody joined once their window is over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.audit.model import AuditEvent, AuditRecord
from beeldbel.audit.model import Outcome as AuditOutcome
from beeldbel.audit.service import AuditLog
from beeldbel.calls.state import (
    Call,
    Command,
    EndReason,
    Event,
    Finished,
    Outcome,
    Phase,
    close_unjoined,
    new_call,
    step,
)
from beeldbel.clock import Clock
from beeldbel.contactlog.model import Quality, Taking, entries_for_call
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import SqlAgenda
from beeldbel.db.repositories.calls import SqlCalls
from beeldbel.db.repositories.contactlog import SqlContactLog
from beeldbel.errors import InvalidTransition, Unavailable
from beeldbel.scheduling.model import JOIN_GRACE, Appointment, Kind, Status
from beeldbel.scheduling.rules import set_status

__all__ = ["Applied", "CallService"]

ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Applied:
    call: Call
    commands: list[Command]
    appointment: Appointment


class CallService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        audit: AuditLog,
        *,
        grace: timedelta,
        auto_admit_client: bool,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._grace = grace
        self._auto_admit_client = auto_admit_client
        # What a call went through on the fallback ladder; the signaling hub sets this.
        self.quality_of: Callable[[UUID], dict[str, object] | None] = lambda _: None

    async def state(self, appointment_id: UUID) -> Call | None:
        async with self._db.transaction(read_only=True) as session:
            return await SqlCalls(session).get(appointment_id)

    async def apply(self, appointment_id: UUID, event: Event) -> Applied:
        """The call after ``event``; domain errors (refused admissions and the like) pass."""
        for _ in range(ATTEMPTS):
            now = self._clock.now()
            async with self._db.transaction() as session:
                calls = SqlCalls(session)
                current = await calls.get(appointment_id)
                fresh = current is None
                if current is None:
                    appointment = await SqlAgenda(session).get(appointment_id)
                    current = new_call(
                        appointment_id,
                        now,
                        grace=self._grace,
                        auto_admit_client=self._auto_admit_client,
                        colleagues_count=appointment.kind is Kind.CASE_MEETING,
                    )
                after, commands = step(current, event, now)
                stored = (
                    await calls.add(after, now)
                    if fresh
                    else await calls.replace(current, after, now)
                )
                if not stored:
                    continue  # another process changed the call: read it again
                appointment = await self._follow(session, current, after, commands)
                return Applied(after, commands, appointment)
        raise Unavailable("the call is busy; try again", details={"reason": "contended"})

    async def _follow(
        self, session: AsyncSession, before: Call, after: Call, commands: list[Command]
    ) -> Appointment:
        """The appointment follows its call; a finished call's outcome is stored once."""
        agenda = SqlAgenda(session)
        appointment = await agenda.get(after.appointment_id)
        now = self._clock.now()
        target = appointment.status
        if after.phase is Phase.OPEN and target is Status.PLANNED:
            target = Status.LOBBY_OPEN
        if after.phase is Phase.LIVE and target in (Status.PLANNED, Status.LOBBY_OPEN):
            target = Status.IN_PROGRESS
        for command in commands:
            if isinstance(command, Finished):
                outcome = command.outcome
                quality = self.quality_of(appointment.id)
                if await SqlCalls(session).add_outcome(outcome, quality):
                    await self._file(session, appointment, outcome, quality)
                    await SqlCalls(session).mark_filed(appointment.id, now)
                    await self._audit.append(
                        session,
                        AuditRecord(
                            event=AuditEvent.CREATE,
                            outcome=AuditOutcome.SUCCESS,
                            actor=None,
                            client_id=appointment.client_id,
                            object_type="call_outcome",
                            object_id=str(appointment.id),
                            detail={"reason": outcome.reason.value},
                        ),
                    )
                if outcome.reason is EndReason.NOT_JOINED:
                    target = Status.NO_SHOW
                elif not appointment.status.final:
                    target = Status.COMPLETED
        if target is not appointment.status and not appointment.status.final:
            try:
                changed = set_status(appointment, target, now)
            except InvalidTransition:  # e.g. a no-show marked before the start: leave it
                changed = appointment
            if changed is not appointment:
                await agenda.update(appointment, changed)
                return changed
        return appointment

    async def _file(
        self,
        session: AsyncSession,
        appointment: Appointment,
        outcome: Outcome,
        quality: dict[str, object] | None,
    ) -> None:
        """File the call in the file of every client it was about, once."""
        opened = await SqlAgenda(session).opened(appointment.id)
        seats = {s.participant_id: s for s in outcome.seats}
        people = []
        for p in appointment.participants:
            seat = seats.get(p.id)
            people.append(
                Taking(
                    role=p.role.value,
                    took_part=seat.took_part if seat else False,
                    joined_at=seat.joined_at if seat else None,
                    left_at=seat.left_at if seat else None,
                    opened_link=opened.get(p.id) is not None,
                    subject=p.subject,
                )
            )
        clients: tuple[tuple[UUID, str | None], ...]
        if appointment.kind is Kind.CASE_MEETING:
            topics: dict[UUID, list[str]] = {}
            for item in appointment.items:
                topics.setdefault(item.client_id, []).append(item.topic)
            clients = tuple((cid, "; ".join(t)[:300]) for cid, t in topics.items())
        else:
            clients = tuple((cid, None) for cid in appointment.clients())
        await SqlContactLog(session, self._clock.now()).file(
            entries_for_call(
                new_id=uuid.uuid4,
                appointment_id=appointment.id,
                kind=appointment.kind.value,
                clients=clients,
                scheduled_at=appointment.starts_at,
                reason=outcome.reason.value,
                started_at=outcome.started_at,
                ended_at=outcome.ended_at,
                media_path=outcome.media_path,
                reconnects=outcome.reconnects,
                people=tuple(people),
                quality=Quality.of(quality),
            )
        )

    async def file_outcome(self, appointment_id: UUID) -> None:
        """File a stored outcome (again): entries already filed stay as they are, once.
        For a repair job, or an event that arrives a second time."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            stored = await SqlCalls(session).stored_outcome(appointment_id)
            if stored is None:
                return
            appointment = await SqlAgenda(session).get(appointment_id)
            quality = await SqlCalls(session).stored_quality(appointment_id)
            await self._file(session, appointment, stored, quality)
            await SqlCalls(session).mark_filed(appointment_id, now)

    async def unfinished(self, limit: int = 500) -> list[UUID]:
        async with self._db.transaction(read_only=True) as session:
            return await SqlCalls(session).unfinished(limit)

    async def close_unjoined(self, limit: int = 200) -> int:
        """Calls whose window is over and that never went live end as not joined (the
        appointment becomes a no-show), so every check-in leaves an outcome."""
        now = self._clock.now()
        async with self._db.transaction(read_only=True) as session:
            due = await SqlAgenda(session).calls_due_to_close(now - JOIN_GRACE, limit)
        closed = 0
        for appointment_id in due:
            for _ in range(ATTEMPTS):
                async with self._db.transaction() as session:
                    calls = SqlCalls(session)
                    current = await calls.get(appointment_id)
                    fresh = current is None
                    if current is None:
                        current = new_call(appointment_id, now, grace=self._grace)
                    after, commands = close_unjoined(current, self._clock.now())
                    if not commands:
                        break
                    stored = (
                        await calls.add(after, now)
                        if fresh
                        else await calls.replace(current, after, now)
                    )
                    if not stored:
                        continue
                    await self._follow(session, current, after, commands)
                    closed += 1
                    break
        return closed
