"""The contact log in SQL. Filing is idempotent by ``source``; reading takes a grant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.model import Action, Grant
from beeldbel.contactlog.model import ContactEntry, ContactKind, Quality, Taking
from beeldbel.db.tables.contactlog import ContactEntryRow

__all__ = ["SqlContactLog"]


def _person(t: Taking) -> dict[str, object]:
    return {
        "role": t.role,
        "took_part": t.took_part,
        "joined_at": t.joined_at.isoformat() if t.joined_at else None,
        "left_at": t.left_at.isoformat() if t.left_at else None,
        "opened_link": t.opened_link,
        "subject": t.subject,
    }


def _taking(data: dict[str, object]) -> Taking:
    joined, left = data.get("joined_at"), data.get("left_at")
    return Taking(
        role=str(data["role"]),
        took_part=bool(data["took_part"]),
        joined_at=datetime.fromisoformat(str(joined)) if joined else None,
        left_at=datetime.fromisoformat(str(left)) if left else None,
        opened_link=bool(data.get("opened_link", False)),
        subject=str(data["subject"]) if data.get("subject") else None,
    )


def _entry(row: ContactEntryRow) -> ContactEntry:
    return ContactEntry(
        id=row.id,
        client_id=row.client_id,
        kind=ContactKind(row.kind),
        source=row.source,
        appointment_id=row.appointment_id,
        occurred_at=row.occurred_at,
        duration=timedelta(seconds=row.duration_s),
        people=tuple(_taking(p) for p in row.people),
        media_path=row.media_path,
        reconnects=row.reconnects,
        ended_because=row.ended_because,
        topic=row.topic,
        quality=Quality.of(row.quality),
    )


class SqlContactLog:
    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now

    async def file(self, entries: Sequence[ContactEntry]) -> int:
        """Store the entries not filed before (by source); how many were new. Written by
        the system from an event, not through a person's grant: no one reads anything here."""
        filed = 0
        for e in entries:
            try:
                async with self._session.begin_nested():
                    self._session.add(
                        ContactEntryRow(
                            id=e.id,
                            client_id=e.client_id,
                            kind=e.kind.value,
                            source=e.source,
                            appointment_id=e.appointment_id,
                            occurred_at=e.occurred_at,
                            duration_s=int(e.duration.total_seconds()),
                            people=[_person(p) for p in e.people],
                            media_path=e.media_path,
                            reconnects=e.reconnects,
                            ended_because=e.ended_because,
                            topic=e.topic,
                            quality=e.quality.as_json() if e.quality else None,
                            filed_at=self._now,
                        )
                    )
                    await self._session.flush()
            except IntegrityError:
                continue  # filed already: the event came twice
            filed += 1
        return filed

    async def of_client(self, grant: Grant, client_id: UUID, limit: int) -> list[ContactEntry]:
        grant.require(Action.READ, client_id, self._now)
        rows = await self._session.scalars(
            select(ContactEntryRow)
            .where(ContactEntryRow.client_id == client_id)
            .order_by(ContactEntryRow.occurred_at.desc(), ContactEntryRow.id)
            .limit(limit)
        )
        return [_entry(r) for r in rows]
