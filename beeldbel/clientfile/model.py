"""Clients, their network, care teams, handovers, emergency access and consent. Pure.

Plain values and functions of ``now``: no I/O, no clock. Everything a client file
holds is validated here, so the database and the HTTP edge only ever see clean values.

Consent follows one rule, :func:`current_consent`: per topic, the latest decision (by
its position in the client's consent history) wins, and a topic without any decision
is *not* given. Later features ask the consent module; none keeps a flag of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from typing import Final, TypeVar
from uuid import UUID

from beeldbel.access.model import EmergencyAccess, Handover, NetworkRole
from beeldbel.access.rules import validate_emergency_reason
from beeldbel.errors import InvalidInput, InvalidTransition

__all__ = [
    "EMERGENCY_ACCESS_DURATION",
    "KEEP",
    "LEGAL_REPRESENTATIVE_ROLES",
    "MAX_CARE_TEAM",
    "MAX_HANDOVER",
    "Address",
    "CareTeamMember",
    "Client",
    "ClientChanges",
    "ConsentDecision",
    "ConsentGiver",
    "ConsentMethod",
    "ConsentRecord",
    "ConsentTopic",
    "EmergencyAccessRecord",
    "FileState",
    "HandoverRecord",
    "Keep",
    "LegalBasis",
    "MemberChanges",
    "NetworkMember",
    "apply_client_changes",
    "apply_member_changes",
    "close_client",
    "consent_giver",
    "current_consent",
    "is_given",
    "name_key",
    "new_client",
    "new_consent_record",
    "new_handover",
    "new_network_member",
    "open_emergency_access",
    "require_open",
    "valid_care_team",
]

MAX_NAME: Final = 200
MAX_STREET: Final = 200
MAX_TOWN: Final = 80
MAX_EMAIL: Final = 254
MAX_SUBJECT: Final = 200
MAX_CARE_TEAM: Final = 30
MAX_HANDOVER: Final = timedelta(days=366)
EMERGENCY_ACCESS_DURATION: Final = timedelta(hours=4)
EARLIEST_BIRTH: Final = date(1900, 1, 1)

_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Z]{2})$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# BCP 47, the common part: a 2-3 letter language and optional subtags ("nl", "nds", "pt-BR").
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SUBJECT = re.compile(r"^\S+$")


class FileState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class LegalBasis(StrEnum):
    """The law the file is kept under; it decides how long it is kept (retention)."""

    WMO_2015 = "wmo_2015"  # Wet maatschappelijke ondersteuning 2015
    JEUGDWET = "jeugdwet"
    WGBO = "wgbo"  # Wet op de geneeskundige behandelingsovereenkomst


LEGAL_REPRESENTATIVE_ROLES: Final = frozenset(
    {NetworkRole.MENTOR, NetworkRole.CURATOR, NetworkRole.PARENT_WITH_AUTHORITY}
)


class Keep(Enum):
    """Marks a field a change leaves as it is (``None`` clears an optional field)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
T = TypeVar("T")


def _field(value: T | Keep, current: T) -> T:
    return current if isinstance(value, Keep) else value


# --- cleaning and checking single values -------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


# Letters that do not decompose into a base letter and an accent.
_PLAIN = str.maketrans({"ı": "i", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "æ": "ae", "œ": "oe"})  # noqa: RUF001


def name_key(name: str) -> str:
    """How names are sorted and searched: case, accents and spacing do not matter
    (a Turkish dotless i is an i, so 'yilmaz' finds the name with one)."""
    decomposed = unicodedata.normalize("NFKD", _clean(name).casefold().translate(_PLAIN))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _text(value: str, field: str, maximum: int, what: str) -> str:
    cleaned = _clean(value)
    if not cleaned:
        raise InvalidInput(f"{what} may not be empty", details={"field": field})
    if len(cleaned) > maximum:
        raise InvalidInput(f"{what} has at most {maximum} characters", details={"field": field})
    return cleaned


def _phone(value: str | None, field: str = "phone") -> str | None:
    if value is None:
        return None
    cleaned = _clean(value)
    digits = sum(c.isdigit() for c in cleaned)
    if not _PHONE_CHARS.match(cleaned) or not 6 <= digits <= 15:
        raise InvalidInput(
            "a phone number has 6 to 15 digits (and may have +, spaces, dashes, brackets)",
            details={"field": field},
        )
    return cleaned


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > MAX_EMAIL or not _EMAIL.match(cleaned):
        raise InvalidInput("not an e-mail address", details={"field": "email"})
    return cleaned


def _language(value: str, field: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > 35 or not _LANGUAGE.match(cleaned):
        raise InvalidInput(
            "a language is a code such as 'nl', 'nds' (Twents), 'tr' or 'pt-BR'",
            details={"field": field},
        )
    return cleaned


def _birth_date(value: date | None, now: datetime) -> date | None:
    if value is None:
        return None
    if value < EARLIEST_BIRTH or value > now.date():
        raise InvalidInput(
            "the date of birth must lie between 1900 and today",
            details={"field": "date_of_birth"},
        )
    return value


def _subject(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_SUBJECT or not _SUBJECT.match(cleaned):
        raise InvalidInput("not a staff member's subject", details={"field": field})
    return cleaned


# --- clients ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """Where a worker visits the client (huisbezoek). Dutch postcodes: '7471 AB'."""

    street: str  # with house number
    postcode: str
    town: str

    @classmethod
    def of(cls, street: str, postcode: str, town: str) -> Address:
        match = _POSTCODE.match(_clean(postcode).upper())
        if match is None:
            raise InvalidInput(
                "a postcode looks like '7471 AB'", details={"field": "address.postcode"}
            )
        return cls(
            street=_text(street, "address.street", MAX_STREET, "the street"),
            postcode=f"{match.group(1)} {match.group(2)}",
            town=_text(town, "address.town", MAX_TOWN, "the town"),
        )


@dataclass(frozen=True, slots=True)
class Client:
    """A client of a wijkteam, with the minimal data the team needs to reach them."""

    id: UUID
    team_id: UUID  # the wijkteam whose file this is
    name: str
    date_of_birth: date | None
    phone: str | None
    address: Address | None
    preferred_language: str
    legal_basis: LegalBasis
    file_state: FileState
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class ClientChanges:
    """What a change may touch; :data:`KEEP` leaves a field, ``None`` clears an optional one."""

    name: str | Keep = KEEP
    date_of_birth: date | Keep | None = KEEP
    phone: str | Keep | None = KEEP
    address: Address | Keep | None = KEEP
    preferred_language: str | Keep = KEEP
    legal_basis: LegalBasis | Keep = KEEP


def new_client(
    id: UUID,
    team_id: UUID,
    *,
    name: str,
    legal_basis: LegalBasis,
    now: datetime,
    date_of_birth: date | None = None,
    phone: str | None = None,
    address: Address | None = None,
    preferred_language: str = "nl",
) -> Client:
    """A new, open file; raises InvalidInput for unusable values."""
    return Client(
        id=id,
        team_id=team_id,
        name=_text(name, "name", MAX_NAME, "a name"),
        date_of_birth=_birth_date(date_of_birth, now),
        phone=_phone(phone),
        address=address,
        preferred_language=_language(preferred_language, "preferred_language"),
        legal_basis=legal_basis,
        file_state=FileState.OPEN,
        created_at=now,
        updated_at=now,
    )


def require_open(client: Client) -> None:
    """A closed file is kept (for retention) but no longer changed."""
    if client.file_state is FileState.CLOSED:
        raise InvalidTransition(
            "the file is closed; it can be read but not changed",
            details={"file_state": client.file_state.value},
        )


def apply_client_changes(client: Client, changes: ClientChanges, now: datetime) -> Client:
    """The client after ``changes``; the version moves on only if something changed."""
    require_open(client)
    name = _field(changes.name, client.name)
    language = _field(changes.preferred_language, client.preferred_language)
    changed = replace(
        client,
        name=_text(name, "name", MAX_NAME, "a name"),
        date_of_birth=_birth_date(_field(changes.date_of_birth, client.date_of_birth), now),
        phone=_phone(_field(changes.phone, client.phone)),
        address=_field(changes.address, client.address),
        preferred_language=_language(language, "preferred_language"),
        legal_basis=_field(changes.legal_basis, client.legal_basis),
    )
    if changed == client:
        return client
    return replace(changed, updated_at=now, version=client.version + 1)


def close_client(client: Client, now: datetime) -> Client:
    """The file closed: kept for its retention period, no longer changed."""
    require_open(client)
    return replace(
        client,
        file_state=FileState.CLOSED,
        closed_at=now,
        updated_at=now,
        version=client.version + 1,
    )


# --- the client's network --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkMember:
    """Someone around the client (family, mantelzorger, bewindvoerder, ...), with their own
    contact details. One person may hold several roles (a daughter who is mantelzorger and
    mentor)."""

    id: UUID
    client_id: UUID
    name: str
    roles: frozenset[NetworkRole]
    phone: str | None
    email: str | None
    language: str | None  # the language an interpreter interprets, or the member speaks
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def is_legal_representative(self) -> bool:
        """Mentor, curator or parent with authority: may decide (and consent) for the client.
        A bewindvoerder manages money only and is not one."""
        return bool(self.roles & LEGAL_REPRESENTATIVE_ROLES)


@dataclass(frozen=True, slots=True)
class MemberChanges:
    name: str | Keep = KEEP
    roles: frozenset[NetworkRole] | Keep = KEEP
    phone: str | Keep | None = KEEP
    email: str | Keep | None = KEEP
    language: str | Keep | None = KEEP


def _roles(roles: Iterable[NetworkRole]) -> frozenset[NetworkRole]:
    chosen = frozenset(roles)
    if not chosen:
        raise InvalidInput("a network member has at least one role", details={"field": "roles"})
    return chosen


def _member_language(value: str | None) -> str | None:
    return None if value is None else _language(value, "language")


def new_network_member(
    id: UUID,
    client_id: UUID,
    *,
    name: str,
    roles: Iterable[NetworkRole],
    now: datetime,
    phone: str | None = None,
    email: str | None = None,
    language: str | None = None,
) -> NetworkMember:
    return NetworkMember(
        id=id,
        client_id=client_id,
        name=_text(name, "name", MAX_NAME, "a name"),
        roles=_roles(roles),
        phone=_phone(phone),
        email=_email(email),
        language=_member_language(language),
        created_at=now,
        updated_at=now,
    )


def apply_member_changes(
    member: NetworkMember, changes: MemberChanges, now: datetime
) -> NetworkMember:
    changed = replace(
        member,
        name=_text(_field(changes.name, member.name), "name", MAX_NAME, "a name"),
        roles=_roles(_field(changes.roles, member.roles)),
        phone=_phone(_field(changes.phone, member.phone)),
        email=_email(_field(changes.email, member.email)),
        language=_member_language(_field(changes.language, member.language)),
    )
    if changed == member:
        return member
    return replace(changed, updated_at=now, version=member.version + 1)


# --- care teams ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CareTeamMember:
    """A worker (by principal subject) serving the client; one of them leads."""

    subject: str
    is_lead: bool = False


def valid_care_team(members: Iterable[CareTeamMember]) -> tuple[CareTeamMember, ...]:
    """A care team: no one twice, and exactly one lead unless the team is empty."""
    cleaned = tuple(
        CareTeamMember(_subject(m.subject, "members.subject"), m.is_lead) for m in members
    )
    subjects = [m.subject for m in cleaned]
    if len(set(subjects)) != len(subjects):
        raise InvalidInput("someone is in the care team twice", details={"field": "members"})
    if len(cleaned) > MAX_CARE_TEAM:
        raise InvalidInput(
            f"a care team has at most {MAX_CARE_TEAM} members", details={"field": "members"}
        )
    leads = sum(m.is_lead for m in cleaned)
    if cleaned and leads != 1:
        raise InvalidInput(
            "a care team has exactly one lead", details={"field": "members", "leads": leads}
        )
    return cleaned


# --- handovers and emergency access ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandoverRecord:
    """A colleague takes over a worker's clients for a period (illness, leave)."""

    id: UUID
    from_subject: str
    to_subject: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime

    def for_policy(self) -> Handover:
        return Handover(self.from_subject, self.to_subject, self.starts_at, self.ends_at)

    def active(self, now: datetime) -> bool:
        return self.for_policy().active(now)


def new_handover(
    id: UUID,
    *,
    from_subject: str,
    to_subject: str,
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    now: datetime,
) -> HandoverRecord:
    giver = _subject(from_subject, "from_subject")
    taker = _subject(to_subject, "to_subject")
    if giver == taker:
        raise InvalidInput("a worker cannot hand over to themself", details={"field": "to_subject"})
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("give times with a time zone", details={"field": "starts_at"})
    if ends_at <= starts_at:
        raise InvalidInput("a handover ends after it starts", details={"field": "ends_at"})
    if ends_at <= now:
        raise InvalidInput("this handover would already be over", details={"field": "ends_at"})
    if ends_at - starts_at > MAX_HANDOVER:
        raise InvalidInput("a handover lasts at most a year", details={"field": "ends_at"})
    return HandoverRecord(
        id=id,
        from_subject=giver,
        to_subject=taker,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        created_at=now,
    )


@dataclass(frozen=True, slots=True)
class EmergencyAccessRecord:
    """A noodknop pressed: who, for which client, why, and until when. Always flagged."""

    id: UUID
    client_id: UUID
    subject: str
    reason: str
    starts_at: datetime
    ends_at: datetime

    def for_policy(self) -> EmergencyAccess:
        return EmergencyAccess(self.subject, self.reason, self.starts_at, self.ends_at)

    def active(self, now: datetime) -> bool:
        return self.for_policy().active(now)


def open_emergency_access(
    id: UUID, client_id: UUID, subject: str, reason: str, now: datetime
) -> EmergencyAccessRecord:
    """Read access for the on-call duty, with a written reason, for a limited time."""
    return EmergencyAccessRecord(
        id=id,
        client_id=client_id,
        subject=subject,
        reason=validate_emergency_reason(reason),
        starts_at=now,
        ends_at=now + EMERGENCY_ACCESS_DURATION,
    )


# --- consent ---------------------------------------------------------------------------------


class ConsentTopic(StrEnum):
    VIDEO_CALLS = "video_calls"
    GUESTS_IN_CALLS = "guests_in_calls"
    TABLET_AUTO_ANSWER = "tablet_auto_answer"  # a loaned tablet answers calls by itself
    RECORDING = "recording"
    CLIENT_WIFI = "client_wifi"  # a worker's device uses the client's Wi-Fi


class ConsentDecision(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    """How the decision was expressed."""

    SPOKEN = "spoken"
    SIGNED = "signed"
    DIGITAL = "digital"


@dataclass(frozen=True, slots=True)
class ConsentGiver:
    """The client themself (``member_id`` None) or a legal representative from the network."""

    member_id: UUID | None = None
    role: NetworkRole | None = None  # the representative's legal role when they decided

    @property
    def is_client(self) -> bool:
        return self.member_id is None


def consent_giver(client_id: UUID, member: NetworkMember | None) -> ConsentGiver:
    """Who decides: the client, or a legal representative of this client (never a
    bewindvoerder, who manages money, nor family without legal authority)."""
    if member is None:
        return ConsentGiver()
    if member.client_id != client_id or not member.is_legal_representative:
        raise InvalidInput(
            "only the client or their legal representative (mentor, curator, parent with "
            "authority) decides on consent",
            details={"field": "given_by"},
        )
    role = min(member.roles & LEGAL_REPRESENTATIVE_ROLES)  # deterministic if several
    return ConsentGiver(member_id=member.id, role=role)


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One decision in a client's consent history. Records are never changed or removed;
    ``seq`` is the decision's position in the client's history (1, 2, 3, ...)."""

    id: UUID
    client_id: UUID
    seq: int
    topic: ConsentTopic
    decision: ConsentDecision
    given_by: ConsentGiver
    how: ConsentMethod
    recorded_by: str
    recorded_at: datetime


def new_consent_record(
    id: UUID,
    client_id: UUID,
    *,
    seq: int,
    topic: ConsentTopic,
    decision: ConsentDecision,
    given_by: ConsentGiver,
    how: ConsentMethod,
    recorded_by: str,
    now: datetime,
) -> ConsentRecord:
    if seq < 1:
        raise ValueError("a consent history starts at 1")
    return ConsentRecord(
        id=id,
        client_id=client_id,
        seq=seq,
        topic=topic,
        decision=decision,
        given_by=given_by,
        how=how,
        recorded_by=recorded_by,
        recorded_at=now,
    )


def current_consent(
    history: Iterable[ConsentRecord],
) -> Mapping[ConsentTopic, ConsentRecord | None]:
    """Per topic, the decision that counts: the latest one. ``None``: never decided."""
    latest: dict[ConsentTopic, ConsentRecord | None] = dict.fromkeys(ConsentTopic)
    for record in history:
        known = latest[record.topic]
        if known is None or record.seq > known.seq:
            latest[record.topic] = record
    return latest


def is_given(history: Iterable[ConsentRecord], topic: ConsentTopic) -> bool:
    """Whether consent on ``topic`` is given now. No decision recorded means not given."""
    record = current_consent(history)[topic]
    return record is not None and record.decision is ConsentDecision.GIVEN
