"""Signing in and staying signed in: each use case opens its own units of work.

Sign-in has two steps. A correct password earns a *challenge* (a five-minute token of
its own audience); the challenge plus a TOTP code or a recovery code earns a *session*:
a short-lived access token and a refresh token. A user without a factor enrols one
with the challenge first (the first sign-in of a new account).

Every attempt is audited: successes inside the unit of work that makes them, failures
and refusals in their own (their business transaction does not commit).
Nothing secret (a password, a code, a token) is ever logged or audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.staff import (
    Credentials,
    RefreshRecord,
    SqlRefreshTokens,
    SqlStaffRepository,
    SqlThrottle,
)
from beeldbel.errors import Conflict, InvalidInput, RateLimited, Unauthenticated
from beeldbel.identity.devices import DeviceCookies
from beeldbel.identity.factors import Enrolment, Factors
from beeldbel.identity.model import (
    Principal,
    PrincipalKind,
    StaffUser,
    parse_subject,
    username_key,
)
from beeldbel.identity.passwords import Passwords
from beeldbel.identity.refresh import RefreshTokens
from beeldbel.identity.rules import (
    FORGET_AFTER,
    Attempt,
    RefreshDecision,
    RefreshState,
    claim_attempt,
    decide_refresh,
    valid_new_password,
)
from beeldbel.identity.serverkey import ServerKey
from beeldbel.identity.tokens import CHALLENGE_LIFETIME, Challenge, ChallengeStage, TokenService

__all__ = ["AuthService", "Session", "SignInStep", "username_throttle_key"]

log = structlog.get_logger("beeldbel.identity")

CLAIM_TRIES = 5
SIGN_IN_FAILED = "the username or password is not right"
CODE_FAILED = "the code is not right"
OBJECT = "staff_user"


@dataclass(frozen=True, slots=True)
class SignInStep:
    stage: ChallengeStage
    challenge: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Session:
    """What a completed sign-in (or a refresh) hands out."""

    principal: Principal
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: datetime
    recovery_codes: tuple[str, ...] = ()
    device_cookie: str | None = None  # the browser's device cookie, now naming this user


def username_throttle_key(key: ServerKey, username: str) -> str:
    """What is typed as a username is kept only as a keyed hash: people type passwords there."""
    return "u:" + key.mac("throttle", username_key(username))


def _staff_id(subject: str) -> UUID | None:
    parsed = parse_subject(subject)
    return parsed[1] if parsed is not None and parsed[0] is PrincipalKind.STAFF else None


def _challenge_refused() -> Unauthenticated:
    return Unauthenticated(
        "the sign-in has expired or is not valid; sign in again",
        details={"reason": "challenge_invalid"},
    )


class AuthService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: TokenService,
        key: ServerKey,
        audit: AuditLog,
        *,
        refresh_lifetime: timedelta,
        passwords: Passwords | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._tokens = tokens
        self._key = key
        self._audit = audit
        self._refresh_lifetime = refresh_lifetime
        self._passwords = passwords or Passwords()
        self._factors = Factors(key)
        self._refresh = RefreshTokens(key)
        self._devices = DeviceCookies(key)

    @property
    def passwords(self) -> Passwords:
        return self._passwords

    @property
    def factors(self) -> Factors:
        return self._factors

    # Throttle -----------------------------------------------------------------------------

    async def _claim(self, key: str, now: datetime) -> Attempt:
        for _ in range(CLAIM_TRIES):
            async with self._db.transaction() as session:
                throttle = SqlThrottle(session)
                seen = await throttle.get(key)
                attempt = claim_attempt(seen, now)
                if not attempt.allowed:
                    return attempt
                assert attempt.claimed is not None
                if await throttle.claim(key, seen, attempt.claimed):
                    return attempt
        return Attempt(allowed=False, retry_after=timedelta(seconds=1))

    async def _throttled(
        self,
        key: str,
        now: datetime,
        event: AuditEvent,
        object_id: str | None,
        **detail: str,
    ) -> None:
        attempt = await self._claim(key, now)
        if attempt.allowed:
            return
        retry = max(1.0, attempt.retry_after.total_seconds())
        await self._audit.append_alone(
            AuditRecord(
                event,
                Outcome.DENIED,
                actor=None,
                object_type=OBJECT if object_id else None,
                object_id=object_id,
                detail={"reason": "throttled", "retry_after": str(int(retry)), **detail},
            )
        )
        raise RateLimited(
            "too many failed attempts; wait before trying again",
            retry_after=retry,
            details={"scope": "account"},
        )

    # Step one: the password ---------------------------------------------------------------

    async def sign_in(self, username: str, password: str, device: str | None = None) -> SignInStep:
        """A challenge for the second factor (or for enrolling one); Unauthenticated otherwise.

        Unknown users, wrong passwords and disabled accounts get the same answer in the
        same time: the password is always checked against a hash, a dummy if need be.
        A browser whose device cookie names this user is throttled on its own (see
        ``beeldbel.identity.devices``).
        """
        now = self._clock.now()
        name_key = username_throttle_key(self._key, username)
        device_key = self._devices.trusted(device, username)
        key = device_key or name_key
        async with self._db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials_by_username(username)
        subject = found.user.subject if found else None
        # For an unknown name: enough to tie attempts together, not to read what was typed.
        named = {} if found else {"username_hash": name_key[2:18]}
        if device_key:
            named["trusted_device"] = "true"
        await self._throttled(key, now, AuditEvent.SIGN_IN, subject, **named)
        matches = await self._passwords.verify(found.password_hash if found else None, password)
        if found is None or not matches or found.user.disabled:
            reason = (
                "unknown_user"
                if found is None
                else ("wrong_password" if not matches else "account_disabled")
            )
            await self._audit.append_alone(
                AuditRecord(
                    AuditEvent.SIGN_IN,
                    Outcome.FAILED,
                    actor=None,
                    object_type=OBJECT if subject else None,
                    object_id=subject,
                    detail={"reason": reason, **named},
                )
            )
            raise Unauthenticated(SIGN_IN_FAILED, details={"reason": "sign_in_failed"})
        user = found.user
        stage = ChallengeStage.SECOND_FACTOR if user.totp_enabled else ChallengeStage.ENROLMENT
        async with self._db.transaction() as session:
            await SqlThrottle(session).clear(key)
            if self._passwords.needs_rehash(found.password_hash):
                await SqlStaffRepository(session).rehash_password(
                    user.id, found.password_hash, await self._passwords.hash(password)
                )
            await self._audit.append(
                session,
                AuditRecord(
                    AuditEvent.SIGN_IN,
                    Outcome.SUCCESS,
                    actor=user.subject,
                    object_type=OBJECT,
                    object_id=user.subject,
                    detail={"next": stage.value, **named},
                ),
            )
        challenge = self._tokens.issue_challenge(Challenge(user.subject, stage, user.version), now)
        return SignInStep(stage, challenge, int(CHALLENGE_LIFETIME.total_seconds()))

    # Step two: the factor -----------------------------------------------------------------

    async def _challenged(
        self, token: str, stage: ChallengeStage, now: datetime
    ) -> tuple[Challenge, Credentials]:
        challenge = self._tokens.verify_challenge(token, now)
        user_id = _staff_id(challenge.subject)
        if challenge.stage is not stage or user_id is None:
            raise _challenge_refused()
        async with self._db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials(user_id)
        if found is None or found.user.disabled or found.user.version != challenge.version:
            raise _challenge_refused()
        return challenge, found

    async def _factor_failed(self, user: StaffUser, reason: str, event: AuditEvent) -> None:
        await self._audit.append_alone(
            AuditRecord(
                event,
                Outcome.FAILED,
                actor=None,
                object_type=OBJECT,
                object_id=user.subject,
                detail={"reason": reason},
            )
        )

    async def second_factor(
        self,
        challenge_token: str,
        *,
        code: str | None,
        recovery_code: str | None,
        device: str | None = None,
    ) -> Session:
        """A session for a TOTP code or an unused recovery code; each is good once."""
        if (code is None) == (recovery_code is None):
            raise InvalidInput("send either a code or a recovery code", details={"field": "code"})
        now = self._clock.now()
        _, found = await self._challenged(challenge_token, ChallengeStage.SECOND_FACTOR, now)
        user = found.user
        if not user.totp_enabled or found.totp_secret is None:
            raise _challenge_refused()
        key = f"f:{user.id}"
        await self._throttled(key, now, AuditEvent.SECOND_FACTOR, user.subject)
        step: int | None = None
        if code is not None:
            secret = self._factors.open(user.id, found.totp_secret)
            if secret is None:
                log.error("totp_secret_unreadable", subject=user.subject)
            else:
                step = self._factors.accepted_step(secret, code, now, found.totp_last_step)
            if step is None:
                await self._factor_failed(user, "wrong_code", AuditEvent.SECOND_FACTOR)
                raise Unauthenticated(CODE_FAILED, details={"reason": "code_invalid"})
        async with self._db.transaction() as session:
            staff = SqlStaffRepository(session)
            if step is not None:
                accepted = await staff.accept_totp_step(user.id, step)
                method = "totp"
            else:
                assert recovery_code is not None
                accepted = await staff.use_recovery_code(
                    user.id, self._factors.recovery_hash(user.id, recovery_code), now
                )
                method = "recovery_code"
            if accepted:
                await SqlThrottle(session).clear(key)
                result = await self._start_session(session, user, now)
                left = await staff.recovery_codes_left(user.id)
                await self._audit.append(
                    session,
                    AuditRecord(
                        AuditEvent.SECOND_FACTOR,
                        Outcome.SUCCESS,
                        actor=user.subject,
                        object_type=OBJECT,
                        object_id=user.subject,
                        detail={"method": method, "recovery_codes_left": str(left)},
                    ),
                )
        if not accepted:
            reason = "code_used" if method == "totp" else "wrong_recovery_code"
            await self._factor_failed(user, reason, AuditEvent.SECOND_FACTOR)
            raise Unauthenticated(CODE_FAILED, details={"reason": "code_invalid"})
        return replace(result, device_cookie=self._devices.remember(device, user.username))

    async def enrol(self, challenge_token: str) -> Enrolment:
        """A new TOTP secret for a user who has none; it counts once confirmed with a code."""
        now = self._clock.now()
        challenge, found = await self._challenged(challenge_token, ChallengeStage.ENROLMENT, now)
        user = found.user
        if user.totp_enabled:
            raise _challenge_refused()
        secret = self._factors.new_secret()
        async with self._db.transaction() as session:
            started = await SqlStaffRepository(session).start_enrolment(
                user.id, challenge.version, self._factors.seal(user.id, secret)
            )
        if not started:
            raise _challenge_refused()
        return self._factors.enrolment(secret, user.username)

    async def confirm_enrolment(
        self, challenge_token: str, code: str, device: str | None = None
    ) -> Session:
        """Enable the enrolled factor with a first code; the session comes with recovery codes."""
        now = self._clock.now()
        challenge, found = await self._challenged(challenge_token, ChallengeStage.ENROLMENT, now)
        user = found.user
        if user.totp_enabled:
            raise _challenge_refused()
        if found.totp_secret is None:
            raise Conflict("start enrolment first", details={"reason": "enrolment_not_started"})
        key = f"f:{user.id}"
        await self._throttled(key, now, AuditEvent.ACCOUNT_CHANGE, user.subject)
        secret = self._factors.open(user.id, found.totp_secret)
        if secret is None:
            log.error("totp_secret_unreadable", subject=user.subject)
        step = None if secret is None else self._factors.accepted_step(secret, code, now, None)
        if step is None:
            await self._factor_failed(user, "wrong_code", AuditEvent.ACCOUNT_CHANGE)
            raise Unauthenticated(CODE_FAILED, details={"reason": "code_invalid"})
        codes = self._factors.new_recovery_codes()
        async with self._db.transaction() as session:
            staff = SqlStaffRepository(session)
            enabled = await staff.finish_enrolment(
                user.id, challenge.version, found.totp_secret, step, now
            )
            if enabled:
                await staff.replace_recovery_codes(
                    user.id, (self._factors.recovery_hash(user.id, c) for c in codes), now
                )
                await SqlThrottle(session).clear(key)
                for event, detail in (
                    (AuditEvent.ACCOUNT_CHANGE, {"change": "totp_enrolled"}),
                    (AuditEvent.SECOND_FACTOR, {"method": "totp"}),
                ):
                    await self._audit.append(
                        session,
                        AuditRecord(
                            event,
                            Outcome.SUCCESS,
                            actor=user.subject,
                            object_type=OBJECT,
                            object_id=user.subject,
                            detail=detail,
                        ),
                    )
                result = await self._start_session(session, user, now)
        if not enabled:
            raise _challenge_refused()
        return replace(
            result,
            recovery_codes=tuple(codes),
            device_cookie=self._devices.remember(device, user.username),
        )

    # Sessions ---------------------------------------------------------------------------

    def _session(
        self, user: StaffUser, record: RefreshRecord, refresh_token: str, now: datetime
    ) -> Session:
        principal = Principal(
            user.subject,
            PrincipalKind.STAFF,
            user.roles,
            second_factor=record.second_factor,
            session=str(record.family_id),
        )
        return Session(
            principal=principal,
            access_token=self._tokens.issue(principal, now),
            expires_in=int(self._tokens.lifetime.total_seconds()),
            refresh_token=refresh_token,
            refresh_expires_at=record.expires_at,
        )

    async def _start_session(
        self, session: AsyncSession, user: StaffUser, now: datetime
    ) -> Session:
        token = self._refresh.new()
        record = RefreshRecord(
            id=uuid.uuid4(),
            family_id=uuid.uuid4(),
            parent_id=None,
            subject=user.subject,
            second_factor=True,
            issued_at=now,
            expires_at=now + self._refresh_lifetime,
            used_at=None,
            revoked_at=None,
        )
        if not await SqlRefreshTokens(session).add(record, self._refresh.hash(token)):
            raise RuntimeError("a fresh refresh token collided")  # 256 random bits: never
        return self._session(user, record, token, now)

    async def refresh(self, token: str) -> Session:
        """The next session of a chain; see ``beeldbel.identity.rules`` for the decisions."""
        now = self._clock.now()
        if not self._refresh.well_formed(token):
            await self._refresh_refused(None, "malformed")
        token_hash = self._refresh.hash(token)
        outcome: Session | str
        async with self._db.transaction() as session:
            outcome = await self._rotate(session, token, token_hash, now)
        if isinstance(outcome, Session):
            return outcome
        raise Unauthenticated("the sign-in has ended; sign in again", details={"reason": outcome})

    async def _refresh_refused(self, subject: str | None, reason: str) -> None:
        await self._audit.append_alone(
            AuditRecord(
                AuditEvent.TOKEN_REFRESH,
                Outcome.DENIED,
                actor=None,
                object_type=OBJECT if subject else None,
                object_id=subject,
                detail={"reason": reason},
            )
        )
        raise Unauthenticated("the sign-in has ended; sign in again", details={"reason": reason})

    async def _rotate(
        self, session: AsyncSession, token: str, token_hash: str, now: datetime
    ) -> Session | str:
        """The session, or why not (after auditing; a revoked chain commits)."""
        tokens = SqlRefreshTokens(session)

        async def record(
            event: AuditEvent, outcome: Outcome, subject: str | None, **detail: str
        ) -> None:
            await self._audit.append(
                session,
                AuditRecord(
                    event,
                    outcome,
                    actor=subject if outcome is Outcome.SUCCESS else None,
                    object_type=OBJECT if subject else None,
                    object_id=subject,
                    detail=detail,
                ),
            )

        for _ in range(2):  # a second look if a concurrent request used the token first
            current = await tokens.find(token_hash)
            if current is None:
                await record(AuditEvent.TOKEN_REFRESH, Outcome.DENIED, None, reason="unknown")
                return "unknown"
            decision = decide_refresh(
                RefreshState(current.expires_at, current.used_at, current.revoked_at), now
            )
            if decision is RefreshDecision.EXPIRED:
                await record(
                    AuditEvent.TOKEN_REFRESH, Outcome.DENIED, current.subject, reason="expired"
                )
                return "expired"
            if decision is RefreshDecision.REUSE:
                revoked = await tokens.revoke_family(current.family_id, now, "reuse")
                await record(
                    AuditEvent.TOKEN_REUSE,
                    Outcome.DENIED,
                    current.subject,
                    chain=str(current.family_id),
                    tokens_revoked=str(revoked),
                    was="revoked" if current.revoked_at else "used",
                )
                return "reused"
            user = await self._staff_for(session, current.subject)
            if user is None:
                await tokens.revoke_family(current.family_id, now, "account")
                await record(
                    AuditEvent.TOKEN_REFRESH, Outcome.DENIED, current.subject, reason="account"
                )
                return "account"
            successor = self._refresh.successor(token)
            if decision is RefreshDecision.ROTATE:
                if not await tokens.mark_used(current.id, now):
                    continue
                child = RefreshRecord(
                    id=uuid.uuid4(),
                    family_id=current.family_id,
                    parent_id=current.id,
                    subject=current.subject,
                    second_factor=current.second_factor,
                    issued_at=now,
                    expires_at=now + self._refresh_lifetime,
                    used_at=None,
                    revoked_at=None,
                )
                if not await tokens.add(child, self._refresh.hash(successor)):
                    continue
                await record(AuditEvent.TOKEN_REFRESH, Outcome.SUCCESS, user.subject)
                return self._session(user, child, successor, now)
            # REPLAY: the answer was lost; hand out the same successor again.
            child_found = await tokens.successor_of(current.id)
            if child_found is None or child_found.revoked_at is not None:
                await record(
                    AuditEvent.TOKEN_REFRESH, Outcome.DENIED, current.subject, reason="revoked"
                )
                return "revoked"
            await record(AuditEvent.TOKEN_REFRESH, Outcome.SUCCESS, user.subject, replay="true")
            return self._session(user, child_found, successor, now)
        await record(AuditEvent.TOKEN_REFRESH, Outcome.DENIED, None, reason="contended")
        return "contended"

    async def _staff_for(self, session: AsyncSession, subject: str) -> StaffUser | None:
        """The active staff user behind a subject; other kinds of principal come later."""
        user_id = _staff_id(subject)
        if user_id is None:
            return None
        found = await SqlStaffRepository(session).credentials(user_id)
        if found is None or found.user.disabled:
            return None
        return found.user

    async def sign_out(self, token: str) -> bool:
        """End the sign-in (the whole chain) the refresh token belongs to; False if unknown."""
        if not self._refresh.well_formed(token):
            return False
        now = self._clock.now()
        async with self._db.transaction() as session:
            tokens = SqlRefreshTokens(session)
            current = await tokens.find(self._refresh.hash(token))
            if current is None:
                return False
            revoked = await tokens.revoke_family(current.family_id, now, "sign_out")
            await self._audit.append(
                session,
                AuditRecord(
                    AuditEvent.SIGN_OUT,
                    Outcome.SUCCESS,
                    actor=current.subject,
                    object_type=OBJECT,
                    object_id=current.subject,
                    detail={"tokens_revoked": str(revoked)},
                ),
            )
        return True

    async def change_password(self, principal: Principal, current: str, new: str) -> int:
        """Change one's own password; every other sign-in ends. Returns how many ended."""
        now = self._clock.now()
        user_id = _staff_id(principal.subject)
        if user_id is None:
            raise Unauthenticated("only staff have a password here")
        async with self._db.transaction(read_only=True) as session:
            found = await SqlStaffRepository(session).credentials(user_id)
        if found is None or found.user.disabled:
            raise Unauthenticated("the account is not active")
        user = found.user
        key = f"p:{user.id}"
        await self._throttled(key, now, AuditEvent.ACCOUNT_CHANGE, user.subject)
        if not await self._passwords.verify(found.password_hash, current):
            await self._factor_failed(user, "wrong_password", AuditEvent.ACCOUNT_CHANGE)
            raise InvalidInput(
                "the current password is not right", details={"field": "current_password"}
            )
        valid_new_password(new, user.username)
        if new == current:
            raise InvalidInput(
                "choose a password other than the current one", details={"field": "new_password"}
            )
        new_hash = await self._passwords.hash(new)
        keep = UUID(principal.session) if principal.session else None
        async with self._db.transaction() as session:
            await SqlStaffRepository(session).set_password(user.id, new_hash, now)
            await SqlThrottle(session).clear(key)
            ended = await SqlRefreshTokens(session).revoke_subject(
                user.subject, now, "password_changed", keep_family=keep
            )
            await self._audit.append(
                session,
                AuditRecord(
                    AuditEvent.ACCOUNT_CHANGE,
                    Outcome.SUCCESS,
                    actor=user.subject,
                    object_type=OBJECT,
                    object_id=user.subject,
                    detail={"change": "password", "tokens_revoked": str(ended)},
                ),
            )
        return ended

    async def prune(self) -> None:
        """Forget throttle entries and refresh chains that no longer matter."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            await SqlThrottle(session).prune(now - FORGET_AFTER)
            await SqlRefreshTokens(session).prune(now - timedelta(days=1))
