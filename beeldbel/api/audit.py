"""/api/v1/audit: the privacy officer's view of the NEN 7513 audit log; and its sealer.

The sealer runs as a background task (every second) and once more on shutdown, after
the other background tasks have stopped and before the database closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

import structlog
from aiohttp import web
from pydantic import AwareDatetime, Field

from beeldbel.api import appkeys
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import PageQuery, Response
from beeldbel.audit.model import AuditEntry, AuditFilter, SeqCursor
from beeldbel.audit.queries import AuditTrail
from beeldbel.audit.sealing import AuditChain
from beeldbel.identity.model import Role

__all__ = ["CHAIN", "CONTEXTS", "OPERATIONS", "SEAL_EVERY_SECONDS", "TRAIL"]

log = structlog.get_logger("beeldbel.audit")

SEAL_EVERY_SECONDS = 1.0
CHAIN = web.AppKey("audit_chain", AuditChain)
TRAIL = web.AppKey("audit_trail", AuditTrail)


class AuditEntriesQuery(PageQuery):
    client_id: UUID | None = Field(default=None, description="Only entries about this client.")
    actor: Annotated[str | None, Field(min_length=1, max_length=200)] = Field(
        default=None, description="Only entries by this principal (its subject)."
    )
    from_: AwareDatetime | None = Field(
        default=None, alias="from", description="Entries at or after this time (with zone)."
    )
    to: AwareDatetime | None = Field(
        default=None, description="Entries before this time (with zone)."
    )


class AuditEntryOut(Response):
    seq: int = Field(description="Place in the chain: commit order.")
    id: int
    at: datetime
    event: str
    outcome: str
    actor: str | None
    on_behalf_of: str | None
    client_id: UUID | None
    object_type: str | None
    object_id: str | None
    source: str | None
    request_id: str | None
    detail: dict[str, str]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            seq=entry.seq,
            id=entry.id,
            at=entry.at,
            event=entry.event,
            outcome=entry.outcome,
            actor=entry.actor,
            on_behalf_of=entry.on_behalf_of,
            client_id=entry.client_id,
            object_type=entry.object_type,
            object_id=entry.object_id,
            source=entry.source,
            request_id=entry.request_id,
            detail=entry.detail,
        )


class AuditEntryPage(Response):
    items: list[AuditEntryOut]
    next_cursor: str | None


async def list_audit_entries(call: Call) -> Reply:
    query = call.query_as(AuditEntriesQuery)
    filters = AuditFilter(
        client_id=query.client_id, actor=query.actor, since=query.from_, until=query.to
    )
    after = SeqCursor.decode(query.cursor) if query.cursor else None
    page = await call.app[TRAIL].search(call.who(), filters, limit=query.limit, after=after)
    return Reply(
        AuditEntryPage(
            items=[AuditEntryOut.of(e) for e in page.items], next_cursor=page.next_cursor
        )
    )


async def _audit_chain(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    db, clock = app[appkeys.DATABASE], app[appkeys.CLOCK]
    chain = AuditChain(
        db,
        clock,
        key_file=settings.effective_audit_key_file,
        anchor_file=settings.effective_audit_anchor_file,
    )
    app[CHAIN] = chain
    app[TRAIL] = AuditTrail(db, app[appkeys.AUDIT], chain, clock)
    app[appkeys.TASKS].every("seal_audit_log", SEAL_EVERY_SECONDS, chain.seal)
    yield
    # The background tasks are stopped by now (they are torn down first): seal what
    # the last requests wrote, so a graceful shutdown leaves nothing unsealed.
    try:
        await chain.seal()
    except Exception:
        log.exception("audit_final_seal_failed")


CONTEXTS: tuple[CleanupContext, ...] = (_audit_chain,)

OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/audit/entries",
        list_audit_entries,
        "listAuditEntries",
        "Search the audit log (NEN 7513)",
        "audit",
        DataClass.CLIENT,
        response=AuditEntryPage,
        query=AuditEntriesQuery,
        roles=frozenset({Role.PRIVACY_OFFICER}),
        errors=(422,),
        description="For the privacy officer, signed in with a second factor. Filter by "
        "client, actor and period [from, to); entries come in chain (commit) order. "
        "Every query is itself written to the audit log.",
    ),
)
