"""Retention in SQL: the facts of closed files, and deleting a whole file.

Deleting removes everything of the client's file, children before parents so every foreign
key holds on the way: notes and their versions, contacts, consent, emergency accesses, the
care team, contact times, the client's own appointments (with their slots, links, calls and
outcomes) and series, the client's and their network's seats and items in case meetings,
the network and the client row. The audit log keeps its entries (they name the client by id
only, and NEN 7513 keeps them under their own retention).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.model import Action, Grant
from beeldbel.clientfile.model import FileState, LegalBasis
from beeldbel.db.tables.clients import (
    CareTeamMemberRow,
    ClientRow,
    ConsentRecordRow,
    EmergencyAccessRow,
    NetworkMemberRow,
)
from beeldbel.db.tables.contactlog import ContactEntryRow
from beeldbel.db.tables.notes import NoteRow, NoteVersionRow
from beeldbel.db.tables.scheduling import (
    AgendaItemRow,
    AppointmentRow,
    ContactWindowRow,
    ParticipantRow,
    SeriesRow,
)
from beeldbel.errors import NotFound
from beeldbel.retention.model import FileFacts

__all__ = ["closed_files", "delete_file", "file_facts"]


def _facts(row: ClientRow) -> FileFacts:
    return FileFacts(
        client_id=row.id,
        team_id=row.team_id,
        legal_basis=LegalBasis(row.legal_basis),
        file_state=FileState(row.file_state),
        closed_at=row.closed_at,
    )


async def closed_files(session: AsyncSession) -> list[FileFacts]:
    """The retention facts of every closed file (no names, no content)."""
    rows = await session.scalars(
        select(ClientRow).where(ClientRow.file_state == FileState.CLOSED.value)
    )
    return [_facts(row) for row in rows]


async def file_facts(session: AsyncSession, client_id: UUID, *, lock: bool = False) -> FileFacts:
    query = select(ClientRow).where(ClientRow.id == client_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound("no such client", details={"id": str(client_id)})
    return _facts(row)


def _without(people: object, client: str, members: set[str]) -> list[object]:
    assert isinstance(people, list)
    return [
        p
        for p in people
        if not (
            isinstance(p, dict) and (p.get("client_id") == client or p.get("member_id") in members)
        )
    ]


async def delete_file(session: AsyncSession, grant: Grant, client_id: UUID, now: datetime) -> int:
    """Delete the client's whole file; how many rows went. The caller has checked it is due."""
    grant.require(Action.DELETE, client_id, now)
    removed = 0

    async def gone(statement: object) -> None:
        nonlocal removed
        result = await session.execute(statement)  # type: ignore[call-overload]
        removed += int(getattr(result, "rowcount", 0) or 0)

    member_ids = list(
        await session.scalars(
            select(NetworkMemberRow.id).where(NetworkMemberRow.client_id == client_id)
        )
    )
    own_appointments = select(AppointmentRow.id).where(AppointmentRow.client_id == client_id)
    series_ids = set(
        await session.scalars(
            select(AppointmentRow.series_id).where(
                AppointmentRow.client_id == client_id, AppointmentRow.series_id.is_not(None)
            )
        )
    )
    note_ids = select(NoteRow.id).where(NoteRow.client_id == client_id)
    await gone(delete(NoteVersionRow).where(NoteVersionRow.note_id.in_(note_ids)))
    await gone(delete(NoteRow).where(NoteRow.client_id == client_id))
    await gone(delete(ContactEntryRow).where(ContactEntryRow.client_id == client_id))
    # Another client's entries and notes keep their content, not the link to this file.
    for table in (ContactEntryRow, NoteRow):
        await session.execute(
            update(table)
            .where(table.appointment_id.in_(own_appointments))
            .values(appointment_id=None)
            .execution_options(synchronize_session=False)
        )
    await gone(delete(ConsentRecordRow).where(ConsentRecordRow.client_id == client_id))
    await gone(delete(EmergencyAccessRow).where(EmergencyAccessRow.client_id == client_id))
    await gone(delete(CareTeamMemberRow).where(CareTeamMemberRow.client_id == client_id))
    await gone(delete(ContactWindowRow).where(ContactWindowRow.client_id == client_id))
    # Their seats and items in others' appointments (case meetings).
    seats = [ParticipantRow.client_id == client_id]
    if member_ids:
        seats.append(ParticipantRow.member_id.in_(member_ids))
    await gone(delete(ParticipantRow).where(or_(*seats)))
    await gone(delete(AgendaItemRow).where(AgendaItemRow.client_id == client_id))
    # Their own appointments; slots, links, calls and outcomes go with them (ON DELETE CASCADE).
    await gone(delete(AppointmentRow).where(AppointmentRow.client_id == client_id))
    client, members = str(client_id), {str(m) for m in member_ids}
    for series in await session.scalars(select(SeriesRow)):
        template = dict(series.template)
        if series.id in series_ids or template.get("client_id") == client:
            remaining = await session.scalar(
                select(AppointmentRow.id).where(AppointmentRow.series_id == series.id).limit(1)
            )
            if remaining is None:
                await session.delete(series)
                removed += 1
                continue
        people = template.get("participants", [])
        kept = _without(people, client, members)
        if isinstance(people, list) and len(kept) != len(people):
            series.template = {**template, "participants": kept}
    await gone(delete(NetworkMemberRow).where(NetworkMemberRow.client_id == client_id))
    await gone(delete(ClientRow).where(ClientRow.id == client_id))
    await session.flush()
    return removed
