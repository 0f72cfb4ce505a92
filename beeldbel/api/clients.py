"""/api/v1/clients and /api/v1/handovers: client files, their network, care team, consent,
emergency access (noodknop), and handovers between colleagues.

Every client route declares ``DataClass.CLIENT``: its use case asks the access policy for
a grant (refusals are audited ACCESS_DENIED) and reaches the data through it, writing the
audit entry in the same unit of work. Role checks live in the policy, not here, so that
every refusal is on record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Annotated, TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import AwareDatetime, Field

from beeldbel.access.model import Action, Basis, Category, Grant, NetworkRole
from beeldbel.access.service import AccessService, TeamsOf
from beeldbel.api import appkeys
from beeldbel.api.routing import (
    REPLAY_GUARD,
    Call,
    CleanupContext,
    DataClass,
    Operation,
    Reply,
)
from beeldbel.api.schemas import PageQuery, Request, Response
from beeldbel.audit.model import AuditEvent, through
from beeldbel.clientfile.model import (
    KEEP,
    Address,
    CareTeamMember,
    Client,
    ClientChanges,
    ConsentDecision,
    ConsentMethod,
    ConsentRecord,
    ConsentTopic,
    EmergencyAccessRecord,
    FileState,
    HandoverRecord,
    Keep,
    LegalBasis,
    MemberChanges,
    NetworkMember,
)
from beeldbel.clientfile.service import (
    ClientService,
    ConsentService,
    EmergencyAccessService,
    HandoverService,
)
from beeldbel.db.repositories import staff
from beeldbel.db.repositories.clients import CareTeam
from beeldbel.errors import InvalidInput
from beeldbel.identity.model import Principal
from beeldbel.pagination import Cursor, PageRequest

__all__ = [
    "ACCESS",
    "CLIENTS",
    "CONSENT",
    "CONTEXTS",
    "EMERGENCY_ACCESS",
    "HANDOVERS",
    "OPERATIONS",
    "TEAMS_OF",
]

T = TypeVar("T")

ACCESS = web.AppKey("access", AccessService)
CLIENTS = web.AppKey("clients", ClientService)
CONSENT = web.AppKey("consent", ConsentService)
EMERGENCY_ACCESS = web.AppKey("emergency_access", EmergencyAccessService)
HANDOVERS = web.AppKey("handovers", HandoverService)
TEAMS_OF: web.AppKey[TeamsOf] = web.AppKey("teams_of")
"""Where staff team membership comes from (default: the staff tables); tests may set it."""


async def _client_file(app: web.Application) -> AsyncIterator[None]:
    db, clock = app[appkeys.DATABASE], app[appkeys.CLOCK]
    access = AccessService(db, clock, app[appkeys.AUDIT], app.get(TEAMS_OF, staff.teams_of))
    app[ACCESS] = access
    app[CLIENTS] = ClientService(db, clock, access)
    app[CONSENT] = ConsentService(db, clock, access)
    app[EMERGENCY_ACCESS] = EmergencyAccessService(db, clock, access)
    app[HANDOVERS] = HandoverService(db, clock, access)

    async def reauthorize_replay(
        principal: Principal, touched: list[tuple[UUID, Category]]
    ) -> None:
        # A replayed answer shows client data again: ask the policy again, and audit it.
        async with access.transaction() as session:
            for client_id, category in touched:
                grant = await access.grant(session, principal, client_id, Action.READ, category)
                await access.audit.append(
                    session, through(grant, AuditEvent.READ, "idempotent_replay", str(client_id))
                )

    app[REPLAY_GUARD] = reauthorize_replay
    yield


CONTEXTS: tuple[CleanupContext, ...] = (_client_file,)

# --- request models --------------------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(min_length=1, max_length=40)]
Email = Annotated[str, Field(min_length=3, max_length=254)]
Language = Annotated[
    str, Field(min_length=2, max_length=35, description="BCP 47: 'nl', 'nds' (Twents), 'tr'")
]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
Version = Annotated[int, Field(ge=1, description="The version the change is based on.")]


class AddressIn(Request):
    street: Annotated[str, Field(min_length=1, max_length=200, description="With number.")]
    postcode: Annotated[str, Field(min_length=6, max_length=7, examples=["7471 AB"])]
    town: Annotated[str, Field(min_length=1, max_length=80)]

    def value(self) -> Address:
        return Address.of(self.street, self.postcode, self.town)


class ClientCreate(Request):
    team_id: UUID = Field(description="The wijkteam that will hold the file.")
    name: Name
    legal_basis: LegalBasis
    date_of_birth: date | None = None
    phone: Phone | None = None
    address: AddressIn | None = None
    preferred_language: Language = "nl"


class ClientPatch(Request):
    """Send only what changes; ``null`` clears an optional field."""

    version: Version
    name: Name | None = None
    legal_basis: LegalBasis | None = None
    date_of_birth: date | None = None
    phone: Phone | None = None
    address: AddressIn | None = None
    preferred_language: Language | None = None


class CloseBody(Request):
    version: Version


class ClientPath(Request):
    client_id: UUID


class ClientQuery(PageQuery):
    q: Annotated[str | None, Field(min_length=1, max_length=100)] = None


class MemberCreate(Request):
    name: Name
    roles: Annotated[list[NetworkRole], Field(min_length=1, max_length=len(NetworkRole))]
    phone: Phone | None = None
    email: Email | None = None
    language: Language | None = None


class MemberPatch(Request):
    version: Version
    name: Name | None = None
    roles: Annotated[list[NetworkRole], Field(min_length=1, max_length=len(NetworkRole))] | None = (
        None
    )
    phone: Phone | None = None
    email: Email | None = None
    language: Language | None = None


class MemberPath(Request):
    client_id: UUID
    member_id: UUID


class CareTeamMemberIn(Request):
    subject: Subject
    is_lead: bool = False


class CareTeamPut(Request):
    version: Version
    members: Annotated[list[CareTeamMemberIn], Field(max_length=30)]


class ConsentIn(Request):
    topic: ConsentTopic
    decision: ConsentDecision
    how: ConsentMethod
    representative_id: UUID | None = Field(
        default=None,
        description="A legal representative from the network; leave out if the client decides.",
    )


class EmergencyIn(Request):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class EmergencyQuery(Request):
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class HandoverCreate(Request):
    from_subject: Subject
    to_subject: Subject
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class HandoverQuery(PageQuery):
    subject: Subject | None = None


# --- response models -------------------------------------------------------------------------


class AccessOut(Response):
    """Why the caller may see this: shown in the UI (an emergency access is flagged)."""

    basis: Basis
    on_behalf_of: str | None
    expires_at: datetime | None
    flagged: bool

    @classmethod
    def of(cls, grant: Grant) -> AccessOut:
        return cls(
            basis=grant.basis,
            on_behalf_of=grant.on_behalf_of,
            expires_at=grant.expires_at,
            flagged=grant.flagged,
        )


class AddressOut(Response):
    street: str
    postcode: str
    town: str


class ClientOut(Response):
    id: UUID
    team_id: UUID
    name: str
    date_of_birth: date | None
    phone: str | None
    address: AddressOut | None
    preferred_language: str
    legal_basis: LegalBasis
    file_state: FileState
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    access: AccessOut

    @classmethod
    def of(cls, client: Client, grant: Grant) -> ClientOut:
        address = client.address
        return cls(
            id=client.id,
            team_id=client.team_id,
            name=client.name,
            date_of_birth=client.date_of_birth,
            phone=client.phone,
            address=AddressOut(street=address.street, postcode=address.postcode, town=address.town)
            if address
            else None,
            preferred_language=client.preferred_language,
            legal_basis=client.legal_basis,
            file_state=client.file_state,
            created_at=client.created_at,
            updated_at=client.updated_at,
            closed_at=client.closed_at,
            version=client.version,
            access=AccessOut.of(grant),
        )


class ClientPageOut(Response):
    items: list[ClientOut]
    next_cursor: str | None


class MemberOut(Response):
    id: UUID
    name: str
    roles: list[NetworkRole]
    is_legal_representative: bool
    phone: str | None
    email: str | None
    language: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, member: NetworkMember) -> MemberOut:
        return cls(
            id=member.id,
            name=member.name,
            roles=sorted(member.roles),
            is_legal_representative=member.is_legal_representative,
            phone=member.phone,
            email=member.email,
            language=member.language,
            created_at=member.created_at,
            updated_at=member.updated_at,
            version=member.version,
        )


class NetworkOut(Response):
    items: list[MemberOut]


class CareTeamMemberOut(Response):
    subject: str
    name: str | None = Field(default=None, description="The colleague's display name.")
    is_lead: bool


class CareTeamOut(Response):
    members: list[CareTeamMemberOut]
    version: int

    @classmethod
    def of(cls, team: CareTeam) -> CareTeamOut:
        return cls(
            members=[
                CareTeamMemberOut(
                    subject=m.subject, name=team.names.get(m.subject), is_lead=m.is_lead
                )
                for m in team.members
            ],
            version=team.version,
        )


class ConsentRecordOut(Response):
    id: UUID
    seq: int = Field(description="Position in the client's consent history (1, 2, ...).")
    topic: ConsentTopic
    decision: ConsentDecision
    given_by: str = Field(description="'client' or 'representative'.")
    representative_id: UUID | None
    representative_role: NetworkRole | None
    how: ConsentMethod
    recorded_by: str
    recorded_by_name: str | None = Field(default=None, description="Who recorded it.")
    recorded_at: datetime

    @classmethod
    def of(cls, record: ConsentRecord, names: Mapping[str, str] | None = None) -> ConsentRecordOut:
        return cls(
            id=record.id,
            seq=record.seq,
            topic=record.topic,
            decision=record.decision,
            given_by="client" if record.given_by.is_client else "representative",
            representative_id=record.given_by.member_id,
            representative_role=record.given_by.role,
            how=record.how,
            recorded_by=record.recorded_by,
            recorded_by_name=(names or {}).get(record.recorded_by),
            recorded_at=record.recorded_at,
        )


class ConsentNowOut(Response):
    topic: ConsentTopic
    given: bool = Field(description="False when withdrawn or never recorded.")
    decision: ConsentRecordOut | None = Field(description="The decision that counts; null: none.")


class ConsentOut(Response):
    current: list[ConsentNowOut]
    history: list[ConsentRecordOut]


class EmergencyOut(Response):
    id: UUID
    client_id: UUID
    subject: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    active: bool
    flagged: bool = True

    @classmethod
    def of(cls, record: EmergencyAccessRecord, now: datetime) -> EmergencyOut:
        return cls(
            id=record.id,
            client_id=record.client_id,
            subject=record.subject,
            reason=record.reason,
            starts_at=record.starts_at,
            ends_at=record.ends_at,
            active=record.active(now),
        )


class EmergencyListOut(Response):
    items: list[EmergencyOut]


class HandoverOut(Response):
    id: UUID
    from_subject: str
    to_subject: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    active: bool

    @classmethod
    def of(cls, handover: HandoverRecord, now: datetime) -> HandoverOut:
        return cls(
            id=handover.id,
            from_subject=handover.from_subject,
            to_subject=handover.to_subject,
            starts_at=handover.starts_at,
            ends_at=handover.ends_at,
            created_by=handover.created_by,
            created_at=handover.created_at,
            active=handover.active(now),
        )


class HandoverPage(Response):
    items: list[HandoverOut]
    next_cursor: str | None


# --- handlers --------------------------------------------------------------------------------


def _given(body: Request, name: str, value: T) -> T | Keep:
    """PATCH: a field not sent is kept; one sent as null is cleared (if it may be)."""
    return value if name in body.model_fields_set else KEEP


def _required(body: Request, name: str, value: T | None) -> T | Keep:
    if name not in body.model_fields_set:
        return KEEP
    if value is None:
        raise InvalidInput(f"{name} cannot be cleared", details={"field": name})
    return value


async def list_clients(call: Call) -> Reply:
    query = call.query_as(ClientQuery)
    page = await call.app[CLIENTS].search(call.who(), query.q, query.limit, query.cursor)
    return Reply(
        ClientPageOut(
            items=[ClientOut.of(item.value, item.grant) for item in page.items],
            next_cursor=page.next_cursor,
        )
    )


async def create_client(call: Call) -> Reply:
    body = call.body_as(ClientCreate)
    created = await call.app[CLIENTS].create(
        call.who(),
        body.team_id,
        name=body.name,
        legal_basis=body.legal_basis,
        date_of_birth=body.date_of_birth,
        phone=body.phone,
        address=body.address.value() if body.address else None,
        preferred_language=body.preferred_language,
    )
    return Reply(
        ClientOut.of(created.value, created.grant),
        status=201,
        headers={"Location": f"/api/v1/clients/{created.value.id}"},
    )


async def get_client(call: Call) -> Reply:
    found = await call.app[CLIENTS].get(call.who(), call.path_as(ClientPath).client_id)
    return Reply(ClientOut.of(found.value, found.grant))


async def patch_client(call: Call) -> Reply:
    body = call.body_as(ClientPatch)
    address = _given(body, "address", body.address)
    changes = ClientChanges(
        name=_required(body, "name", body.name),
        legal_basis=_required(body, "legal_basis", body.legal_basis),
        date_of_birth=_given(body, "date_of_birth", body.date_of_birth),
        phone=_given(body, "phone", body.phone),
        address=address if isinstance(address, Keep) or address is None else address.value(),
        preferred_language=_required(body, "preferred_language", body.preferred_language),
    )
    changed = await call.app[CLIENTS].change(
        call.who(), call.path_as(ClientPath).client_id, changes, body.version
    )
    return Reply(ClientOut.of(changed.value, changed.grant))


async def close_client(call: Call) -> Reply:
    body = call.body_as(CloseBody)
    closed = await call.app[CLIENTS].close(
        call.who(), call.path_as(ClientPath).client_id, body.version
    )
    return Reply(ClientOut.of(closed.value, closed.grant))


async def list_network(call: Call) -> Reply:
    network = await call.app[CLIENTS].network(call.who(), call.path_as(ClientPath).client_id)
    return Reply(NetworkOut(items=[MemberOut.of(member) for member in network.value]))


async def add_member(call: Call) -> Reply:
    body = call.body_as(MemberCreate)
    client_id = call.path_as(ClientPath).client_id
    added = await call.app[CLIENTS].add_member(
        call.who(),
        client_id,
        name=body.name,
        roles=frozenset(body.roles),
        phone=body.phone,
        email=body.email,
        language=body.language,
    )
    return Reply(
        MemberOut.of(added.value),
        status=201,
        headers={"Location": f"/api/v1/clients/{client_id}/network/{added.value.id}"},
    )


async def patch_member(call: Call) -> Reply:
    body = call.body_as(MemberPatch)
    path = call.path_as(MemberPath)
    roles = _required(body, "roles", body.roles)
    changes = MemberChanges(
        name=_required(body, "name", body.name),
        roles=roles if isinstance(roles, Keep) else frozenset(roles),
        phone=_given(body, "phone", body.phone),
        email=_given(body, "email", body.email),
        language=_given(body, "language", body.language),
    )
    changed = await call.app[CLIENTS].change_member(
        call.who(), path.client_id, path.member_id, changes, body.version
    )
    return Reply(MemberOut.of(changed.value))


async def remove_member(call: Call) -> Reply:
    path = call.path_as(MemberPath)
    await call.app[CLIENTS].remove_member(call.who(), path.client_id, path.member_id)
    return Reply(None, status=204)


async def get_care_team(call: Call) -> Reply:
    team = await call.app[CLIENTS].care_team(call.who(), call.path_as(ClientPath).client_id)
    return Reply(CareTeamOut.of(team.value))


async def put_care_team(call: Call) -> Reply:
    body = call.body_as(CareTeamPut)
    members = [CareTeamMember(m.subject, m.is_lead) for m in body.members]
    team = await call.app[CLIENTS].replace_care_team(
        call.who(), call.path_as(ClientPath).client_id, members, body.version
    )
    return Reply(CareTeamOut.of(team.value))


async def get_consent(call: Call) -> Reply:
    overview = await call.app[CONSENT].overview(call.who(), call.path_as(ClientPath).client_id)
    current = [
        ConsentNowOut(
            topic=topic,
            given=record is not None and record.decision is ConsentDecision.GIVEN,
            decision=ConsentRecordOut.of(record, overview.value.names) if record else None,
        )
        for topic, record in overview.value.current.items()
    ]
    history = [ConsentRecordOut.of(r, overview.value.names) for r in overview.value.history]
    return Reply(ConsentOut(current=current, history=history))


async def record_consent(call: Call) -> Reply:
    body = call.body_as(ConsentIn)
    recorded = await call.app[CONSENT].record(
        call.who(),
        call.path_as(ClientPath).client_id,
        topic=body.topic,
        decision=body.decision,
        representative_id=body.representative_id,
        how=body.how,
    )
    return Reply(ConsentRecordOut.of(recorded.value), status=201)


async def press_emergency(call: Call) -> Reply:
    body = call.body_as(EmergencyIn)
    pressed = await call.app[EMERGENCY_ACCESS].press(
        call.who(), call.path_as(ClientPath).client_id, body.reason
    )
    return Reply(EmergencyOut.of(pressed.value, call.app[appkeys.CLOCK].now()), status=201)


async def client_emergencies(call: Call) -> Reply:
    found = await call.app[EMERGENCY_ACCESS].of_client(
        call.who(), call.path_as(ClientPath).client_id
    )
    now = call.app[appkeys.CLOCK].now()
    return Reply(EmergencyListOut(items=[EmergencyOut.of(r, now) for r in found.value]))


async def recent_emergencies(call: Call) -> Reply:
    query = call.query_as(EmergencyQuery)
    found = await call.app[EMERGENCY_ACCESS].recent(call.who(), query.limit)
    now = call.app[appkeys.CLOCK].now()
    return Reply(
        EmergencyListOut(
            items=[EmergencyOut.of(record, now) for client in found for record in client.value]
        )
    )


async def create_handover(call: Call) -> Reply:
    body = call.body_as(HandoverCreate)
    handover = await call.app[HANDOVERS].create(
        call.who(),
        from_subject=body.from_subject,
        to_subject=body.to_subject,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    return Reply(HandoverOut.of(handover, call.app[appkeys.CLOCK].now()), status=201)


async def list_handovers(call: Call) -> Reply:
    query = call.query_as(HandoverQuery)
    after = Cursor.decode(query.cursor) if query.cursor else None
    page = await call.app[HANDOVERS].of(
        call.who(), query.subject, PageRequest(limit=query.limit, after=after)
    )
    now = call.app[appkeys.CLOCK].now()
    return Reply(
        HandoverPage(
            items=[HandoverOut.of(h, now) for h in page.items], next_cursor=page.next_cursor
        )
    )


# --- operations ------------------------------------------------------------------------------

CLIENT = DataClass.CLIENT
TAG = "clients"
ONE = "/api/v1/clients/{client_id}"

OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/clients",
        list_clients,
        "listClients",
        "Find clients you may see",
        TAG,
        CLIENT,
        response=ClientPageOut,
        query=ClientQuery,
        description="Clients in your care teams, those you cover in a handover or by "
        "emergency access, and (for coordinators) those of your teams, in name order. "
        "`q` matches names regardless of case and accents. Each client listed is audited.",
    ),
    Operation(
        "POST",
        "/api/v1/clients",
        create_client,
        "createClient",
        "Open a client file",
        TAG,
        CLIENT,
        response=ClientOut,
        status=201,
        body=ClientCreate,
        description="A worker of the team who opens the file becomes its care team's lead.",
    ),
    Operation(
        "GET",
        ONE,
        get_client,
        "getClient",
        "One client",
        TAG,
        CLIENT,
        response=ClientOut,
        path_params=ClientPath,
    ),
    Operation(
        "PATCH",
        ONE,
        patch_client,
        "changeClient",
        "Change a client's details",
        TAG,
        CLIENT,
        response=ClientOut,
        body=ClientPatch,
        path_params=ClientPath,
        errors=(409,),
        description="Send the version you read; `null` clears an optional field.",
    ),
    Operation(
        "POST",
        f"{ONE}/close",
        close_client,
        "closeClient",
        "Close a client's file",
        TAG,
        CLIENT,
        response=ClientOut,
        body=CloseBody,
        path_params=ClientPath,
        errors=(409,),
        description="A closed file is kept for its retention period and no longer changed.",
    ),
    Operation(
        "GET",
        f"{ONE}/network",
        list_network,
        "listNetwork",
        "The client's network",
        TAG,
        CLIENT,
        response=NetworkOut,
        path_params=ClientPath,
    ),
    Operation(
        "POST",
        f"{ONE}/network",
        add_member,
        "addNetworkMember",
        "Add someone to the client's network",
        TAG,
        CLIENT,
        response=MemberOut,
        status=201,
        body=MemberCreate,
        path_params=ClientPath,
        errors=(409,),
    ),
    Operation(
        "PATCH",
        f"{ONE}/network/{{member_id}}",
        patch_member,
        "changeNetworkMember",
        "Change a network member",
        TAG,
        CLIENT,
        response=MemberOut,
        body=MemberPatch,
        path_params=MemberPath,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        f"{ONE}/network/{{member_id}}",
        remove_member,
        "removeNetworkMember",
        "Take someone out of the client's network",
        TAG,
        CLIENT,
        status=204,
        path_params=MemberPath,
        errors=(409,),
    ),
    Operation(
        "GET",
        f"{ONE}/care-team",
        get_care_team,
        "getCareTeam",
        "Who serves the client",
        TAG,
        CLIENT,
        response=CareTeamOut,
        path_params=ClientPath,
    ),
    Operation(
        "PUT",
        f"{ONE}/care-team",
        put_care_team,
        "replaceCareTeam",
        "Set who serves the client, with one lead",
        TAG,
        CLIENT,
        response=CareTeamOut,
        body=CareTeamPut,
        path_params=ClientPath,
        errors=(409,),
        description="Send the care team's version; everyone must work in the client's team.",
    ),
    Operation(
        "GET",
        f"{ONE}/consent",
        get_consent,
        "getConsent",
        "The client's consent: what counts now, and the history",
        TAG,
        CLIENT,
        response=ConsentOut,
        path_params=ClientPath,
    ),
    Operation(
        "POST",
        f"{ONE}/consent",
        record_consent,
        "recordConsent",
        "Record a consent decision (given or withdrawn)",
        TAG,
        CLIENT,
        response=ConsentRecordOut,
        status=201,
        body=ConsentIn,
        path_params=ClientPath,
        errors=(409,),
        description="By the client, or by a legal representative from the network. "
        "The latest decision per topic counts; no decision means not given.",
    ),
    Operation(
        "POST",
        f"{ONE}/emergency-access",
        press_emergency,
        "pressEmergencyAccess",
        "Emergency access (noodknop)",
        TAG,
        CLIENT,
        response=EmergencyOut,
        status=201,
        body=EmergencyIn,
        path_params=ClientPath,
        errors=(409,),
        description="For the on-call worker outside the care team: read access for four "
        "hours, with a written reason; flagged for the care team and the privacy officer.",
    ),
    Operation(
        "GET",
        f"{ONE}/emergency-accesses",
        client_emergencies,
        "listClientEmergencyAccesses",
        "Emergency accesses to a client",
        TAG,
        CLIENT,
        response=EmergencyListOut,
        path_params=ClientPath,
        description="For the client's care team and the privacy officer.",
    ),
    Operation(
        "GET",
        "/api/v1/emergency-accesses",
        recent_emergencies,
        "listRecentEmergencyAccesses",
        "Emergency accesses of the last 30 days",
        TAG,
        CLIENT,
        response=EmergencyListOut,
        query=EmergencyQuery,
        description="All of them for the privacy officer; your own clients' for a care team.",
    ),
    Operation(
        "POST",
        "/api/v1/handovers",
        create_handover,
        "createHandover",
        "Hand over a worker's clients to a colleague for a period",
        "handovers",
        DataClass.ORGANISATION,
        response=HandoverOut,
        status=201,
        body=HandoverCreate,
        description="By a coordinator of the worker's team or by the worker themself.",
    ),
    Operation(
        "GET",
        "/api/v1/handovers",
        list_handovers,
        "listHandovers",
        "Handovers from or to a worker",
        "handovers",
        DataClass.ORGANISATION,
        response=HandoverPage,
        query=HandoverQuery,
        description="Yours by default; a coordinator may ask for a worker of their team.",
    ),
)
