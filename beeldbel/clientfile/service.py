"""Client-file use cases: each opens one unit of work, asks the access policy for a grant
and reaches the data only through it (the repository writes the audit entry with it).

Reading client data uses a writing unit of work: its audit entry is written with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.ledger import record_nothing_found
from beeldbel.access.model import Action, Basis, Category, Grant, NetworkRole
from beeldbel.access.service import AccessService
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.clientfile.model import (
    Address,
    CareTeamMember,
    Client,
    ClientChanges,
    ConsentDecision,
    ConsentMethod,
    ConsentRecord,
    ConsentTopic,
    EmergencyAccessRecord,
    HandoverRecord,
    LegalBasis,
    MemberChanges,
    NetworkMember,
    apply_client_changes,
    apply_member_changes,
    close_client,
    consent_giver,
    current_consent,
    is_given,
    new_client,
    new_consent_record,
    new_handover,
    new_network_member,
    open_emergency_access,
    valid_care_team,
)
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import staff_names
from beeldbel.db.repositories.clients import (
    CareTeam,
    ClientCursor,
    SqlAccessFacts,
    SqlClientFile,
    load_facts,
    search_candidates,
    team_of_client,
)
from beeldbel.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.pagination import Page, PageRequest

__all__ = [
    "ClientPage",
    "ClientService",
    "ConsentOverview",
    "ConsentService",
    "EmergencyAccessService",
    "Granted",
    "HandoverService",
]

T = TypeVar("T")
CARE_ROLES = frozenset({Role.WORKER, Role.COORDINATOR})
RECENT_EMERGENCIES = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Granted(Generic[T]):
    """A use case's answer and the grant it was reached with (the UI shows its basis)."""

    value: T
    grant: Grant


@dataclass(frozen=True, slots=True)
class ClientPage:
    items: tuple[Granted[Client], ...]
    next_cursor: str | None


class _UseCases:
    def __init__(self, db: Database, clock: Clock, access: AccessService) -> None:
        self._db = db
        self._clock = clock
        self._access = access

    def _file(self, session: AsyncSession) -> SqlClientFile:
        return SqlClientFile(session, self._access.audit, self._clock.now())

    async def _grant(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: UUID,
        action: Action,
        category: Category = Category.RECORD,
    ) -> Grant:
        return await self._access.grant(session, principal, client_id, action, category)


# --- clients, network, care team -------------------------------------------------------------


class ClientService(_UseCases):
    """Clients, their network and their care team."""

    async def search(
        self, principal: Principal, text: str | None, limit: int, cursor: str | None
    ) -> ClientPage:
        """Clients the principal may SEARCH, in name order. Each client listed gets its own
        SEARCH entry, so every client's trail shows who found them (NEN 7513)."""
        after = ClientCursor.decode(cursor).id if cursor else None
        async with self._access.transaction() as session:
            await self._access.screen(session, principal, Action.SEARCH, Category.RECORD)
            teams = await self._access.teams_of(session, principal.subject)
            found: list[Grant] = []
            batch = limit + 1
            while len(found) <= limit:
                ids = await search_candidates(
                    session,
                    subject=principal.subject,
                    teams=teams,
                    worker=Role.WORKER in principal.roles,
                    coordinator=Role.COORDINATOR in principal.roles,
                    text=text,
                    after=after,
                    limit=batch,
                    now=self._clock.now(),
                )
                grants = await self._access.grants(
                    session, principal, ids, Action.SEARCH, Category.RECORD
                )
                found.extend(grants[client_id] for client_id in ids if client_id in grants)
                if len(ids) < batch:
                    break
                after = ids[-1]
            page = found[:limit]
            clients = await self._file(session).found(page)
            if not page:
                record_nothing_found()
        by_id = {grant.client_id: grant for grant in page}
        more = len(found) > limit
        next_cursor = ClientCursor(clients[-1].id).encode() if more and clients else None
        return ClientPage(tuple(Granted(c, by_id[c.id]) for c in clients), next_cursor)

    async def create(
        self,
        principal: Principal,
        team_id: UUID,
        *,
        name: str,
        legal_basis: LegalBasis,
        date_of_birth: date | None,
        phone: str | None,
        address: Address | None,
        preferred_language: str,
    ) -> Granted[Client]:
        """Open a file for a team. A worker who opens it becomes its care team's lead; a
        coordinator assigns the care team afterwards."""
        client = new_client(
            uuid.uuid4(),
            team_id,
            name=name,
            legal_basis=legal_basis,
            now=self._clock.now(),
            date_of_birth=date_of_birth,
            phone=phone,
            address=address,
            preferred_language=preferred_language,
        )
        async with self._access.transaction() as session:
            grant = await self._access.grant_new(session, principal, client.id, team_id)
            lead = principal.subject if grant.basis is Basis.CARE_TEAM else None
            await self._file(session).add(grant, client, lead)
        return Granted(client, grant)

    async def get(self, principal: Principal, client_id: UUID) -> Granted[Client]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            return Granted(await self._file(session).get(grant, client_id), grant)

    async def change(
        self, principal: Principal, client_id: UUID, changes: ClientChanges, expected_version: int
    ) -> Granted[Client]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            file = self._file(session)
            current = await file.get(grant, client_id)
            _check_version(current.version, expected_version, "client")
            changed = apply_client_changes(current, changes, self._clock.now())
            if changed is not current:
                await file.update(grant, changed, expected_version, change="changed")
            return Granted(changed, grant)

    async def close(
        self, principal: Principal, client_id: UUID, expected_version: int
    ) -> Granted[Client]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            file = self._file(session)
            current = await file.get(grant, client_id)
            _check_version(current.version, expected_version, "client")
            closed = close_client(current, self._clock.now())
            await file.update(grant, closed, expected_version, change="closed")
            return Granted(closed, grant)

    # network

    async def network(self, principal: Principal, client_id: UUID) -> Granted[list[NetworkMember]]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            return Granted(await self._file(session).network(grant, client_id), grant)

    async def add_member(
        self,
        principal: Principal,
        client_id: UUID,
        *,
        name: str,
        roles: frozenset[NetworkRole],
        phone: str | None,
        email: str | None,
        language: str | None,
    ) -> Granted[NetworkMember]:
        member = new_network_member(
            uuid.uuid4(),
            client_id,
            name=name,
            roles=roles,
            now=self._clock.now(),
            phone=phone,
            email=email,
            language=language,
        )
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            await self._file(session).add_member(grant, member)
        return Granted(member, grant)

    async def change_member(
        self,
        principal: Principal,
        client_id: UUID,
        member_id: UUID,
        changes: MemberChanges,
        expected_version: int,
    ) -> Granted[NetworkMember]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            file = self._file(session)
            current = await file.member(grant, client_id, member_id)
            _check_version(current.version, expected_version, "network member")
            changed = apply_member_changes(current, changes, self._clock.now())
            if changed is not current:
                await file.update_member(grant, changed, expected_version)
            return Granted(changed, grant)

    async def remove_member(self, principal: Principal, client_id: UUID, member_id: UUID) -> None:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            await self._file(session).remove_member(grant, client_id, member_id)

    # care team

    async def care_team(self, principal: Principal, client_id: UUID) -> Granted[CareTeam]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            team = await self._file(session).care_team(grant, client_id)
            return Granted(await _named(session, team), grant)

    async def replace_care_team(
        self,
        principal: Principal,
        client_id: UUID,
        members: Sequence[CareTeamMember],
        expected_version: int,
    ) -> Granted[CareTeam]:
        """Who serves the client, with one lead. Everyone in it works in the client's team."""
        team = valid_care_team(members)
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            team_id = await team_of_client(session, client_id)
            strangers = [
                member.subject
                for member in team
                if team_id not in await self._access.teams_of(session, member.subject)
            ]
            if strangers:
                raise InvalidInput(
                    "everyone in a care team works in the client's wijkteam",
                    details={"field": "members", "not_in_team": strangers},
                )
            replaced = await self._file(session).replace_care_team(
                grant, client_id, team, expected_version
            )
            return Granted(await _named(session, replaced), grant)


async def _named(session: AsyncSession, team: CareTeam) -> CareTeam:
    """The care team with its members' display names (colleagues see each other's names)."""
    names = await staff_names(session, [m.subject for m in team.members])
    return replace(team, names=names)


def _check_version(current: int, expected: int, what: str) -> None:
    if current != expected:
        raise StaleVersion(
            f"the {what} was changed by someone else", details={"current_version": current}
        )


# --- consent ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentOverview:
    """The consent that counts now, per topic (None: never decided), and the full history."""

    current: Mapping[ConsentTopic, ConsentRecord | None]
    history: tuple[ConsentRecord, ...]
    names: Mapping[str, str] = field(default_factory=dict)  # who recorded them


class ConsentService(_UseCases):
    """The one place that knows whether a client consents. Later features ask
    :meth:`is_given` (or :meth:`given_in` inside their own unit of work) and keep no flag."""

    async def overview(self, principal: Principal, client_id: UUID) -> Granted[ConsentOverview]:
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            history = await self._file(session).consent_history(grant, client_id)
            names = await staff_names(session, {r.recorded_by for r in history})
        return Granted(ConsentOverview(current_consent(history), tuple(history), names), grant)

    async def record(
        self,
        principal: Principal,
        client_id: UUID,
        *,
        topic: ConsentTopic,
        decision: ConsentDecision,
        representative_id: UUID | None,
        how: ConsentMethod,
    ) -> Granted[ConsentRecord]:
        """Add a decision to the client's history. Concurrent decisions are all kept, each
        at its own position, in the order the database committed them."""
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.CHANGE)
            file = self._file(session)
            member = (
                await file.member(grant, client_id, representative_id)
                if representative_id is not None
                else None
            )
            giver = consent_giver(client_id, member)
            seq = await file.next_consent_seq(grant, client_id)
            record = new_consent_record(
                uuid.uuid4(),
                client_id,
                seq=seq,
                topic=topic,
                decision=decision,
                given_by=giver,
                how=how,
                recorded_by=principal.subject,
                now=self._clock.now(),
            )
            await file.append_consent(grant, record)
        return Granted(record, grant)

    async def given_in(
        self, session: AsyncSession, grant: Grant, client_id: UUID, topic: ConsentTopic
    ) -> bool:
        """Whether ``topic`` is consented to now, inside the caller's unit of work."""
        history = await self._file(session).consent_history(grant, client_id)
        return is_given(history, topic)

    async def is_given(self, principal: Principal, client_id: UUID, topic: ConsentTopic) -> bool:
        """Whether the client consents to ``topic`` now. No decision recorded: not given."""
        async with self._access.transaction() as session:
            grant = await self._grant(session, principal, client_id, Action.READ)
            return await self.given_in(session, grant, client_id, topic)


# --- emergency access (noodknop) -------------------------------------------------------------


class EmergencyAccessService(_UseCases):
    async def press(
        self, principal: Principal, client_id: UUID, reason: str
    ) -> Granted[EmergencyAccessRecord]:
        """Break the glass: time-limited read access for the on-call worker, with a written
        reason; flagged for the care team and the privacy officer, audited EMERGENCY_ACCESS."""
        record = open_emergency_access(
            uuid.uuid4(), client_id, principal.subject, reason, self._clock.now()
        )
        async with self._access.transaction() as session:
            known = await load_facts(session, principal.subject, [client_id], self._clock.now())
            if client_id not in known:
                raise NotFound("no such client", details={"id": str(client_id)})
            await SqlAccessFacts(session).add_emergency_access(record)
            grant = await self._grant(session, principal, client_id, Action.READ)
            if grant.basis is not Basis.EMERGENCY:
                raise Conflict(
                    "you already have access to this client; no emergency access is needed",
                    details={"basis": grant.basis.value},
                )
            await self._file(session).note_emergency_access(grant, record)
        return Granted(record, grant)

    def _category(self, principal: Principal) -> Category:
        # The privacy officer sees emergency accesses as part of the audit trail.
        if Role.PRIVACY_OFFICER in principal.roles and not principal.roles & CARE_ROLES:
            return Category.AUDIT_TRAIL
        return Category.RECORD

    async def of_client(
        self, principal: Principal, client_id: UUID
    ) -> Granted[list[EmergencyAccessRecord]]:
        """The emergency accesses to one client: for its care team and the privacy officer."""
        async with self._access.transaction() as session:
            grant = await self._grant(
                session, principal, client_id, Action.READ, self._category(principal)
            )
            return Granted(await self._file(session).emergency_accesses(grant, client_id), grant)

    async def recent(
        self, principal: Principal, limit: int
    ) -> list[Granted[list[EmergencyAccessRecord]]]:
        """Clients with a noodknop pressed in the last 30 days that the principal may see:
        every one for the privacy officer, their own clients for a care team."""
        category = self._category(principal)
        since = self._clock.now() - RECENT_EMERGENCIES
        async with self._access.transaction() as session:
            await self._access.screen(session, principal, Action.READ, category)
            ids = await SqlAccessFacts(session).emergency_client_ids(since, limit * 4)
            grants = await self._access.grants(session, principal, ids, Action.READ, category)
            file = self._file(session)
            found = [
                Granted(
                    await file.emergency_accesses(grants[client_id], client_id), grants[client_id]
                )
                for client_id in ids
                if client_id in grants
            ][:limit]
            if not found:
                record_nothing_found()
        return found


# --- handovers -------------------------------------------------------------------------------


class HandoverService(_UseCases):
    """A colleague takes over a worker's clients for a period. Organisation data: it names
    workers, not clients; the access policy turns it into grants while it lasts."""

    async def _colleagues(self, session: AsyncSession, one: str, other: str) -> bool:
        return bool(
            await self._access.teams_of(session, one) & await self._access.teams_of(session, other)
        )

    def _staff_with_second_factor(self, principal: Principal) -> None:
        if principal.kind is not PrincipalKind.STAFF or not principal.second_factor:
            raise Forbidden(
                "sign in with your second factor first",
                details={"reason": "sign in with your second factor first"},
            )

    async def create(
        self,
        principal: Principal,
        *,
        from_subject: str,
        to_subject: str,
        starts_at: datetime,
        ends_at: datetime,
    ) -> HandoverRecord:
        """A coordinator of the worker's team, or the worker themself, hands the worker's
        clients to a colleague in one of the worker's teams."""
        self._staff_with_second_factor(principal)
        handover = new_handover(
            uuid.uuid4(),
            from_subject=from_subject,
            to_subject=to_subject,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=principal.subject,
            now=self._clock.now(),
        )
        async with self._db.transaction() as session:
            if handover.from_subject == principal.subject:
                if not principal.roles & CARE_ROLES:
                    raise Forbidden("only care workers hand over clients")
            elif Role.COORDINATOR not in principal.roles or not await self._colleagues(
                session, principal.subject, handover.from_subject
            ):
                raise Forbidden(
                    "a coordinator of the worker's team, or the worker, hands over",
                    details={"field": "from_subject"},
                )
            if not await self._colleagues(session, handover.from_subject, handover.to_subject):
                raise InvalidInput(
                    "hand over to a colleague in one of the worker's teams",
                    details={"field": "to_subject"},
                )
            await SqlAccessFacts(session).add_handover(handover)
            await self._access.audit.append(
                session,
                AuditRecord(
                    event=AuditEvent.CHANGE,
                    outcome=Outcome.SUCCESS,
                    actor=principal.subject,
                    object_type="handover",
                    object_id=str(handover.id),
                    detail={
                        "from_subject": handover.from_subject,
                        "to_subject": handover.to_subject,
                        "starts_at": handover.starts_at.isoformat(),
                        "ends_at": handover.ends_at.isoformat(),
                    },
                ),
            )
        return handover

    async def of(
        self, principal: Principal, subject: str | None, page: PageRequest
    ) -> Page[HandoverRecord]:
        """Handovers from or to ``subject`` (default: the principal); another worker's
        only for a coordinator of one of their teams."""
        self._staff_with_second_factor(principal)
        whose = subject or principal.subject
        async with self._db.transaction(read_only=True) as session:
            if whose != principal.subject and (
                Role.COORDINATOR not in principal.roles
                or not await self._colleagues(session, principal.subject, whose)
            ):
                raise Forbidden("only a coordinator of their team sees a worker's handovers")
            return await SqlAccessFacts(session).handovers_of(whose, page)
