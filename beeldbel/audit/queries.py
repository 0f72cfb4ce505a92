"""Audit queries for the privacy officer, audited themselves.

A query by client goes through the access policy (``Category.AUDIT_TRAIL``) for that
client. A query across clients (by actor or period) is decided once for the search
and once more for every client whose entries it returns, so each client's own trail
shows that the privacy officer saw it. Every query writes an ``audit_query`` entry
in the same unit of work as the read; a refused one is written on its own.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from beeldbel.access.ledger import record_grant
from beeldbel.access.model import Action, Category, ClientFacts, Grant
from beeldbel.access.rules import decide
from beeldbel.audit.model import (
    AuditEntry,
    AuditEvent,
    AuditFilter,
    AuditRecord,
    Outcome,
    SeqCursor,
    through,
)
from beeldbel.audit.sealing import AuditChain
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables.audit import AuditEntryRow
from beeldbel.errors import Forbidden
from beeldbel.identity.model import Principal
from beeldbel.pagination import DEFAULT_LIMIT, Page

__all__ = ["ALL_CLIENTS", "AuditTrail", "audit_trail_facts"]

# Stands for "any client" in the grant of a search across clients: the audit-trail
# rule looks only at who asks, never at the client's team or care team.
ALL_CLIENTS = UUID(int=0)
NO_TEAM = UUID(int=0)


def audit_trail_facts(client_id: UUID) -> ClientFacts:
    """The facts the policy needs to decide on a client's *audit trail*.

    The audit-trail rule (privacy officer only) ignores the client's team and care
    team, so none are loaded; when the access service that loads client facts exists,
    this is the one place to switch to it.
    """
    return ClientFacts(client_id=client_id, team_id=NO_TEAM)


def _entry(row: AuditEntryRow) -> AuditEntry:
    assert row.seq is not None
    return AuditEntry(
        seq=row.seq,
        id=row.id,
        at=row.at,
        event=row.event,
        outcome=row.outcome,
        actor=row.actor,
        on_behalf_of=row.on_behalf_of,
        client_id=row.client_id,
        object_type=row.object_type,
        object_id=row.object_id,
        source=row.source,
        request_id=row.request_id,
        detail={str(k): str(v) for k, v in row.detail.items()},
    )


class AuditTrail:
    def __init__(self, db: Database, log: AuditLog, chain: AuditChain, clock: Clock) -> None:
        self._db = db
        self._log = log
        self._chain = chain
        self._clock = clock

    def _decide(self, principal: Principal, client_id: UUID) -> Grant:
        return decide(
            principal,
            frozenset(),
            audit_trail_facts(client_id),
            Action.SEARCH,
            Category.AUDIT_TRAIL,
            self._clock.now(),
        )

    async def search(
        self,
        principal: Principal,
        filters: AuditFilter,
        *,
        limit: int = DEFAULT_LIMIT,
        after: SeqCursor | None = None,
    ) -> Page[AuditEntry]:
        """Sealed entries matching ``filters``, in chain order, one page at a time."""
        asked = filters.describe()
        try:
            grant = self._decide(principal, filters.client_id or ALL_CLIENTS)
        except Forbidden as refusal:
            await self._log.append_alone(
                AuditRecord(
                    event=AuditEvent.AUDIT_QUERY,
                    outcome=Outcome.DENIED,
                    actor=principal.subject,
                    client_id=filters.client_id,
                    object_type="audit_trail",
                    detail={**asked, "reason": str(refusal.details.get("reason", ""))},
                )
            )
            raise
        record_grant(grant)
        await self._chain.seal()  # what committed until now is part of the answer

        query = select(AuditEntryRow).where(AuditEntryRow.seq.is_not(None))
        if filters.client_id is not None:
            query = query.where(AuditEntryRow.client_id == filters.client_id)
        if filters.actor is not None:
            query = query.where(AuditEntryRow.actor == filters.actor)
        if filters.since is not None:
            query = query.where(AuditEntryRow.at >= filters.since)
        if filters.until is not None:
            query = query.where(AuditEntryRow.at < filters.until)
        if after is not None:
            query = query.where(AuditEntryRow.seq > after.seq)
        query = query.order_by(AuditEntryRow.seq).limit(limit + 1)

        async with self._db.transaction() as session:
            rows = (await session.execute(query)).scalars().all()
            items = tuple(_entry(row) for row in rows[:limit])
            more = len(rows) > limit
            # The query itself, on the client's trail if it was about one client.
            summary = {**asked, "results": str(len(items)), "more": "yes" if more else "no"}
            if filters.client_id is not None:
                record = through(grant, AuditEvent.AUDIT_QUERY, "audit_trail", **summary)
            else:
                record = AuditRecord(
                    event=AuditEvent.AUDIT_QUERY,
                    outcome=Outcome.SUCCESS,
                    actor=principal.subject,
                    object_type="audit_trail",
                    detail={"basis": grant.basis.value, **summary},
                )
            await self._log.append(session, record)
            if filters.client_id is None:
                # A search across clients: each client it shows gets an entry of its own.
                shown = sorted({e.client_id for e in items if e.client_id is not None})
                for client_id in shown:
                    client_grant = self._decide(principal, client_id)
                    record_grant(client_grant)
                    await self._log.append(
                        session,
                        through(
                            client_grant,
                            AuditEvent.AUDIT_QUERY,
                            "audit_trail",
                            scope="search_across_clients",
                            results=str(sum(1 for e in items if e.client_id == client_id)),
                        ),
                    )
        next_cursor = SeqCursor(items[-1].seq).encode() if more else None
        return Page(items=items, next_cursor=next_cursor)
