"""Retention of the audit log. Pure: takes ``now``.

NEN 7513 entries are kept at least five years. Retention removes only a whole sealed
prefix of the chain (every entry up to some seq, all older than the cut-off) and
leaves a checkpoint signed with the audit key, so verification still starts there.
"""

from __future__ import annotations

from datetime import datetime

from beeldbel.errors import InvalidInput

__all__ = ["RETENTION_YEARS", "check_retention_cutoff", "earliest_cutoff"]

RETENTION_YEARS = 5


def earliest_cutoff(now: datetime) -> datetime:
    """The latest cut-off retention may use now: the same moment, five years earlier."""
    year = now.year - RETENTION_YEARS
    try:
        return now.replace(year=year)
    except ValueError:  # 29 February, five years back, is not a date
        return now.replace(year=year, day=28)


def check_retention_cutoff(before: datetime, now: datetime) -> datetime:
    """``before`` if retention may remove the entries older than it, or InvalidInput."""
    if before.tzinfo is None:
        raise InvalidInput("the cut-off needs a time zone", details={"field": "before"})
    limit = earliest_cutoff(now)
    if before > limit:
        raise InvalidInput(
            f"audit entries are kept at least {RETENTION_YEARS} years: the cut-off must be "
            f"on or before {limit.date().isoformat()}",
            details={"field": "before", "latest": limit.isoformat()},
        )
    return before
