"""Notes and the timeline's sources in SQL. Every method demands a grant.

Saving a change is a conditional update on the version it was made on: of two saves on one
version, the database lets exactly one through. Reading returns only the visibilities the
grant may read (:func:`beeldbel.notes.model.readable`), so a grant that may not read
professional notes never gets one from here, whichever endpoint asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from beeldbel.access.model import Action, Grant
from beeldbel.clientfile.model import ConsentRecord
from beeldbel.contactlog.model import ContactEntry
from beeldbel.db.repositories.clients import _to_consent
from beeldbel.db.repositories.contactlog import _entry
from beeldbel.db.tables.clients import ConsentRecordRow
from beeldbel.db.tables.contactlog import ContactEntryRow
from beeldbel.db.tables.notes import NoteRow, NoteVersionRow
from beeldbel.db.tables.scheduling import AgendaItemRow, AppointmentRow, ParticipantRow
from beeldbel.errors import NotFound
from beeldbel.notes.model import Domain, Note, NoteContent, NoteVersion, Scores, Visibility
from beeldbel.notes.model import readable as readable_by
from beeldbel.timeline.model import FAILED, REACHED, Filter

__all__ = ["AppointmentSummary", "SqlNotes", "SqlTimeline", "appointment_about", "contact_of"]

# Appointments that filed a contact entry are in the timeline as that entry.
UNFILED_STATUSES = ("planned", "lobby_open", "in_progress", "cancelled")


def _scores_json(scores: Scores | None) -> dict[str, int] | None:
    return None if scores is None else {d.value: s for d, s in scores}


def _scores(data: dict[str, int] | None) -> Scores | None:
    if data is None:
        return None
    return tuple((d, int(data[d.value])) for d in Domain if d.value in data)


def _note(row: NoteRow) -> Note:
    return Note(
        id=row.id,
        client_id=row.client_id,
        content=NoteContent(row.text, Visibility(row.visibility), _scores(row.scores)),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        version=row.version,
        appointment_id=row.appointment_id,
        contact_id=row.contact_id,
    )


def _version(row: NoteVersionRow) -> NoteVersion:
    return NoteVersion(
        note_id=row.note_id,
        version=row.version,
        content=NoteContent(row.text, Visibility(row.visibility), _scores(row.scores)),
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )


def _visible(grant: Grant) -> list[str]:
    return [v.value for v in readable_by(grant)]


class SqlNotes:
    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now

    def _history_row(self, note: Note) -> NoteVersionRow:
        return NoteVersionRow(
            note_id=note.id,
            version=note.version,
            visibility=note.content.visibility.value,
            text=note.content.text,
            scores=_scores_json(note.content.scores),
            changed_by=note.updated_by,
            changed_at=note.updated_at,
        )

    async def add(self, grant: Grant, note: Note) -> None:
        grant.require(Action.CREATE, note.client_id, self._now)
        self._session.add(
            NoteRow(
                id=note.id,
                client_id=note.client_id,
                visibility=note.content.visibility.value,
                text=note.content.text,
                scores=_scores_json(note.content.scores),
                appointment_id=note.appointment_id,
                contact_id=note.contact_id,
                version=note.version,
                created_by=note.created_by,
                created_at=note.created_at,
                updated_by=note.updated_by,
                updated_at=note.updated_at,
            )
        )
        await self._session.flush()
        self._session.add(self._history_row(note))
        await self._session.flush()

    async def get(self, grant: Grant, client_id: UUID, note_id: UUID) -> Note:
        grant.require(Action.READ, client_id, self._now)
        row = await self._session.scalar(
            select(NoteRow).where(
                NoteRow.id == note_id,
                NoteRow.client_id == client_id,
                NoteRow.visibility.in_(_visible(grant)),
            )
        )
        if row is None:
            raise NotFound("no such note in this file", details={"id": str(note_id)})
        return _note(row)

    async def version(self, grant: Grant, note: Note, version: int) -> NoteVersion | None:
        grant.require(Action.READ, note.client_id, self._now)
        row = await self._session.scalar(
            select(NoteVersionRow).where(
                NoteVersionRow.note_id == note.id,
                NoteVersionRow.version == version,
                NoteVersionRow.visibility.in_(_visible(grant)),
            )
        )
        return None if row is None else _version(row)

    async def save(self, grant: Grant, note: Note, base_version: int) -> bool:
        """Store ``note`` (one version after ``base_version``) unless someone saved the note
        after that version: then nothing is written and the answer is False."""
        grant.require(Action.CHANGE, note.client_id, self._now)
        result = await self._session.execute(
            update(NoteRow)
            .where(
                NoteRow.id == note.id,
                NoteRow.client_id == note.client_id,
                NoteRow.version == base_version,
            )
            .values(
                visibility=note.content.visibility.value,
                text=note.content.text,
                scores=_scores_json(note.content.scores),
                version=note.version,
                updated_by=note.updated_by,
                updated_at=note.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        self._session.add(self._history_row(note))
        await self._session.flush()
        return True

    async def history(self, grant: Grant, note: Note) -> list[NoteVersion]:
        grant.require(Action.READ, note.client_id, self._now)
        rows = await self._session.scalars(
            select(NoteVersionRow)
            .where(
                NoteVersionRow.note_id == note.id,
                NoteVersionRow.visibility.in_(_visible(grant)),
            )
            .order_by(NoteVersionRow.version)
        )
        return [_version(r) for r in rows]


@dataclass(frozen=True, slots=True)
class AppointmentSummary:
    """An appointment as the timeline shows it: planned, under way or cancelled."""

    id: UUID
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime
    title: str | None


class SqlTimeline:
    """The sources of one client's timeline, each newest first, filtered alike."""

    def __init__(self, session: AsyncSession, grant: Grant, client_id: UUID, now: datetime) -> None:
        grant.require(Action.READ, client_id, now)
        self._session = session
        self._grant = grant
        self._client_id = client_id

    @staticmethod
    def _window(
        at: InstrumentedAttribute[datetime], id_: InstrumentedAttribute[UUID], f: Filter
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if f.since is not None:
            where.append(at >= f.since)
        if f.until is not None:
            where.append(at < f.until)
        if f.before is not None:
            where.append(
                or_(at < f.before.created_at, and_(at == f.before.created_at, id_ < f.before.id))
            )
        return where

    async def contacts(self, f: Filter) -> list[ContactEntry]:
        c = ContactEntryRow
        rows = await self._session.scalars(
            select(c)
            .where(c.client_id == self._client_id, *self._window(c.occurred_at, c.id, f))
            .order_by(c.occurred_at.desc(), c.id.desc())
            .limit(f.limit + 1)  # one more: is there a next page?
        )
        return [_entry(r) for r in rows]

    async def recent_attempts(self, limit: int = 50) -> list[ContactEntry]:
        """The latest contacts that reached the client or tried to (for "niet bereikt")."""
        c = ContactEntryRow
        kinds = [k.value for k in FAILED | REACHED]
        rows = await self._session.scalars(
            select(c)
            .where(c.client_id == self._client_id, c.kind.in_(kinds))
            .order_by(c.occurred_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [_entry(r) for r in rows]

    async def notes(self, f: Filter) -> list[Note]:
        n = NoteRow
        rows = await self._session.scalars(
            select(n)
            .where(
                n.client_id == self._client_id,
                n.visibility.in_(_visible(self._grant)),
                *self._window(n.created_at, n.id, f),
            )
            .order_by(n.created_at.desc(), n.id.desc())
            .limit(f.limit + 1)  # one more: is there a next page?
        )
        return [_note(r) for r in rows]

    async def appointments(self, f: Filter) -> list[AppointmentSummary]:
        a = AppointmentRow
        about_client = _about(self._client_id)
        rows = await self._session.execute(
            select(a.id, a.kind, a.status, a.starts_at, a.ends_at, a.title)
            .where(
                about_client,
                a.status.in_(UNFILED_STATUSES),
                *self._window(a.starts_at, a.id, f),
            )
            .order_by(a.starts_at.desc(), a.id.desc())
            .limit(f.limit + 1)  # one more: is there a next page?
        )
        return [
            AppointmentSummary(r.id, r.kind, r.status, r.starts_at, r.ends_at, r.title)
            for r in rows
        ]

    async def consent(self, f: Filter) -> list[ConsentRecord]:
        r = ConsentRecordRow
        rows = await self._session.scalars(
            select(r)
            .where(r.client_id == self._client_id, *self._window(r.recorded_at, r.id, f))
            .order_by(r.recorded_at.desc(), r.id.desc())
            .limit(f.limit + 1)  # one more: is there a next page?
        )
        return [_to_consent(row) for row in rows]


def _about(client_id: UUID) -> ColumnElement[bool]:
    """An appointment is about the client: its client, a participant or a case-meeting item."""
    a = AppointmentRow
    return or_(
        a.client_id == client_id,
        exists().where(
            ParticipantRow.appointment_id == a.id, ParticipantRow.client_id == client_id
        ),
        exists().where(AgendaItemRow.appointment_id == a.id, AgendaItemRow.client_id == client_id),
    )


async def appointment_about(session: AsyncSession, appointment_id: UUID, client_id: UUID) -> bool:
    """Whether the appointment is about the client."""
    found = await session.scalar(
        select(AppointmentRow.id).where(AppointmentRow.id == appointment_id, _about(client_id))
    )
    return found is not None


async def contact_of(session: AsyncSession, contact_id: UUID, client_id: UUID) -> bool:
    found = await session.scalar(
        select(ContactEntryRow.id).where(
            ContactEntryRow.id == contact_id, ContactEntryRow.client_id == client_id
        )
    )
    return found is not None
