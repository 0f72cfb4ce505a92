"""Notes use cases: write a report or note, read it, change it (with conflicts), its history.

Each opens one unit of work, takes a care-file grant from the access policy and writes the
audit entry with it. A change that lost a race against a colleague's save (the conditional
update found a newer version) is answered like any stale edit: with both versions and a
proposed merge.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.model import Action, Category, Grant
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, through
from beeldbel.clock import Clock
from beeldbel.db.repositories.agenda import staff_names
from beeldbel.db.repositories.clients import SqlClientFile
from beeldbel.db.repositories.notes import SqlNotes, appointment_about, contact_of
from beeldbel.errors import NotFound
from beeldbel.identity.model import Principal
from beeldbel.notes.model import (
    Edit,
    EditConflict,
    Note,
    NoteVersion,
    Scores,
    Visibility,
    apply_edit,
    new_note,
)

__all__ = ["NamedConflict", "NoteService", "Notes"]


@dataclass(frozen=True, slots=True)
class Notes:
    """Notes (or versions) with the display names of the staff who wrote them."""

    grant: Grant
    names: dict[str, str]


class NamedConflict(EditConflict):
    """An edit conflict with the names of who wrote what, for the person merging."""

    def __init__(self, conflict: EditConflict, grant: Grant, names: dict[str, str]) -> None:
        super().__init__(conflict.current, conflict.base, conflict.yours, conflict.merged)
        self.grant = grant
        self.names = names


async def _names(session: AsyncSession, subjects: Collection[str]) -> dict[str, str]:
    return await staff_names(session, set(subjects))


class NoteService:
    def __init__(self, clock: Clock, access: AccessService) -> None:
        self._clock = clock
        self._access = access

    async def _grant(
        self, session: AsyncSession, principal: Principal, client_id: UUID, action: Action
    ) -> Grant:
        return await self._access.grant(session, principal, client_id, action, Category.CARE_FILE)

    async def create(
        self,
        principal: Principal,
        client_id: UUID,
        *,
        text: str,
        visibility: Visibility,
        scores: Scores | None,
        appointment_id: UUID | None,
        contact_id: UUID | None,
    ) -> tuple[Note, Notes]:
        now = self._clock.now()
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CREATE)
            note = new_note(
                uuid.uuid4(),
                client_id,
                text=text,
                visibility=visibility,
                scores=scores,
                author=principal.subject,
                now=now,
                appointment_id=appointment_id,
                contact_id=contact_id,
            )
            await SqlClientFile(session, self._access.audit, now).require_open(grant, client_id)
            if appointment_id is not None and not await appointment_about(
                session, appointment_id, client_id
            ):
                raise NotFound(
                    "no such appointment with this client",
                    details={"field": "appointment_id", "id": str(appointment_id)},
                )
            if contact_id is not None and not await contact_of(session, contact_id, client_id):
                raise NotFound(
                    "no such contact in this file",
                    details={"field": "contact_id", "id": str(contact_id)},
                )
            await SqlNotes(session, now).add(grant, note)
            await self._access.audit.append(
                session,
                through(grant, AuditEvent.CREATE, "note", str(note.id), visibility=visibility),
            )
            names = await _names(session, [note.created_by])
        return note, Notes(grant, names)

    async def get(self, principal: Principal, client_id: UUID, note_id: UUID) -> tuple[Note, Notes]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            note = await SqlNotes(session, self._clock.now()).get(grant, client_id, note_id)
            await self._access.audit.append(
                session, through(grant, AuditEvent.READ, "note", str(note_id))
            )
            names = await _names(session, [note.created_by, note.updated_by])
        return note, Notes(grant, names)

    async def change(
        self, principal: Principal, client_id: UUID, note_id: UUID, edit: Edit
    ) -> tuple[Note, Notes]:
        """The note after ``edit``; NamedConflict if a colleague saved after its version."""
        now = self._clock.now()
        conflict: NamedConflict | None = None
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            await SqlClientFile(session, self._access.audit, now).require_open(grant, client_id)
            notes = SqlNotes(session, now)
            note = await notes.get(grant, client_id, note_id)
            try:
                changed = await self._apply(notes, grant, note, edit, principal)
            except EditConflict as error:
                # Refused, but the worker has now read the colleague's version: audited.
                names = await _names(session, [error.current.updated_by, error.current.created_by])
                conflict = NamedConflict(error, grant, names)
                await self._access.audit.append(
                    session,
                    through(grant, AuditEvent.READ, "note", str(note_id), conflict="edit"),
                )
            else:
                if changed is not note:
                    await self._access.audit.append(
                        session,
                        through(
                            grant,
                            AuditEvent.CHANGE,
                            "note",
                            str(note_id),
                            version=str(changed.version),
                        ),
                    )
                names = await _names(session, [changed.created_by, changed.updated_by])
                return changed, Notes(grant, names)
        raise conflict

    async def _apply(
        self, notes: SqlNotes, grant: Grant, note: Note, edit: Edit, principal: Principal
    ) -> Note:
        now = self._clock.now()
        base = None
        if edit.base_version < note.version:
            base = await notes.version(grant, note, edit.base_version)
        changed = apply_edit(note, edit, base, principal.subject, now)
        if changed is note:
            return note
        if await notes.save(grant, changed, edit.base_version):
            return changed
        # A colleague saved between our read and our write: answer as for a stale edit.
        current = await notes.get(grant, note.client_id, note.id)
        base = await notes.version(grant, current, edit.base_version)
        apply_edit(current, edit, base, principal.subject, now)
        raise AssertionError("a newer version must conflict")  # pragma: no cover

    async def history(
        self, principal: Principal, client_id: UUID, note_id: UUID
    ) -> tuple[list[NoteVersion], Notes]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            notes = SqlNotes(session, self._clock.now())
            note = await notes.get(grant, client_id, note_id)
            versions = await notes.history(grant, note)
            await self._access.audit.append(
                session, through(grant, AuditEvent.READ, "note_history", str(note_id))
            )
            names = await _names(session, [v.changed_by for v in versions])
        return versions, Notes(grant, names)
