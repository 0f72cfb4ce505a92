"""The access service: feeds the pure access policy from the database.

:meth:`AccessService.grant` loads what the policy needs about a client (its team, its care
team, handovers from care-team members to the principal, the principal's emergency
accesses) and the principal's teams, asks :func:`beeldbel.access.rules.decide` with the
clock's ``now`` and records the grant in the request's ledger, so the HTTP edge can see
client data went through the policy. A refusal is written to the audit log as
ACCESS_DENIED and raised again.

A refusal's audit entry must survive the rollback of the unit of work it happened in, so it
is written in a unit of work of its own (``AuditLog.append_alone``). On SQLite a second
writing transaction would wait for the first one's lock, so inside
:meth:`AccessService.transaction` the entry is written as soon as the caller's unit of work
has ended; outside one (a read-only unit of work, or PostgreSQL) it is written at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.ledger import record_grant
from beeldbel.access.model import Action, Category, ClientFacts, Grant
from beeldbel.access.rules import decide
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.clients import load_facts
from beeldbel.errors import Forbidden, NotFound
from beeldbel.identity.model import Principal

__all__ = ["AccessService", "TeamsOf", "no_teams"]

TeamsOf = Callable[[AsyncSession, str], Awaitable[frozenset[UUID]]]
"""The teams (wijkteams) a staff member belongs to, by principal subject."""

_DENIALS = "beeldbel_access_denials"
_PROBE = UUID(int=0)


async def no_teams(session: AsyncSession, subject: str) -> frozenset[UUID]:
    """Team membership when none is known: nobody coordinates any team's clients."""
    return frozenset()


class AccessService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog, teams_of: TeamsOf) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._teams_of = teams_of

    @property
    def audit(self) -> AuditLog:
        return self._audit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A writing unit of work (client data is read with one: its audit entries are
        written with it) after which refusals met inside it are audited."""
        denials: list[AuditRecord] = []
        try:
            async with self._db.transaction() as session:
                session.info[_DENIALS] = denials
                yield session
        finally:
            for record in denials:
                await self._audit.append_alone(record)

    async def teams_of(self, session: AsyncSession, subject: str) -> frozenset[UUID]:
        return await self._teams_of(session, subject)

    async def _deny(
        self,
        session: AsyncSession | None,
        principal: Principal,
        client_id: UUID | None,
        action: Action,
        category: Category,
        error: Forbidden,
    ) -> None:
        record = AuditRecord(
            event=AuditEvent.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            actor=principal.subject,
            client_id=client_id,
            object_type="client",
            object_id=str(client_id) if client_id else None,
            detail={
                "action": action.value,
                "category": category.value,
                "reason": str(error.details.get("reason", error.message)),
            },
        )
        pending = session.info.get(_DENIALS) if session is not None else None
        if pending is not None:
            pending.append(record)
        else:
            await self._audit.append_alone(record)

    async def _decide(
        self,
        session: AsyncSession,
        principal: Principal,
        facts: ClientFacts,
        action: Action,
        category: Category,
    ) -> Grant:
        teams = await self._teams_of(session, principal.subject)
        try:
            grant = decide(principal, teams, facts, action, category, self._clock.now())
        except Forbidden as error:
            await self._deny(session, principal, facts.client_id, action, category, error)
            raise
        record_grant(grant)
        return grant

    async def grant(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: UUID,
        action: Action,
        category: Category,
    ) -> Grant:
        """A grant for ``action`` on ``category`` of the client, or Forbidden (audited)."""
        facts = await load_facts(session, principal.subject, [client_id], self._clock.now())
        if client_id not in facts:
            raise NotFound("no such client", details={"id": str(client_id)})
        return await self._decide(session, principal, facts[client_id], action, category)

    async def grant_new(
        self, session: AsyncSession, principal: Principal, client_id: UUID, team_id: UUID
    ) -> Grant:
        """A grant to create a client file for ``team_id``, or Forbidden (audited)."""
        facts = ClientFacts(client_id=client_id, team_id=team_id)
        return await self._decide(session, principal, facts, Action.CREATE, Category.RECORD)

    async def screen(
        self, session: AsyncSession | None, principal: Principal, action: Action, category: Category
    ) -> None:
        """Refuse (audited) a principal who could reach no client at all for ``action`` on
        ``category``: not staff, no second factor, no role that serves clients.

        The policy answers this itself: a client whose care team the principal is in is
        the most anyone can have, so a refusal for that client is a refusal for every one.
        """
        probe = ClientFacts(
            client_id=_PROBE, team_id=_PROBE, care_team=frozenset({principal.subject})
        )
        try:
            decide(principal, frozenset(), probe, action, category, self._clock.now())
        except Forbidden as error:
            await self._deny(session, principal, None, action, category, error)
            raise

    async def grants(
        self,
        session: AsyncSession,
        principal: Principal,
        client_ids: Collection[UUID],
        action: Action,
        category: Category,
    ) -> dict[UUID, Grant]:
        """Grants for those of ``client_ids`` the principal may reach; the others are left
        out without an entry (a search result narrowed by the policy is not a refusal).
        Call :meth:`screen` first to refuse, with an entry, a principal who reaches none."""
        now = self._clock.now()
        facts = await load_facts(session, principal.subject, client_ids, now)
        teams = await self._teams_of(session, principal.subject)
        granted: dict[UUID, Grant] = {}
        for client_id in client_ids:
            if client_id not in facts:
                continue
            try:
                grant = decide(principal, teams, facts[client_id], action, category, now)
            except Forbidden:
                continue
            record_grant(grant)
            granted[client_id] = grant
        return granted
