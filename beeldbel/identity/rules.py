"""The rules of signing in and staying signed in. Pure: plain values and ``now``.

- Throttle: every account key (a username, known or not) has five free failures; after
  that each attempt must wait 30 s x 2^(n-5), at most 15 minutes. Never a lockout: the
  wait never grows past the cap, and an hour without failures forgets them.
- Refresh tokens rotate on use. Presented again within the grace window, a used token
  gets the same successor (the answer was lost on a weak link); later, its whole chain
  is revoked (someone else holds a copy).
- Passwords: long enough, not the username, not a well-known one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from beeldbel.errors import InvalidInput

__all__ = [
    "FREE_FAILURES",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "REFRESH_GRACE",
    "Attempt",
    "RefreshDecision",
    "RefreshState",
    "ThrottleState",
    "backoff",
    "claim_attempt",
    "decide_refresh",
    "password_problem",
    "valid_new_password",
]

FREE_FAILURES = 5
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
REFRESH_GRACE = timedelta(seconds=60)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

# Passwords people pick first; a real deployment may add a breached-password check.
_WELL_KNOWN = frozenset(
    {
        "wachtwoord",
        "wachtwoord1",
        "wachtwoord123",
        "welkom",
        "welkom123",
        "welkom01",
        "password",
        "password1",
        "password123",
        "1234567890",
        "0123456789",
        "qwertyuiop",
        "azertyuiop",
        "letmein123",
        "iloveyou12",
        "beeldbel123",
        "beeldbellen",
        "wijkteam123",
    }
)


def backoff(failures: int) -> timedelta:
    """How long an account waits after ``failures`` failures in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - FREE_FAILURES, 16)  # 2^16 x 30 s is far past the cap
    delay: timedelta = BASE_DELAY * (1 << exponent)
    return min(delay, MAX_DELAY)


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int
    last_failure_at: datetime
    next_allowed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The answer to "may this attempt go ahead?".

    If allowed, ``claimed`` is the state to store before checking the password: the
    attempt counts as a failure until it succeeds, so concurrent guesses cannot slip
    past the count. If not, ``retry_after`` says how long to wait.
    """

    allowed: bool
    claimed: ThrottleState | None = None
    retry_after: timedelta = timedelta(0)


def claim_attempt(state: ThrottleState | None, now: datetime) -> Attempt:
    failures = 0
    if state is not None and now - state.last_failure_at < FORGET_AFTER:
        if state.next_allowed_at is not None and now < state.next_allowed_at:
            return Attempt(allowed=False, retry_after=state.next_allowed_at - now)
        failures = state.failures
    failures += 1
    wait = backoff(failures)
    claimed = ThrottleState(
        failures=failures, last_failure_at=now, next_allowed_at=now + wait if wait else None
    )
    return Attempt(allowed=True, claimed=claimed)


class RefreshDecision(StrEnum):
    ROTATE = "rotate"  # fresh: mark used, issue its successor
    REPLAY = "replay"  # used within the grace window: the same successor again
    REUSE = "reuse"  # used before the grace window, or revoked: revoke the chain
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class RefreshState:
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def decide_refresh(
    token: RefreshState, now: datetime, grace: timedelta = REFRESH_GRACE
) -> RefreshDecision:
    """What presenting this refresh token at ``now`` means."""
    if token.revoked_at is not None:
        return RefreshDecision.REUSE
    if token.used_at is not None:
        return RefreshDecision.REPLAY if now - token.used_at <= grace else RefreshDecision.REUSE
    if now >= token.expires_at:
        return RefreshDecision.EXPIRED
    return RefreshDecision.ROTATE


def password_problem(password: str, username: str) -> str | None:
    """Why ``password`` is not good enough, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    folded = unicodedata.normalize("NFKC", password).casefold()
    if len(set(folded)) < 4:
        return "a password needs more than a few different characters"
    name = unicodedata.normalize("NFKC", username).casefold()
    if name and (name in folded and len(folded) - len(name) < MIN_PASSWORD):
        return "a password must not be built on the username"
    if folded in _WELL_KNOWN:
        return "this password is too well known"
    return None


def valid_new_password(password: str, username: str) -> str:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, details={"field": "password"})
    return password
