"""Reading a client's timeline: one care-file grant, one audit entry, four sources merged."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from beeldbel.access.model import Action, Category, Grant
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, through
from beeldbel.clientfile.model import ConsentRecord
from beeldbel.clock import Clock
from beeldbel.contactlog.model import ContactEntry
from beeldbel.db.repositories.agenda import staff_names
from beeldbel.db.repositories.notes import SqlTimeline
from beeldbel.identity.model import Principal
from beeldbel.notes.model import Note
from beeldbel.pagination import Cursor
from beeldbel.timeline.model import (
    Filter,
    Item,
    ItemKind,
    Unreached,
    attempts,
    newest_first,
    unreached,
)

__all__ = ["Timeline", "TimelineService"]


@dataclass(frozen=True, slots=True)
class Timeline:
    items: list[Item[object]]
    next_cursor: Cursor | None
    unreached: Unreached | None
    attempts: dict[UUID, tuple[int, int]]  # contact id: (attempt, of how many)
    names: dict[str, str]
    grant: Grant


class TimelineService:
    def __init__(self, clock: Clock, access: AccessService) -> None:
        self._clock = clock
        self._access = access

    async def of_client(self, principal: Principal, client_id: UUID, f: Filter) -> Timeline:
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.READ, Category.CARE_FILE
            )
            source = SqlTimeline(session, grant, client_id, self._clock.now())
            sources: list[list[Item[object]]] = []
            if ItemKind.CONTACT in f.kinds:
                sources.append(
                    [
                        Item(ItemKind.CONTACT, e.occurred_at, e.id, e)
                        for e in await source.contacts(f)
                    ]
                )
            if ItemKind.NOTE in f.kinds:
                sources.append(
                    [Item(ItemKind.NOTE, n.created_at, n.id, n) for n in await source.notes(f)]
                )
            if ItemKind.APPOINTMENT in f.kinds:
                sources.append(
                    [
                        Item(ItemKind.APPOINTMENT, a.starts_at, a.id, a)
                        for a in await source.appointments(f)
                    ]
                )
            if ItemKind.CONSENT in f.kinds:
                sources.append(
                    [
                        Item(ItemKind.CONSENT, r.recorded_at, r.id, r)
                        for r in await source.consent(f)
                    ]
                )
            items, cursor = newest_first(sources, f.limit)
            recent = await source.recent_attempts()
            subjects: set[str] = set()
            for item in items:
                value = item.value
                if isinstance(value, Note):
                    subjects |= {value.created_by, value.updated_by}
                elif isinstance(value, ContactEntry):
                    subjects |= {p.subject for p in value.people if p.subject}
                elif isinstance(value, ConsentRecord):
                    subjects.add(value.recorded_by)
            names = await staff_names(session, subjects)
            await self._access.audit.append(
                session,
                through(
                    grant,
                    AuditEvent.READ,
                    "timeline",
                    str(client_id),
                    kinds=",".join(sorted(k.value for k in f.kinds)),
                ),
            )
        return Timeline(items, cursor, unreached(recent), attempts(recent), names, grant)
