"""Audit records, as plain values. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from beeldbel.access.model import Grant

__all__ = ["AuditEvent", "AuditRecord", "Outcome", "through"]


class AuditEvent(StrEnum):
    # Client data (NEN 7513): every read, search, change, export and emergency access.
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    CHANGE = "change"
    EXPORT = "export"
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
