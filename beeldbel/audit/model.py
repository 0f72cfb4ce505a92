"""Audit records, as plain values. Pure."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from beeldbel.access.model import Grant
from beeldbel.errors import InvalidInput

__all__ = [
    "AuditEntry",
    "AuditEvent",
    "AuditFilter",
    "AuditRecord",
    "Outcome",
    "SeqCursor",
    "through",
]


class AuditEvent(StrEnum):
    # Client data (NEN 7513): every read, search, change, export and emergency access.
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    CHANGE = "change"
    EXPORT = "export"
    DELETE = "delete"  # a whole file, past its retention period
    EMERGENCY_ACCESS = "emergency_access"
    ACCESS_DENIED = "access_denied"
    # Identity.
    SIGN_IN = "sign_in"
    SECOND_FACTOR = "second_factor"
    SIGN_OUT = "sign_out"
    TOKEN_REFRESH = "token_refresh"  # noqa: S105 (an event name, not a secret)
    TOKEN_REUSE = "token_reuse"  # noqa: S105
    ACCOUNT_CHANGE = "account_change"
    # The audit log itself.
    AUDIT_QUERY = "audit_query"
    AUDIT_RETENTION = "audit_retention"  # sealed entries past retention were removed


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry: what happened, to whose data, by whom, on whose behalf, with what outcome.

    ``detail`` holds small, non-sensitive facts (an object's kind, a count, a basis);
    never note text or other client data.
    """

    event: AuditEvent
    outcome: Outcome
    actor: str | None
    client_id: UUID | None = None
    on_behalf_of: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def through(
    grant: Grant,
    event: AuditEvent,
    object_type: str | None = None,
    object_id: str | None = None,
    **detail: str,
) -> AuditRecord:
    """The record of an access made with ``grant``: it carries the grant's basis and reason."""
    facts = {"basis": grant.basis.value, **detail}
    if grant.reason:
        facts["emergency_reason"] = grant.reason
    return AuditRecord(
        event=event,
        outcome=Outcome.SUCCESS,
        actor=grant.subject,
        client_id=grant.client_id,
        on_behalf_of=grant.on_behalf_of,
        object_type=object_type,
        object_id=object_id,
        detail=facts,
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A sealed entry as the privacy officer reads it."""

    seq: int
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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries an audit query asks for: by client, by actor, in a period [since, until)."""

    client_id: UUID | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput(
                "the period is empty: 'from' must come before 'to'", details={"field": "to"}
            )

    def describe(self) -> dict[str, str]:
        """The filter as audit detail (small, non-sensitive facts)."""
        facts: dict[str, str] = {}
        if self.client_id is not None:
            facts["client_id"] = str(self.client_id)
        if self.actor is not None:
            facts["actor"] = self.actor
        if self.since is not None:
            facts["from"] = self.since.isoformat()
        if self.until is not None:
            facts["to"] = self.until.isoformat()
        return facts


@dataclass(frozen=True, slots=True)
class SeqCursor:
    """The position after an entry in chain order (``seq``), which only ever grows."""

    seq: int

    def encode(self) -> str:
        raw = json.dumps({"s": self.seq}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> SeqCursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            seq = data["s"]
            if type(seq) is not int or seq < 0:
                raise ValueError("not a seq")
            return cls(seq=seq)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
            raise InvalidInput(
                "the cursor is not one this service handed out", details={"field": "cursor"}
            ) from None
