"""The agenda in SQL: appointments with their participants, items and bookings, series,
working hours and availability exceptions.

The database refuses double booking (see :mod:`beeldbel.db.tables.scheduling`): a booking
that overlaps another of the same resource fails on insert or on the cascaded update of
its appointment's times. :meth:`SqlAgenda.add` and :meth:`SqlAgenda.update` run that
write in a savepoint and, when the database refuses, answer Conflict naming the
appointments in the way.

The service asks the access policy before it comes here; this module reads and writes rows
and nothing else. Client names and network members are read for an appointment's answer
only through :class:`~beeldbel.db.repositories.clients.SqlClientFile`, with grants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.db.tables.calls import CallRow
from beeldbel.db.tables.identity import StaffUserRow
from beeldbel.db.tables.scheduling import (
    AgendaItemRow,
    AppointmentRow,
    AvailabilityExceptionRow,
    BookingRow,
    ContactWindowRow,
    ParticipantRow,
    SeriesRow,
    WorkingHoursRow,
)
from beeldbel.errors import Conflict, NotFound, StaleVersion
from beeldbel.identity.model import parse_subject
from beeldbel.scheduling.model import (
    AgendaItem,
    Appointment,
    AvailabilityException,
    Booking,
    Kind,
    Participant,
    ParticipantRole,
    Recurrence,
    Series,
    Status,
    WorkingHours,
)
from beeldbel.scheduling.rules import bookings

__all__ = ["BookingConflict", "SqlAgenda", "SqlAvailability", "SqlContactTimes", "staff_names"]


class BookingConflict(Conflict):
    """The slot is taken: the details name the appointments in the way."""

    code = "booking_conflict"


@dataclass(frozen=True, slots=True)
class _Blocker:
    appointment_id: UUID
    resource: str
    starts_at: datetime
    ends_at: datetime


def _participant(row: ParticipantRow) -> Participant:
    return Participant(
        id=row.id,
        role=ParticipantRole(row.role),
        link_id=row.link_id,
        subject=row.subject,
        client_id=row.client_id,
        member_id=row.member_id,
        name=row.name,
        item_id=row.item_id,
    )


def _item(row: AgendaItemRow) -> AgendaItem:
    return AgendaItem(row.id, row.client_id, row.topic, row.starts_at, row.ends_at)


def _values(a: Appointment) -> dict[str, object]:
    return {
        "team_id": a.team_id,
        "kind": a.kind.value,
        "status": a.status.value,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "title": a.title,
        "client_id": a.client_id,
        "series_id": a.series_id,
        "occurrence_at": a.occurrence_at,
        "detached": a.detached,
        "outside_hours": a.outside_hours,
        "cancel_reason": a.cancel_reason,
        "created_by": a.created_by,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "version": a.version,
    }


def _participant_row(appointment_id: UUID, p: Participant, position: int) -> ParticipantRow:
    return ParticipantRow(
        id=p.id,
        appointment_id=appointment_id,
        role=p.role.value,
        link_id=p.link_id,
        subject=p.subject,
        client_id=p.client_id,
        member_id=p.member_id,
        name=p.name,
        item_id=p.item_id,
        position=position,
    )


def _item_row(appointment_id: UUID, item: AgendaItem, position: int) -> AgendaItemRow:
    return AgendaItemRow(
        id=item.id,
        appointment_id=appointment_id,
        position=position,
        client_id=item.client_id,
        topic=item.topic,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
    )


def _series(row: SeriesRow) -> Series:
    return Series(
        id=row.id,
        team_id=row.team_id,
        recurrence=Recurrence(
            rule=row.rule,
            local_start=datetime.fromisoformat(row.local_start),
            duration=timedelta(seconds=row.duration_s),
            kinds=tuple(Kind(k) for k in row.kinds),
            zone=row.zone,
            until=row.until,
        ),
        materialized_until=row.materialized_until,
        created_by=row.created_by,
        created_at=row.created_at,
        version=row.version,
    )


class SqlAgenda:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- reading -------------------------------------------------------------------------

    async def _assemble(self, rows: Sequence[AppointmentRow]) -> list[Appointment]:
        ids = [row.id for row in rows]
        if not ids:
            return []
        participants: dict[UUID, list[Participant]] = {i: [] for i in ids}
        for p in await self._session.scalars(
            select(ParticipantRow)
            .where(ParticipantRow.appointment_id.in_(ids))
            .order_by(ParticipantRow.appointment_id, ParticipantRow.position)
        ):
            participants[p.appointment_id].append(_participant(p))
        items: dict[UUID, list[AgendaItem]] = {i: [] for i in ids}
        for it in await self._session.scalars(
            select(AgendaItemRow)
            .where(AgendaItemRow.appointment_id.in_(ids))
            .order_by(AgendaItemRow.appointment_id, AgendaItemRow.position)
        ):
            items[it.appointment_id].append(_item(it))
        return [
            Appointment(
                id=row.id,
                team_id=row.team_id,
                kind=Kind(row.kind),
                status=Status(row.status),
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                created_by=row.created_by,
                created_at=row.created_at,
                updated_at=row.updated_at,
                title=row.title,
                client_id=row.client_id,
                participants=tuple(participants[row.id]),
                items=tuple(items[row.id]),
                series_id=row.series_id,
                occurrence_at=row.occurrence_at,
                detached=row.detached,
                outside_hours=row.outside_hours,
                cancel_reason=row.cancel_reason,
                version=row.version,
            )
            for row in rows
        ]

    async def get(self, appointment_id: UUID) -> Appointment:
        row = await self._session.get(AppointmentRow, appointment_id)
        if row is None:
            raise NotFound("no such appointment", details={"id": str(appointment_id)})
        return (await self._assemble([row]))[0]

    async def mark_opened(self, participant_id: UUID, now: datetime) -> None:
        """The first time a participant exchanged their link's code."""
        await self._session.execute(
            update(ParticipantRow)
            .where(ParticipantRow.id == participant_id, ParticipantRow.opened_at.is_(None))
            .values(opened_at=now)
        )

    async def opened(self, appointment_id: UUID) -> dict[UUID, datetime | None]:
        rows = await self._session.execute(
            select(ParticipantRow.id, ParticipantRow.opened_at).where(
                ParticipantRow.appointment_id == appointment_id
            )
        )
        return {row.id: row.opened_at for row in rows}

    async def by_link(self, link_id: str) -> tuple[Appointment, Participant] | None:
        row = await self._session.scalar(
            select(ParticipantRow).where(ParticipantRow.link_id == link_id)
        )
        if row is None:
            return None
        appointment = await self.get(row.appointment_id)
        return appointment, _participant(row)

    async def agenda(
        self, subjects: Collection[str], starts: datetime, ends: datetime, limit: int
    ) -> list[Appointment]:
        """Appointments any of ``subjects`` takes part in that overlap ``[starts, ends)``."""
        taking_part = select(ParticipantRow.appointment_id).where(
            ParticipantRow.subject.in_(list(subjects))
        )
        rows = await self._session.scalars(
            select(AppointmentRow)
            .where(
                AppointmentRow.id.in_(taking_part),
                AppointmentRow.starts_at < ends,
                AppointmentRow.ends_at > starts,
            )
            .order_by(AppointmentRow.starts_at, AppointmentRow.id)
            .limit(limit)
        )
        return await self._assemble(rows.all())

    async def calls_due_to_close(self, ended_before: datetime, limit: int) -> list[UUID]:
        """Calls (check-ins, case meetings) that ended before ``ended_before`` and never
        went live: no call row, or one still open."""
        live = select(CallRow.appointment_id).where(CallRow.phase != "open")
        rows = await self._session.scalars(
            select(AppointmentRow.id)
            .where(
                AppointmentRow.kind.in_([Kind.CHECKIN.value, Kind.CASE_MEETING.value]),
                AppointmentRow.status.in_([Status.PLANNED.value, Status.LOBBY_OPEN.value]),
                AppointmentRow.ends_at < ended_before,
                AppointmentRow.id.not_in(live),
            )
            .order_by(AppointmentRow.ends_at)
            .limit(limit)
        )
        return list(rows.all())

    async def of_series(self, series_id: UUID, since: datetime) -> list[Appointment]:
        rows = await self._session.scalars(
            select(AppointmentRow)
            .where(AppointmentRow.series_id == series_id, AppointmentRow.occurrence_at >= since)
            .order_by(AppointmentRow.occurrence_at)
        )
        return await self._assemble(rows.all())

    async def blockers(
        self, held: Sequence[Booking], exclude: UUID | None = None
    ) -> list[_Blocker]:
        """The bookings of other appointments that overlap any of ``held``."""
        if not held:
            return []
        overlap = or_(
            *(
                and_(
                    BookingRow.resource == b.resource,
                    BookingRow.starts_at < b.ends_at,
                    BookingRow.ends_at > b.starts_at,
                )
                for b in held
            )
        )
        query = select(BookingRow).where(overlap).order_by(BookingRow.starts_at).limit(20)
        if exclude is not None:
            query = query.where(BookingRow.appointment_id != exclude)
        return [
            _Blocker(r.appointment_id, r.resource, r.starts_at, r.ends_at)
            for r in await self._session.scalars(query)
        ]

    async def _refused(self, held: Sequence[Booking], exclude: UUID | None) -> BookingConflict:
        found = await self.blockers(held, exclude)
        return BookingConflict(
            "the time overlaps another appointment"
            + (f" ({found[0].appointment_id})" if found else ""),
            details={
                "conflicts": [
                    {
                        "appointment_id": str(b.appointment_id),
                        "resource": b.resource,
                        "starts_at": b.starts_at.isoformat(),
                        "ends_at": b.ends_at.isoformat(),
                    }
                    for b in found
                ]
            },
        )

    # --- writing -------------------------------------------------------------------------

    async def _queue_for(self, resources: Collection[str]) -> None:
        """On PostgreSQL, wait in line for each resource (in one global order) before writing
        its slots. The exclusion constraint decides; the queue keeps two writers of one
        resource from both inserting first and then waiting for each other (a deadlock:
        an exclusion constraint checks after the insert)."""
        bind = self._session.get_bind()
        if bind.dialect.name != "postgresql" or not resources:
            return
        for key in sorted({_lock_key(r) for r in resources}):
            await self._session.execute(select(func.pg_advisory_xact_lock(key)))

    async def add(self, appointment: Appointment) -> None:
        """Store a new appointment and the slots it holds, or BookingConflict."""
        a = appointment
        held = bookings(a)
        await self._queue_for([b.resource for b in held])
        try:
            async with self._session.begin_nested():
                self._session.add(AppointmentRow(id=a.id, **_values(a)))
                await self._session.flush()
                for position, p in enumerate(a.participants):
                    self._session.add(_participant_row(a.id, p, position))
                for position, item in enumerate(a.items):
                    self._session.add(_item_row(a.id, item, position))
                for b in held:
                    self._session.add(
                        BookingRow(
                            appointment_id=a.id,
                            resource=b.resource,
                            starts_at=b.starts_at,
                            ends_at=b.ends_at,
                        )
                    )
                await self._session.flush()
        except IntegrityError as error:
            if _is_overlap(error):
                raise await self._refused(held, a.id) from None
            raise

    async def update(self, before: Appointment, after: Appointment) -> None:
        """Store ``after`` if the row is still at ``before.version``; slots follow: the
        times by the foreign key's cascade, participants by adding and removing bookings,
        a cancelled appointment by dropping them all."""
        held_before = {b.resource for b in bookings(before)}
        held_after = bookings(after)
        await self._queue_for(held_before | {b.resource for b in held_after})
        try:
            async with self._session.begin_nested():
                gone = held_before - {b.resource for b in held_after}
                if gone:
                    await self._session.execute(
                        delete(BookingRow).where(
                            BookingRow.appointment_id == after.id,
                            BookingRow.resource.in_(gone),
                        )
                    )
                result = await self._session.execute(
                    update(AppointmentRow)
                    .where(AppointmentRow.id == after.id, AppointmentRow.version == before.version)
                    .values(**_values(after))
                )
                if getattr(result, "rowcount", 0) != 1:
                    raise StaleVersion(
                        "the appointment was changed meanwhile; reload it",
                        details={"id": str(after.id)},
                    )
                await self._sync_participants(before, after)
                if before.items != after.items:
                    await self._session.execute(
                        delete(AgendaItemRow).where(AgendaItemRow.appointment_id == after.id)
                    )
                    for position, item in enumerate(after.items):
                        self._session.add(_item_row(after.id, item, position))
                for b in held_after:
                    if b.resource not in held_before:
                        self._session.add(
                            BookingRow(
                                appointment_id=after.id,
                                resource=b.resource,
                                starts_at=b.starts_at,
                                ends_at=b.ends_at,
                            )
                        )
                await self._session.flush()
        except IntegrityError as error:
            if _is_overlap(error):
                raise await self._refused(held_after, after.id) from None
            raise

    async def _sync_participants(self, before: Appointment, after: Appointment) -> None:
        old = {p.id: p for p in before.participants}
        new = {p.id: p for p in after.participants}
        removed = [pid for pid in old if pid not in new]
        if removed:
            await self._session.execute(
                delete(ParticipantRow).where(ParticipantRow.id.in_(removed))
            )
        for position, p in enumerate(after.participants):
            if p.id not in old:
                self._session.add(_participant_row(after.id, p, position))
            elif old[p.id] != p:
                await self._session.execute(
                    update(ParticipantRow)
                    .where(ParticipantRow.id == p.id)
                    .values(item_id=p.item_id, name=p.name, position=position)
                )

    # --- series --------------------------------------------------------------------------

    async def add_series(self, series: Series, template: dict[str, object]) -> None:
        r = series.recurrence
        self._session.add(
            SeriesRow(
                id=series.id,
                team_id=series.team_id,
                rule=r.rule,
                zone=r.zone,
                local_start=r.local_start.isoformat(timespec="seconds"),
                duration_s=int(r.duration.total_seconds()),
                kinds=[k.value for k in r.kinds],
                until=r.until,
                materialized_until=series.materialized_until,
                template=template,
                created_by=series.created_by,
                created_at=series.created_at,
                version=series.version,
            )
        )
        await self._session.flush()

    async def series(
        self, series_id: UUID, *, lock: bool = False
    ) -> tuple[Series, dict[str, object]]:
        query = select(SeriesRow).where(SeriesRow.id == series_id)
        if lock:
            query = query.with_for_update()
        row = await self._session.scalar(query)
        if row is None:
            raise NotFound("no such series", details={"id": str(series_id)})
        return _series(row), dict(row.template)

    async def move_to_series(
        self, appointment_id: UUID, series_id: UUID, occurrence_at: datetime
    ) -> None:
        """An occurrence edited on its own (or over) follows its series when it is split."""
        await self._session.execute(
            update(AppointmentRow)
            .where(AppointmentRow.id == appointment_id)
            .values(series_id=series_id, occurrence_at=occurrence_at)
        )

    async def set_series_end(self, series_id: UUID, until: datetime) -> None:
        await self._session.execute(
            update(SeriesRow)
            .where(SeriesRow.id == series_id)
            .values(until=until, version=SeriesRow.version + 1)
        )

    async def set_materialized(self, series_id: UUID, until: datetime) -> None:
        await self._session.execute(
            update(SeriesRow)
            .where(SeriesRow.id == series_id, SeriesRow.materialized_until < until)
            .values(materialized_until=until)
        )

    async def series_due(self, before: datetime, limit: int) -> list[UUID]:
        """Series not yet materialized up to ``before`` that have not ended."""
        rows = await self._session.scalars(
            select(SeriesRow.id)
            .where(
                SeriesRow.materialized_until < before,
                or_(SeriesRow.until.is_(None), SeriesRow.until > SeriesRow.materialized_until),
            )
            .order_by(SeriesRow.materialized_until)
            .limit(limit)
        )
        return list(rows.all())


def _lock_key(resource: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks, in the agenda's own space."""
    digest = hashlib.sha256(b"beeldbel-booking:" + resource.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _is_overlap(error: IntegrityError) -> bool:
    text = str(error.orig)
    return "booking_conflict" in text or "ex_bookings_no_overlap" in text


async def staff_names(session: AsyncSession, subjects: Collection[str]) -> dict[str, str]:
    """Display names of staff subjects (colleagues see each other's names)."""
    ids = {}
    for subject in subjects:
        parsed = parse_subject(subject)
        if parsed is not None:
            ids[parsed[1]] = subject
    if not ids:
        return {}
    rows = await session.execute(
        select(StaffUserRow.id, StaffUserRow.display_name).where(StaffUserRow.id.in_(list(ids)))
    )
    return {ids[row.id]: row.display_name for row in rows}


class SqlContactTimes:
    """When clients prefer to be reached. The service reaches these rows through a grant."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, client_ids: Collection[UUID]) -> dict[UUID, list[WorkingHours]]:
        found: dict[UUID, list[WorkingHours]] = {cid: [] for cid in client_ids}
        if not found:
            return found
        rows = await self._session.scalars(
            select(ContactWindowRow)
            .where(ContactWindowRow.client_id.in_(list(found)))
            .order_by(ContactWindowRow.weekday, ContactWindowRow.starts)
        )
        for r in rows:
            found[r.client_id].append(WorkingHours(r.weekday, r.starts, r.ends))
        return found

    async def replace(self, client_id: UUID, windows: Sequence[WorkingHours]) -> None:
        await self._session.execute(
            delete(ContactWindowRow).where(ContactWindowRow.client_id == client_id)
        )
        for w in windows:
            self._session.add(
                ContactWindowRow(
                    client_id=client_id, weekday=w.weekday, starts=w.starts, ends=w.ends
                )
            )
        await self._session.flush()


class SqlAvailability:
    """Working hours and exceptions per worker."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hours(self, subject: str) -> list[WorkingHours]:
        rows = await self._session.scalars(
            select(WorkingHoursRow)
            .where(WorkingHoursRow.subject == subject)
            .order_by(WorkingHoursRow.weekday, WorkingHoursRow.starts)
        )
        return [WorkingHours(r.weekday, r.starts, r.ends) for r in rows]

    async def replace_hours(self, subject: str, hours: Sequence[WorkingHours]) -> None:
        await self._session.execute(
            delete(WorkingHoursRow).where(WorkingHoursRow.subject == subject)
        )
        for h in hours:
            self._session.add(
                WorkingHoursRow(subject=subject, weekday=h.weekday, starts=h.starts, ends=h.ends)
            )
        await self._session.flush()

    async def exceptions(
        self, subject: str, starts: datetime, ends: datetime
    ) -> list[AvailabilityException]:
        rows = await self._session.scalars(
            select(AvailabilityExceptionRow)
            .where(
                AvailabilityExceptionRow.subject == subject,
                AvailabilityExceptionRow.starts_at < ends,
                AvailabilityExceptionRow.ends_at > starts,
            )
            .order_by(AvailabilityExceptionRow.starts_at)
        )
        return [
            AvailabilityException(r.id, r.starts_at, r.ends_at, r.available, r.note) for r in rows
        ]

    async def add_exception(self, subject: str, exception: AvailabilityException) -> None:
        e = exception
        self._session.add(
            AvailabilityExceptionRow(
                id=e.id,
                subject=subject,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                available=e.available,
                note=e.note,
            )
        )
        await self._session.flush()

    async def remove_exception(self, subject: str, exception_id: UUID) -> None:
        result = await self._session.execute(
            delete(AvailabilityExceptionRow).where(
                AvailabilityExceptionRow.id == exception_id,
                AvailabilityExceptionRow.subject == subject,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            raise NotFound("no such exception", details={"id": str(exception_id)})
