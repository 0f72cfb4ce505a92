"""Writing audit entries: inside the caller's unit of work, or in one of their own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.audit.context import current_origin
from beeldbel.audit.model import AuditRecord
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables.audit import AuditEntryRow

__all__ = ["AuditLog"]


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _row(self, record: AuditRecord, at: datetime) -> AuditEntryRow:
        origin = current_origin.get()
        return AuditEntryRow(
            at=at,
            event=record.event.value,
            outcome=record.outcome.value,
            actor=record.actor,
            on_behalf_of=record.on_behalf_of,
            client_id=record.client_id,
            object_type=record.object_type,
            object_id=record.object_id,
            source=origin.source,
            request_id=origin.request_id,
            detail=dict(record.detail),
        )

    async def append(self, session: AsyncSession, record: AuditRecord) -> None:
        """Add an entry to the caller's unit of work: it commits (or not) with the change."""
        session.add(self._row(record, self._clock.now()))
        await session.flush()

    async def append_alone(self, record: AuditRecord) -> None:
        """Write an entry in its own unit of work: for refusals and failures, whose
        business transaction rolls back but whose attempt must still be on record."""
        async with self._db.transaction() as session:
            session.add(self._row(record, self._clock.now()))
