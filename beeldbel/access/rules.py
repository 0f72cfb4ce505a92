"""The access policy: may this principal do this to this client's data, and why?

One pure function, :func:`decide`, answers for every client-data access in Beeldbel
and returns a :class:`~beeldbel.access.model.Grant` or raises Forbidden. The rules:

1. Only staff reach client data here, and only after their second factor (NEN 7510).
   The client's own view and legal representatives come with the client portal;
   a bewindvoerder (financial guardian) never reaches the care file.
2. Audit trails: the privacy officer only. Admins manage users and teams and read
   neither client data nor audit trails. Retention (a file's legal basis and closed date,
   and deleting a file whose retention period has passed): the privacy officer only.
3. The client's care team (workers and coordinators in it): everything.
4. A colleague covering for a care-team member (handover): everything, on behalf of
   that member, until the handover ends.
5. The on-call duty (noodknop): reading only, with a written reason, until the
   emergency access ends; the grant is flagged for the care team and privacy officer.
6. A coordinator of the client's team: the record (who, contact details, network,
   care team, consent) to plan and assign, never the care file.
7. Creating a client: a worker or coordinator of the team that will hold the file.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from uuid import UUID

from beeldbel.access.model import (
    Action,
    Basis,
    Category,
    ClientFacts,
    Grant,
)
from beeldbel.errors import Forbidden, InvalidInput
from beeldbel.identity.model import Principal, PrincipalKind, Role

__all__ = ["ALL_ACTIONS", "decide", "validate_emergency_reason"]

ALL_ACTIONS = frozenset(Action)
CARE_ACTIONS = ALL_ACTIONS - {Action.DELETE}  # a worker never deletes a file
CARE_ROLES = frozenset({Role.WORKER, Role.COORDINATOR})
RECORD_ACTIONS_FOR_COORDINATION = frozenset(
    {Action.READ, Action.SEARCH, Action.CREATE, Action.CHANGE}
)
EMERGENCY_ACTIONS = frozenset({Action.READ, Action.SEARCH})
RETENTION_ACTIONS = frozenset({Action.SEARCH, Action.DELETE})
MAX_EMERGENCY_REASON = 2000


def _refuse(why: str, action: Action, category: Category) -> Forbidden:
    return Forbidden(
        f"no access: {why}",
        details={"reason": why, "action": action.value, "category": category.value},
    )


def decide(
    principal: Principal,
    principal_teams: Set[UUID],
    facts: ClientFacts,
    action: Action,
    category: Category,
    now: datetime,
) -> Grant:
    """A grant for ``action`` on ``category`` of the client in ``facts``, or Forbidden."""
    if principal.kind is not PrincipalKind.STAFF:
        raise _refuse("only staff reach client data", action, category)
    if not principal.second_factor:
        raise _refuse("sign in with your second factor first", action, category)

    def grant(actions: frozenset[Action], basis: Basis, **extra: object) -> Grant:
        return Grant(
            subject=principal.subject,
            client_id=facts.client_id,
            category=category,
            actions=actions,
            basis=basis,
            issued_at=now,
            **extra,  # type: ignore[arg-type]
        )

    if category is Category.AUDIT_TRAIL:
        if Role.PRIVACY_OFFICER in principal.roles and action in (
            Action.READ,
            Action.SEARCH,
            Action.EXPORT,
        ):
            return grant(
                frozenset({Action.READ, Action.SEARCH, Action.EXPORT}), Basis.PRIVACY_OFFICER
            )
        raise _refuse("audit trails are for the privacy officer", action, category)

    if category is Category.RETENTION:
        if Role.PRIVACY_OFFICER in principal.roles and action in RETENTION_ACTIONS:
            return grant(RETENTION_ACTIONS, Basis.PRIVACY_OFFICER)
        raise _refuse("retention is for the privacy officer", action, category)

    if not principal.roles & CARE_ROLES:
        raise _refuse("client data is for care workers and coordinators", action, category)
    if action not in CARE_ACTIONS:
        # Before any basis is weighed: a grant always covers what was asked for, and no care
        # basis covers this (deleting a file is retention's, the privacy officer's).
        raise _refuse("care workers and coordinators do not delete client data", action, category)

    if principal.subject in facts.care_team:
        return grant(CARE_ACTIONS, Basis.CARE_TEAM)

    if Role.WORKER in principal.roles:
        covering = [
            h
            for h in facts.handovers
            if h.to_subject == principal.subject
            and h.active(now)
            and h.from_subject in facts.care_team
        ]
        if covering:
            handover = max(covering, key=lambda h: h.ends_at)
            return grant(
                CARE_ACTIONS,
                Basis.HANDOVER,
                expires_at=handover.ends_at,
                on_behalf_of=handover.from_subject,
            )
        emergencies = [
            e for e in facts.emergencies if e.subject == principal.subject and e.active(now)
        ]
        if emergencies and action in EMERGENCY_ACTIONS:
            emergency = max(emergencies, key=lambda e: e.ends_at)
            return grant(
                EMERGENCY_ACTIONS,
                Basis.EMERGENCY,
                expires_at=emergency.ends_at,
                reason=emergency.reason,
                flagged=True,
            )

    in_team = facts.team_id in principal_teams
    if in_team and category is Category.RECORD:
        if Role.COORDINATOR in principal.roles and action in RECORD_ACTIONS_FOR_COORDINATION:
            return grant(RECORD_ACTIONS_FOR_COORDINATION, Basis.TEAM_COORDINATION)
        if action is Action.CREATE and not facts.care_team:
            # A worker opening a new file for their own team becomes its care team.
            return grant(frozenset({Action.CREATE}), Basis.CARE_TEAM)

    raise _refuse("you are not in this client's care team", action, category)


def validate_emergency_reason(reason: str) -> str:
    """The written reason a noodknop needs: real words, not a blank or a novel."""
    cleaned = " ".join(reason.split())
    if len(cleaned) < 10:
        raise InvalidInput(
            "emergency access needs a written reason (at least 10 characters)",
            details={"field": "reason"},
        )
    if len(cleaned) > MAX_EMERGENCY_REASON:
        raise InvalidInput("the reason is too long", details={"field": "reason"})
    return cleaned
