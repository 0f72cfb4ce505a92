"""Grants and the facts the access policy decides on. Pure: plain values, no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from beeldbel.errors import Forbidden

__all__ = [
    "Action",
    "Basis",
    "Category",
    "ClientFacts",
    "EmergencyAccess",
    "Grant",
    "Handover",
    "NetworkRole",
]


class Action(StrEnum):
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    CHANGE = "change"
    EXPORT = "export"
    DELETE = "delete"  # a whole file, once its retention period has passed


class Category(StrEnum):
    """What part of a client's data an action touches."""

    RECORD = "record"  # who the client is: name, contact details, network, care team, consent
    CARE_FILE = "care_file"  # contacts, notes, reports, appointments' content
    AUDIT_TRAIL = "audit_trail"  # who looked at the client's data
    RETENTION = "retention"  # the file's legal basis and closed date, and deleting it


class Basis(StrEnum):
    """Why a grant was given; recorded with every audit entry made through it."""

    CARE_TEAM = "care_team"
    HANDOVER = "handover"
    EMERGENCY = "emergency"
    TEAM_COORDINATION = "team_coordination"
    PRIVACY_OFFICER = "privacy_officer"


class NetworkRole(StrEnum):
    """The client's network: people around the client, with their own contact details."""

    FAMILY = "family"
    MANTELZORGER = "mantelzorger"  # informal carer
    BEWINDVOERDER = "bewindvoerder"  # financial guardian: never the care file
    INTERPRETER = "interpreter"
    MENTOR = "mentor"  # legal representative for care decisions
    CURATOR = "curator"  # legal representative, broad
    PARENT_WITH_AUTHORITY = "parent_with_authority"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Handover:
    """A colleague takes over a worker's clients for a period (illness, leave)."""

    from_subject: str
    to_subject: str
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class EmergencyAccess:
    """Break-glass access (noodknop) by the on-call duty: reasoned, time-limited, flagged."""

    subject: str
    reason: str
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """What the policy needs to know about one client."""

    client_id: UUID
    team_id: UUID  # the wijkteam whose file this is
    care_team: frozenset[str] = frozenset()  # subjects of the workers serving the client
    handovers: tuple[Handover, ...] = ()
    emergencies: tuple[EmergencyAccess, ...] = ()


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission for one principal to do some actions on one client's data, for a reason.

    Only ``beeldbel.access.rules`` makes grants; client-data repositories demand one
    and write the audit entry through it.
    """

    subject: str
    client_id: UUID
    category: Category
    actions: frozenset[Action]
    basis: Basis
    issued_at: datetime
    expires_at: datetime | None = None
    reason: str | None = None
    on_behalf_of: str | None = None  # the colleague whose client this is, in a handover
    flagged: bool = False  # shown to the care team and the privacy officer
    details: tuple[tuple[str, str], ...] = field(default=())

    def allows(self, action: Action, client_id: UUID, now: datetime) -> bool:
        if client_id != self.client_id or action not in self.actions:
            return False
        return self.expires_at is None or now < self.expires_at

    def require(self, action: Action, client_id: UUID, now: datetime) -> None:
        if not self.allows(action, client_id, now):
            raise Forbidden(
                "this grant does not cover the action",
                details={"action": action.value, "basis": self.basis.value},
            )
