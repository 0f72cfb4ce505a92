"""Retention use cases: the job that reports files past their period, the privacy officer's
list of them, and deleting one (explicit, audited, only when it is due)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog
from prometheus_client import CollectorRegistry, Gauge

from beeldbel.access.ledger import record_nothing_found
from beeldbel.access.model import Action, Category, Grant
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, through
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.retention import closed_files, delete_file, file_facts
from beeldbel.identity.model import Principal
from beeldbel.retention.model import Due, Periods, due, require_due

__all__ = ["DueList", "RetentionService"]

log = structlog.get_logger("beeldbel.retention")


@dataclass(frozen=True, slots=True)
class DueList:
    items: list[Due]
    grants: dict[UUID, Grant]


class RetentionService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        access: AccessService,
        periods: Periods,
        registry: CollectorRegistry,
    ) -> None:
        self._db = db
        self._clock = clock
        self._access = access
        self._periods = periods
        self._past = Gauge(
            "beeldbel_files_past_retention",
            "Closed client files whose retention period has passed, waiting for deletion.",
            registry=registry,
        )

    @property
    def periods(self) -> Periods:
        return self._periods

    async def report(self) -> list[Due]:
        """The job: which closed files are past their period now. It reads no one's data
        (legal basis and closed date only), so it needs no grant; it logs the count."""
        async with self._db.transaction(read_only=True) as session:
            files = await closed_files(session)
        found = due(files, self._periods, self._clock.now())
        self._past.set(len(found))
        if found:
            log.info("retention_due", files=len(found))
        return found

    async def due(self, principal: Principal) -> DueList:
        """The files past their period, for the privacy officer; each listed file is audited."""
        async with self._access.transaction() as session:
            await self._access.screen(session, principal, Action.SEARCH, Category.RETENTION)
            found = due(await closed_files(session), self._periods, self._clock.now())
            grants = await self._access.grants(
                session, principal, [d.client_id for d in found], Action.SEARCH, Category.RETENTION
            )
            for grant in grants.values():
                await self._access.audit.append(
                    session, through(grant, AuditEvent.SEARCH, "retention", str(grant.client_id))
                )
            if not grants:
                record_nothing_found()
        self._past.set(len(found))
        return DueList([d for d in found if d.client_id in grants], grants)

    async def delete(self, principal: Principal, client_id: UUID) -> tuple[Due, int]:
        """Delete a file whose retention period has passed: the whole file, audited."""
        now = self._clock.now()
        async with self._access.transaction() as session:
            grant = await self._access.grant(
                session, principal, client_id, Action.DELETE, Category.RETENTION
            )
            facts = await file_facts(session, client_id, lock=True)
            gone = require_due(facts, self._periods, now)
            rows = await delete_file(session, grant, client_id, now)
            await self._access.audit.append(
                session,
                through(
                    grant,
                    AuditEvent.DELETE,
                    "client",
                    str(client_id),
                    legal_basis=gone.legal_basis.value,
                    closed_at=gone.closed_at.isoformat(),
                    retain_until=gone.retain_until.isoformat(),
                    rows=str(rows),
                ),
            )
        log.info("file_deleted", rows=rows)
        return gone, rows
