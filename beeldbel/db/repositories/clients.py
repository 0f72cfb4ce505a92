"""Client files in SQL: clients, network, care team, consent and emergency accesses.

Every method that touches a client's data takes a :class:`~beeldbel.access.model.Grant`
from the access policy, checks it covers the action (``grant.require``) before the first
query, and writes the audit entry through it in the caller's unit of work. There is no
other way to these rows: no method reads or writes client data without a grant.

:func:`load_facts` and :func:`search_candidates` are the policy's own inputs: they return
who serves a client and which client ids a principal might reach, never client data.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, delete, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.access.model import (
    Action,
    ClientFacts,
    EmergencyAccess,
    Grant,
    Handover,
    NetworkRole,
)
from beeldbel.audit.model import AuditEvent, through
from beeldbel.audit.service import AuditLog
from beeldbel.clientfile.model import (
    Address,
    CareTeamMember,
    Client,
    ConsentDecision,
    ConsentGiver,
    ConsentMethod,
    ConsentRecord,
    ConsentTopic,
    EmergencyAccessRecord,
    FileState,
    HandoverRecord,
    LegalBasis,
    NetworkMember,
    name_key,
    require_open,
)
from beeldbel.db.paging import in_creation_order, next_cursor, split_page
from beeldbel.db.tables.clients import (
    CareTeamMemberRow,
    ClientRow,
    ConsentRecordRow,
    EmergencyAccessRow,
    HandoverRow,
    NetworkMemberRow,
)
from beeldbel.errors import Conflict, InvalidInput, InvalidTransition, NotFound, StaleVersion
from beeldbel.pagination import Page, PageRequest

__all__ = [
    "CareTeam",
    "ClientCursor",
    "SqlAccessFacts",
    "SqlClientFile",
    "consent_given",
    "load_facts",
    "search_candidates",
    "team_of_client",
]


# --- rows and values -------------------------------------------------------------------------


def _to_client(row: ClientRow) -> Client:
    address = None
    if row.street is not None and row.postcode is not None and row.town is not None:
        address = Address(row.street, row.postcode, row.town)
    return Client(
        id=row.id,
        team_id=row.team_id,
        name=row.name,
        date_of_birth=row.date_of_birth,
        phone=row.phone,
        address=address,
        preferred_language=row.preferred_language,
        legal_basis=LegalBasis(row.legal_basis),
        file_state=FileState(row.file_state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        version=row.version,
    )


def _client_values(client: Client) -> dict[str, object]:
    address = client.address
    return {
        "team_id": client.team_id,
        "name": client.name,
        "name_key": name_key(client.name)[:200],
        "date_of_birth": client.date_of_birth,
        "phone": client.phone,
        "street": address.street if address else None,
        "postcode": address.postcode if address else None,
        "town": address.town if address else None,
        "preferred_language": client.preferred_language,
        "legal_basis": client.legal_basis.value,
        "file_state": client.file_state.value,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
        "closed_at": client.closed_at,
        "version": client.version,
    }


def _to_member(row: NetworkMemberRow) -> NetworkMember:
    return NetworkMember(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        roles=frozenset(NetworkRole(r) for r in row.roles),
        phone=row.phone,
        email=row.email,
        language=row.language,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _member_values(member: NetworkMember) -> dict[str, object]:
    return {
        "name": member.name,
        "roles": sorted(r.value for r in member.roles),
        "phone": member.phone,
        "email": member.email,
        "language": member.language,
        "updated_at": member.updated_at,
        "version": member.version,
    }


def _to_consent(row: ConsentRecordRow) -> ConsentRecord:
    return ConsentRecord(
        id=row.id,
        client_id=row.client_id,
        seq=row.seq,
        topic=ConsentTopic(row.topic),
        decision=ConsentDecision(row.decision),
        given_by=ConsentGiver(
            member_id=row.representative_id,
            role=NetworkRole(row.representative_role) if row.representative_role else None,
        ),
        how=ConsentMethod(row.how),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


def _to_emergency(row: EmergencyAccessRow) -> EmergencyAccessRecord:
    return EmergencyAccessRecord(
        id=row.id,
        client_id=row.client_id,
        subject=row.subject,
        reason=row.reason,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


@dataclass(frozen=True, slots=True)
class CareTeam:
    client_id: UUID
    members: tuple[CareTeamMember, ...]
    version: int
    names: Mapping[str, str] = field(default_factory=dict)  # subject: display name


@dataclass(frozen=True, slots=True)
class ClientCursor:
    """The position after a client in the name-ordered list. Carries only the client's id
    (the server looks up its place), so no name travels in a URL."""

    id: UUID

    def encode(self) -> str:
        raw = json.dumps({"c": str(self.id)}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> ClientCursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            return cls(id=UUID(data["c"]))
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
            raise InvalidInput(
                "the cursor is not one this service handed out", details={"field": "cursor"}
            ) from None


# --- the policy's inputs ---------------------------------------------------------------------


async def load_facts(
    session: AsyncSession, subject: str, client_ids: Collection[UUID], now: datetime
) -> dict[UUID, ClientFacts]:
    """What the access policy needs about each client, as far as it concerns ``subject``:
    the client's team and care team, the unexpired handovers from care-team members to
    ``subject`` and ``subject``'s unexpired emergency accesses. Missing clients are absent."""
    ids = list(set(client_ids))
    if not ids:
        return {}
    teams = dict(
        (
            await session.execute(
                select(ClientRow.id, ClientRow.team_id).where(ClientRow.id.in_(ids))
            )
        ).all()
    )
    care: dict[UUID, set[str]] = {client_id: set() for client_id in teams}
    for client_id, member in await session.execute(
        select(CareTeamMemberRow.client_id, CareTeamMemberRow.subject).where(
            CareTeamMemberRow.client_id.in_(ids)
        )
    ):
        care[client_id].add(member)
    handovers: dict[UUID, list[Handover]] = {client_id: [] for client_id in teams}
    covering = (
        select(CareTeamMemberRow.client_id, HandoverRow)
        .join(HandoverRow, HandoverRow.from_subject == CareTeamMemberRow.subject)
        .where(
            CareTeamMemberRow.client_id.in_(ids),
            HandoverRow.to_subject == subject,
            HandoverRow.ends_at > now,
        )
    )
    for client_id, handover in await session.execute(covering):
        handovers[client_id].append(
            Handover(
                handover.from_subject, handover.to_subject, handover.starts_at, handover.ends_at
            )
        )
    emergencies: dict[UUID, list[EmergencyAccess]] = {client_id: [] for client_id in teams}
    for row in await session.scalars(
        select(EmergencyAccessRow).where(
            EmergencyAccessRow.client_id.in_(ids),
            EmergencyAccessRow.subject == subject,
            EmergencyAccessRow.ends_at > now,
        )
    ):
        emergencies[row.client_id].append(_to_emergency(row).for_policy())
    return {
        client_id: ClientFacts(
            client_id=client_id,
            team_id=team_id,
            care_team=frozenset(care[client_id]),
            handovers=tuple(handovers[client_id]),
            emergencies=tuple(emergencies[client_id]),
        )
        for client_id, team_id in teams.items()
    }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_candidates(
    session: AsyncSession,
    *,
    subject: str,
    teams: Collection[UUID],
    worker: bool,
    coordinator: bool,
    text: str | None,
    after: UUID | None,
    limit: int,
    now: datetime,
) -> list[UUID]:
    """Ids of clients ``subject`` might reach, in name order: a superset the policy then
    decides on, one client at a time. No client data leaves this function."""
    reachable = [
        ClientRow.id.in_(
            select(CareTeamMemberRow.client_id).where(CareTeamMemberRow.subject == subject)
        )
    ]
    if worker:
        reachable.append(
            ClientRow.id.in_(
                select(CareTeamMemberRow.client_id)
                .join(HandoverRow, HandoverRow.from_subject == CareTeamMemberRow.subject)
                .where(
                    HandoverRow.to_subject == subject,
                    HandoverRow.starts_at <= now,
                    HandoverRow.ends_at > now,
                )
            )
        )
        reachable.append(
            ClientRow.id.in_(
                select(EmergencyAccessRow.client_id).where(
                    EmergencyAccessRow.subject == subject,
                    EmergencyAccessRow.starts_at <= now,
                    EmergencyAccessRow.ends_at > now,
                )
            )
        )
    if coordinator and teams:
        reachable.append(ClientRow.team_id.in_(list(teams)))
    query = select(ClientRow.id).where(or_(*reachable) if reachable else false())
    if text:
        query = query.where(ClientRow.name_key.like(_like(name_key(text)), escape="\\"))
    if after is not None:
        place = select(ClientRow.name_key).where(ClientRow.id == after).scalar_subquery()
        query = query.where(
            or_(ClientRow.name_key > place, and_(ClientRow.name_key == place, ClientRow.id > after))
        )
    query = query.order_by(ClientRow.name_key, ClientRow.id).limit(limit)
    return list((await session.scalars(query)).all())


# --- client data, through grants -------------------------------------------------------------


class SqlClientFile:
    """A client's record in SQL. Each method demands a grant and leaves an audit entry."""

    def __init__(self, session: AsyncSession, audit: AuditLog, now: datetime) -> None:
        self._session = session
        self._audit = audit
        self._now = now

    async def _audited(
        self,
        grant: Grant,
        action: Action,
        client_id: UUID,
        event: AuditEvent,
        object_type: str,
        object_id: UUID | str | None = None,
        **detail: str,
    ) -> None:
        grant.require(action, client_id, self._now)
        record = through(
            grant,
            event,
            object_type,
            None if object_id is None else str(object_id),
            **detail,
        )
        await self._audit.append(self._session, record)

    async def _row(self, client_id: UUID, *, lock: bool = False) -> ClientRow:
        query = select(ClientRow).where(ClientRow.id == client_id)
        if lock:
            query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL
        row = await self._session.scalar(query)
        if row is None:
            raise NotFound("no such client", details={"id": str(client_id)})
        return row

    async def _require_open(self, client_id: UUID) -> None:
        """Locks the client row (PostgreSQL) so a concurrent close is ordered with us."""
        require_open(_to_client(await self._row(client_id, lock=True)))

    async def require_open(self, grant: Grant, client_id: UUID) -> None:
        """Refuse a change to the care file of a closed file (InvalidTransition); the row
        stays locked until the unit of work ends, so closing waits for the change."""
        if not grant.allows(Action.CREATE, client_id, self._now):
            grant.require(Action.CHANGE, client_id, self._now)
        await self._require_open(client_id)

    # clients

    async def add(self, grant: Grant, client: Client, lead: str | None) -> None:
        """Store a new file; ``lead`` (if given) becomes its care team's lead."""
        grant.require(Action.CREATE, client.id, self._now)
        try:
            async with self._session.begin_nested():
                self._session.add(
                    ClientRow(
                        id=client.id, care_team_version=1, consent_seq=0, **_client_values(client)
                    )
                )
        except IntegrityError:
            raise InvalidInput("no such team", details={"field": "team_id"}) from None
        if lead is not None:
            self._session.add(
                CareTeamMemberRow(
                    client_id=client.id, subject=lead, is_lead=True, added_at=self._now
                )
            )
        await self._audited(grant, Action.CREATE, client.id, AuditEvent.CREATE, "client", client.id)

    async def get(self, grant: Grant, client_id: UUID) -> Client:
        grant.require(Action.READ, client_id, self._now)
        client = _to_client(await self._row(client_id))
        await self._audited(grant, Action.READ, client_id, AuditEvent.READ, "client", client_id)
        return client

    async def found(self, grants: Sequence[Grant]) -> list[Client]:
        """The clients of a search result, in the order of ``grants``; one SEARCH entry each."""
        for grant in grants:
            grant.require(Action.SEARCH, grant.client_id, self._now)
        ids = [grant.client_id for grant in grants]
        rows = {
            row.id: row
            for row in await self._session.scalars(select(ClientRow).where(ClientRow.id.in_(ids)))
        }
        clients = []
        for grant in grants:
            row = rows.get(grant.client_id)
            if row is None:
                continue
            clients.append(_to_client(row))
            await self._audited(
                grant, Action.SEARCH, grant.client_id, AuditEvent.SEARCH, "client", grant.client_id
            )
        return clients

    async def update(
        self, grant: Grant, client: Client, expected_version: int, **detail: str
    ) -> None:
        """Replace the client if it is still at ``expected_version``; else StaleVersion."""
        grant.require(Action.CHANGE, client.id, self._now)
        values = _client_values(client)
        del values["created_at"]
        result = await self._session.execute(
            update(ClientRow)
            .where(ClientRow.id == client.id, ClientRow.version == expected_version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = await self._row(client.id)
            raise StaleVersion(
                "the client was changed by someone else",
                details={"current_version": current.version},
            )
        await self._audited(
            grant, Action.CHANGE, client.id, AuditEvent.CHANGE, "client", client.id, **detail
        )

    # network

    async def network(self, grant: Grant, client_id: UUID) -> list[NetworkMember]:
        grant.require(Action.READ, client_id, self._now)
        rows = await self._session.scalars(
            select(NetworkMemberRow)
            .where(NetworkMemberRow.client_id == client_id, NetworkMemberRow.removed_at.is_(None))
            .order_by(NetworkMemberRow.created_at, NetworkMemberRow.name, NetworkMemberRow.id)
        )
        members = [_to_member(row) for row in rows]
        await self._audited(grant, Action.READ, client_id, AuditEvent.READ, "network")
        return members

    async def _member_row(self, client_id: UUID, member_id: UUID) -> NetworkMemberRow:
        row = await self._session.get(NetworkMemberRow, member_id)
        if row is None or row.client_id != client_id or row.removed_at is not None:
            raise NotFound("no such network member", details={"id": str(member_id)})
        return row

    async def member(self, grant: Grant, client_id: UUID, member_id: UUID) -> NetworkMember:
        """One member, read as part of a change (consent by a representative)."""
        grant.require(Action.READ, client_id, self._now)
        return _to_member(await self._member_row(client_id, member_id))

    async def add_member(self, grant: Grant, member: NetworkMember) -> None:
        grant.require(Action.CHANGE, member.client_id, self._now)
        await self._require_open(member.client_id)
        self._session.add(
            NetworkMemberRow(
                id=member.id,
                client_id=member.client_id,
                created_at=member.created_at,
                removed_at=None,
                **_member_values(member),
            )
        )
        await self._session.flush()
        await self._audited(
            grant,
            Action.CHANGE,
            member.client_id,
            AuditEvent.CHANGE,
            "network_member",
            member.id,
            change="added",
        )

    async def update_member(
        self, grant: Grant, member: NetworkMember, expected_version: int
    ) -> None:
        grant.require(Action.CHANGE, member.client_id, self._now)
        await self._require_open(member.client_id)
        result = await self._session.execute(
            update(NetworkMemberRow)
            .where(
                NetworkMemberRow.id == member.id,
                NetworkMemberRow.client_id == member.client_id,
                NetworkMemberRow.removed_at.is_(None),
                NetworkMemberRow.version == expected_version,
            )
            .values(**_member_values(member))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = await self._member_row(member.client_id, member.id)
            raise StaleVersion(
                "the network member was changed by someone else",
                details={"current_version": current.version},
            )
        await self._audited(
            grant,
            Action.CHANGE,
            member.client_id,
            AuditEvent.CHANGE,
            "network_member",
            member.id,
            change="changed",
        )

    async def remove_member(self, grant: Grant, client_id: UUID, member_id: UUID) -> None:
        """Take a member out of the network. The row stays: the consent history may name it."""
        grant.require(Action.CHANGE, client_id, self._now)
        await self._require_open(client_id)
        result = await self._session.execute(
            update(NetworkMemberRow)
            .where(
                NetworkMemberRow.id == member_id,
                NetworkMemberRow.client_id == client_id,
                NetworkMemberRow.removed_at.is_(None),
            )
            .values(removed_at=self._now, updated_at=self._now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound("no such network member", details={"id": str(member_id)})
        await self._audited(
            grant,
            Action.CHANGE,
            client_id,
            AuditEvent.CHANGE,
            "network_member",
            member_id,
            change="removed",
        )

    # care team

    async def _care_team(self, client_id: UUID) -> CareTeam:
        row = await self._row(client_id)
        members = await self._session.scalars(
            select(CareTeamMemberRow)
            .where(CareTeamMemberRow.client_id == client_id)
            .order_by(
                CareTeamMemberRow.is_lead.desc(),
                CareTeamMemberRow.added_at,
                CareTeamMemberRow.subject,
            )
        )
        return CareTeam(
            client_id=client_id,
            members=tuple(CareTeamMember(m.subject, m.is_lead) for m in members),
            version=row.care_team_version,
        )

    async def care_team(self, grant: Grant, client_id: UUID) -> CareTeam:
        grant.require(Action.READ, client_id, self._now)
        team = await self._care_team(client_id)
        await self._audited(grant, Action.READ, client_id, AuditEvent.READ, "care_team")
        return team

    async def replace_care_team(
        self,
        grant: Grant,
        client_id: UUID,
        members: Sequence[CareTeamMember],
        expected_version: int,
    ) -> CareTeam:
        """Replace the care team if it is still at ``expected_version``; else StaleVersion.

        The conditional update on the client row orders concurrent replacements; the
        partial unique index keeps one lead whatever happens."""
        grant.require(Action.CHANGE, client_id, self._now)
        result = await self._session.execute(
            update(ClientRow)
            .where(ClientRow.id == client_id, ClientRow.care_team_version == expected_version)
            .values(care_team_version=ClientRow.care_team_version + 1)
            .returning(ClientRow.file_state, ClientRow.care_team_version)
            .execution_options(synchronize_session=False)
        )
        changed = result.one_or_none()
        if changed is None:
            current = await self._row(client_id)
            raise StaleVersion(
                "the care team was changed by someone else",
                details={"current_version": current.care_team_version},
            )
        if changed.file_state != FileState.OPEN.value:
            raise InvalidTransition(
                "the file is closed; it can be read but not changed",
                details={"file_state": changed.file_state},
            )
        since: dict[str, datetime] = dict(
            (
                await self._session.execute(
                    select(CareTeamMemberRow.subject, CareTeamMemberRow.added_at).where(
                        CareTeamMemberRow.client_id == client_id
                    )
                )
            ).all()
        )
        await self._session.execute(
            delete(CareTeamMemberRow)
            .where(CareTeamMemberRow.client_id == client_id)
            .execution_options(synchronize_session=False)
        )
        if members:
            try:
                async with self._session.begin_nested():
                    await self._session.execute(
                        insert(CareTeamMemberRow),
                        [
                            {
                                "client_id": client_id,
                                "subject": member.subject,
                                "is_lead": member.is_lead,
                                "added_at": since.get(member.subject, self._now),
                            }
                            for member in members
                        ],
                    )
            except IntegrityError:
                raise Conflict("a care team has one lead and each worker once") from None
        await self._audited(grant, Action.CHANGE, client_id, AuditEvent.CHANGE, "care_team")
        return CareTeam(
            client_id=client_id, members=tuple(members), version=changed.care_team_version
        )

    # consent

    async def consent_history(self, grant: Grant, client_id: UUID) -> list[ConsentRecord]:
        grant.require(Action.READ, client_id, self._now)
        await self._row(client_id)
        rows = await self._session.scalars(
            select(ConsentRecordRow)
            .where(ConsentRecordRow.client_id == client_id)
            .order_by(ConsentRecordRow.seq)
        )
        history = [_to_consent(row) for row in rows]
        await self._audited(grant, Action.READ, client_id, AuditEvent.READ, "consent")
        return history

    async def next_consent_seq(self, grant: Grant, client_id: UUID) -> int:
        """The next position in the client's consent history, taken now: the client row
        stays locked until the unit of work ends, so concurrent decisions queue up and
        their positions follow their commit order."""
        grant.require(Action.CHANGE, client_id, self._now)
        result = await self._session.execute(
            update(ClientRow)
            .where(ClientRow.id == client_id)
            .values(consent_seq=ClientRow.consent_seq + 1)
            .returning(ClientRow.consent_seq, ClientRow.file_state)
            .execution_options(synchronize_session=False)
        )
        taken = result.one_or_none()
        if taken is None:
            raise NotFound("no such client", details={"id": str(client_id)})
        if taken.file_state != FileState.OPEN.value:
            raise InvalidTransition(
                "the file is closed; it can be read but not changed",
                details={"file_state": taken.file_state},
            )
        return int(taken.consent_seq)

    async def append_consent(self, grant: Grant, record: ConsentRecord) -> None:
        grant.require(Action.CHANGE, record.client_id, self._now)
        self._session.add(
            ConsentRecordRow(
                id=record.id,
                client_id=record.client_id,
                seq=record.seq,
                topic=record.topic.value,
                decision=record.decision.value,
                representative_id=record.given_by.member_id,
                representative_role=record.given_by.role.value if record.given_by.role else None,
                how=record.how.value,
                recorded_by=record.recorded_by,
                recorded_at=record.recorded_at,
            )
        )
        await self._session.flush()
        await self._audited(
            grant,
            Action.CHANGE,
            record.client_id,
            AuditEvent.CHANGE,
            "consent",
            record.id,
            topic=record.topic.value,
            decision=record.decision.value,
        )

    # emergency access

    async def note_emergency_access(self, grant: Grant, record: EmergencyAccessRecord) -> None:
        """The audit entry of a noodknop, made with the grant it gave."""
        await self._audited(
            grant,
            Action.READ,
            record.client_id,
            AuditEvent.EMERGENCY_ACCESS,
            "emergency_access",
            record.id,
            expires_at=record.ends_at.isoformat(),
        )

    async def emergency_accesses(
        self, grant: Grant, client_id: UUID
    ) -> list[EmergencyAccessRecord]:
        grant.require(Action.READ, client_id, self._now)
        rows = await self._session.scalars(
            select(EmergencyAccessRow)
            .where(EmergencyAccessRow.client_id == client_id)
            .order_by(EmergencyAccessRow.starts_at.desc(), EmergencyAccessRow.id)
        )
        records = [_to_emergency(row) for row in rows]
        await self._audited(grant, Action.READ, client_id, AuditEvent.READ, "emergency_accesses")
        return records


# --- handovers and emergency accesses as facts -----------------------------------------------


class SqlAccessFacts:
    """Handovers and emergency accesses: the facts grants are made from."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_emergency_access(self, record: EmergencyAccessRecord) -> None:
        self._session.add(
            EmergencyAccessRow(
                id=record.id,
                client_id=record.client_id,
                subject=record.subject,
                reason=record.reason,
                starts_at=record.starts_at,
                ends_at=record.ends_at,
            )
        )
        await self._session.flush()

    async def emergency_client_ids(self, since: datetime, limit: int) -> list[UUID]:
        """Clients with a noodknop pressed since ``since``, most recent first."""
        latest = func.max(EmergencyAccessRow.starts_at)
        rows = await self._session.execute(
            select(EmergencyAccessRow.client_id)
            .where(EmergencyAccessRow.starts_at >= since)
            .group_by(EmergencyAccessRow.client_id)
            .order_by(latest.desc(), EmergencyAccessRow.client_id)
            .limit(limit)
        )
        return list(rows.scalars().all())

    async def add_handover(self, handover: HandoverRecord) -> None:
        self._session.add(
            HandoverRow(
                id=handover.id,
                from_subject=handover.from_subject,
                to_subject=handover.to_subject,
                starts_at=handover.starts_at,
                ends_at=handover.ends_at,
                created_by=handover.created_by,
                created_at=handover.created_at,
            )
        )
        await self._session.flush()

    async def handovers_of(self, subject: str, page: PageRequest) -> Page[HandoverRecord]:
        """Handovers from or to ``subject``, oldest first."""
        mine = select(HandoverRow).where(
            or_(HandoverRow.from_subject == subject, HandoverRow.to_subject == subject)
        )
        query = in_creation_order(mine, HandoverRow.created_at, HandoverRow.id, page)
        rows, more = split_page((await self._session.scalars(query)).all(), page)
        items = tuple(
            HandoverRecord(
                id=row.id,
                from_subject=row.from_subject,
                to_subject=row.to_subject,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                created_by=row.created_by,
                created_at=row.created_at,
            )
            for row in rows
        )
        cursor = next_cursor(items[-1].created_at, items[-1].id, more) if items else None
        return Page(items=items, next_cursor=cursor)


async def consent_given(session: AsyncSession, client_id: UUID, topic: ConsentTopic) -> bool:
    """Whether the client's latest decision on ``topic`` gives consent: a policy input (a
    yes or no, no client data), like :func:`load_facts`."""
    row = await session.scalar(
        select(ConsentRecordRow.decision)
        .where(ConsentRecordRow.client_id == client_id, ConsentRecordRow.topic == topic.value)
        .order_by(ConsentRecordRow.seq.desc())
        .limit(1)
    )
    return row == ConsentDecision.GIVEN.value


async def team_of_client(session: AsyncSession, client_id: UUID) -> UUID:
    """The wijkteam holding the client's file (the policy's input, not client data)."""
    team_id = await session.scalar(select(ClientRow.team_id).where(ClientRow.id == client_id))
    if team_id is None:
        raise NotFound("no such client", details={"id": str(client_id)})
    return team_id
