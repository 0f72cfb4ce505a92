"""The pure rules of identity: throttle backoff, refresh decisions, passwords, usernames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beeldbel.errors import InvalidInput
from beeldbel.identity.model import parse_subject, staff_subject, username_key, valid_username
from beeldbel.identity.rules import (
    FREE_FAILURES,
    MAX_DELAY,
    REFRESH_GRACE,
    RefreshDecision,
    RefreshState,
    ThrottleState,
    backoff,
    claim_attempt,
    decide_refresh,
    password_problem,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (11, 900), (500, 900)],
)
def test_backoff_is_free_for_four_failures_then_doubles_from_30_seconds_up_to_15_minutes(
    failures: int, wait: int
) -> None:
    assert backoff(failures) == timedelta(seconds=wait)


def test_the_fifth_failure_makes_the_next_attempt_wait() -> None:
    state = None
    for _ in range(FREE_FAILURES):
        attempt = claim_attempt(state, NOW)
        assert attempt.allowed
        state = attempt.claimed
    refused = claim_attempt(state, NOW + timedelta(seconds=10))
    assert not refused.allowed
    assert refused.retry_after == timedelta(seconds=20)


def test_after_the_wait_an_attempt_goes_ahead_and_the_next_wait_is_longer() -> None:
    later = NOW + timedelta(seconds=30)
    state = ThrottleState(failures=5, last_failure_at=NOW, next_allowed_at=later)
    attempt = claim_attempt(state, later)
    assert attempt.allowed
    assert attempt.claimed == ThrottleState(6, later, later + timedelta(seconds=60))


def test_the_wait_never_exceeds_the_cap_however_many_failures() -> None:
    state = ThrottleState(failures=10_000, last_failure_at=NOW, next_allowed_at=NOW)
    attempt = claim_attempt(state, NOW)
    assert attempt.allowed
    assert attempt.claimed is not None
    assert attempt.claimed.next_allowed_at == NOW + MAX_DELAY


def test_an_hour_without_failures_forgets_them() -> None:
    state = ThrottleState(failures=9, last_failure_at=NOW, next_allowed_at=NOW + MAX_DELAY)
    attempt = claim_attempt(state, NOW + timedelta(hours=1))
    assert attempt.allowed
    assert attempt.claimed is not None
    assert attempt.claimed.failures == 1
    assert attempt.claimed.next_allowed_at is None


def token(
    used: timedelta | None = None, revoked: bool = False, expires: timedelta = timedelta(days=14)
) -> RefreshState:
    return RefreshState(
        expires_at=NOW + expires,
        used_at=NOW - used if used is not None else None,
        revoked_at=NOW if revoked else None,
    )


@pytest.mark.parametrize(
    ("state", "decision"),
    [
        (token(), RefreshDecision.ROTATE),
        (token(used=timedelta(0)), RefreshDecision.REPLAY),
        (token(used=REFRESH_GRACE), RefreshDecision.REPLAY),
        (token(used=REFRESH_GRACE + timedelta(seconds=1)), RefreshDecision.REUSE),
        (token(revoked=True), RefreshDecision.REUSE),
        (token(used=timedelta(0), revoked=True), RefreshDecision.REUSE),
        (token(expires=timedelta(0)), RefreshDecision.EXPIRED),
        (token(expires=-timedelta(days=1)), RefreshDecision.EXPIRED),
    ],
)
def test_refresh_decisions(state: RefreshState, decision: RefreshDecision) -> None:
    assert decide_refresh(state, NOW) is decision


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("kort", False),
        ("aaaaaaaaaaaaaaa", False),
        ("Wachtwoord123", False),
        ("anouk12345", False),
        ("lange-dijk-7-wind", True),
        ("anouk-loopt-door-de-wei", True),
        ("x" * 2000, False),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_problem(password, "anouk") is None) is ok


def test_usernames_compare_without_case_width_or_spaces() -> None:
    assert username_key(" Anouk ") == username_key("ANOUK") == username_key("ＡＮＯＵＫ")  # noqa: RUF001
    assert valid_username(" anouk.jansen@wijkteam ") == "anouk.jansen@wijkteam"
    for bad in ("a", "anouk jansen", "anouk;drop", "x" * 65):
        with pytest.raises(InvalidInput):
            valid_username(bad)


def test_staff_subjects_round_trip() -> None:
    from uuid import uuid4

    user_id = uuid4()
    subject = staff_subject(user_id)
    assert subject == f"staff:{user_id}"
    parsed = parse_subject(subject)
    assert parsed is not None
    assert parsed[1] == user_id
    assert parse_subject("staff:walker") is None
    assert parse_subject("robot:" + str(user_id)) is None
