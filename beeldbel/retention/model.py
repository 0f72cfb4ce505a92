"""Retention: how long a closed client file is kept, per legal basis. Pure.

A file is kept under the law it was opened under (Wmo 2015, Jeugdwet, WGBO). Once it is
closed, its retention period runs from the closed date; when it has passed, the file is
*due*: the retention job reports it and the privacy officer deletes it, explicitly and
audited. An open file is never due, however old. The periods are configuration (the
defaults are in ``beeldbel.settings``): the organisation's privacy officer sets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dateutil.relativedelta import relativedelta

from beeldbel.clientfile.model import FileState, LegalBasis
from beeldbel.errors import InvalidInput, InvalidTransition

__all__ = ["Due", "FileFacts", "Periods", "due", "parse_periods", "require_due", "retain_until"]

Periods = Mapping[LegalBasis, int]
"""Years a closed file is kept, per legal basis."""


def parse_periods(text: str) -> dict[LegalBasis, int]:
    """``"wmo_2015=15,jeugdwet=20,wgbo=20"`` as periods; every basis must be given."""
    periods: dict[LegalBasis, int] = {}
    for part in text.split(","):
        name, _, years = part.partition("=")
        try:
            basis = LegalBasis(name.strip())
            value = int(years.strip())
        except ValueError:
            raise InvalidInput(
                f"'{part.strip()}' is not <legal basis>=<years>", details={"field": "retention"}
            ) from None
        if not 1 <= value <= 115:
            raise InvalidInput(
                "a retention period is 1 to 115 years", details={"field": "retention"}
            )
        periods[basis] = value
    missing = set(LegalBasis) - set(periods)
    if missing:
        raise InvalidInput(
            f"no retention period for {', '.join(sorted(missing))}",
            details={"field": "retention"},
        )
    return periods


@dataclass(frozen=True, slots=True)
class FileFacts:
    client_id: UUID
    team_id: UUID
    legal_basis: LegalBasis
    file_state: FileState
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Due:
    client_id: UUID
    team_id: UUID
    legal_basis: LegalBasis
    closed_at: datetime
    retain_until: datetime


def retain_until(facts: FileFacts, periods: Periods) -> datetime | None:
    """When the file may be deleted; None while it is open."""
    if facts.file_state is not FileState.CLOSED or facts.closed_at is None:
        return None
    return facts.closed_at + relativedelta(years=periods[facts.legal_basis])


def due(files: Iterable[FileFacts], periods: Periods, now: datetime) -> list[Due]:
    """The closed files whose retention period has passed at ``now``, oldest first."""
    found = []
    for facts in files:
        until = retain_until(facts, periods)
        if until is not None and until <= now and facts.closed_at is not None:
            found.append(
                Due(facts.client_id, facts.team_id, facts.legal_basis, facts.closed_at, until)
            )
    return sorted(found, key=lambda d: (d.retain_until, d.client_id))


def require_due(facts: FileFacts, periods: Periods, now: datetime) -> Due:
    """The file's retention facts if it may be deleted now; InvalidTransition otherwise."""
    found = due([facts], periods, now)
    if not found:
        until = retain_until(facts, periods)
        raise InvalidTransition(
            "this file is still open and is kept"
            if until is None
            else "this file is kept until its retention period has passed",
            details={"retain_until": until.isoformat() if until else None},
        )
    return found[0]
