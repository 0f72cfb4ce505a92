"""Access tokens and sign-in challenges: short-lived JWTs, EdDSA only.

Every token carries ``kid`` in its header and ``exp``, ``iat``, ``iss``, ``aud``, ``sub``.
A sign-in challenge (what a correct password earns: the right to present a second
factor or to enrol one) is a JWT with its own audience, so it is never an access token
and an access token is never a challenge.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import jwt

from beeldbel.errors import Unauthenticated
from beeldbel.identity.keys import Keyring
from beeldbel.identity.model import Principal, PrincipalKind, Role

__all__ = [
    "ALGORITHM",
    "CHALLENGE_LIFETIME",
    "JOIN_LIFETIME",
    "Challenge",
    "ChallengeStage",
    "JoinPass",
    "TokenService",
]

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
LEEWAY_SECONDS = 30
CHALLENGE_LIFETIME = timedelta(minutes=5)
JOIN_LIFETIME = timedelta(minutes=10)


class ChallengeStage(StrEnum):
    SECOND_FACTOR = "second_factor"
    ENROLMENT = "enrolment"


@dataclass(frozen=True, slots=True)
class Challenge:
    subject: str
    stage: ChallengeStage
    version: int  # the account's version when issued: any change to the account voids it


@dataclass(frozen=True, slots=True)
class JoinPass:
    """What a join token allows: one participant into one appointment, nothing else."""

    appointment_id: UUID
    participant_id: UUID
    role: str  # worker, client or guest

    @property
    def subject(self) -> str:
        return f"participant:{self.participant_id}"


class TokenService:
    def __init__(
        self, keyring: Keyring, *, issuer: str, audience: str, lifetime: timedelta
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._challenge_audience = f"{audience}:sign-in"
        self._join_audience = f"{audience}:join"
        self._lifetime = lifetime

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self._keyring.active
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})

    def _base(
        self, subject: str, audience: str, now: datetime, lifetime: timedelta
    ) -> dict[str, Any]:
        return {
            "iss": self._issuer,
            "aud": audience,
            "sub": subject,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
        }

    def issue(self, principal: Principal, now: datetime) -> str:
        claims = self._base(principal.subject, self._audience, now, self._lifetime)
        claims.update(
            {
                "kind": principal.kind.value,
                "roles": sorted(role.value for role in principal.roles),
                # RFC 8176 authentication methods: password, plus one-time password if used.
                "amr": ["pwd", "otp"] if principal.second_factor else ["pwd"],
            }
        )
        if principal.session is not None:
            claims["sid"] = principal.session
        return self._sign(claims)

    def issue_challenge(self, challenge: Challenge, now: datetime) -> str:
        claims = self._base(challenge.subject, self._challenge_audience, now, CHALLENGE_LIFETIME)
        claims.update(
            {"stage": challenge.stage.value, "ver": challenge.version, "jti": secrets.token_hex(8)}
        )
        return self._sign(claims)

    def issue_join(
        self, grant: JoinPass, now: datetime, lifetime: timedelta = JOIN_LIFETIME
    ) -> str:
        """A join token: its own audience, so it is never an access token and never a
        challenge; scoped to one appointment and one participant."""
        claims = self._base(grant.subject, self._join_audience, now, lifetime)
        claims.update({"apt": str(grant.appointment_id), "role": grant.role})
        return self._sign(claims)

    def verify_join(self, token: str, now: datetime) -> JoinPass:
        try:
            claims = self._decode(token, self._join_audience, now)
            kind, _, participant = str(claims["sub"]).partition(":")
            if kind != "participant":
                raise ValueError("sub")
            return JoinPass(
                appointment_id=UUID(str(claims["apt"])),
                participant_id=UUID(participant),
                role=str(claims["role"]),
            )
        except Unauthenticated as error:
            expired = "expired" in error.message
            raise Unauthenticated(
                f"{'the join token has expired' if expired else 'the join token is not valid'}; "
                "open your invitation link again",
                details={"reason": "join_token_expired" if expired else "join_token_invalid"},
            ) from None
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise Unauthenticated(
                "the join token is not valid; open your invitation link again",
                details={"reason": "join_token_invalid"},
            ) from None

    def _decode(self, token: str, audience: str, now: datetime) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        public = self._keyring.public_key(str(header.get("kid", "")))
        if public is None or header.get("alg") != ALGORITHM:
            raise Unauthenticated("the token was not signed by a key we know")
        claims: dict[str, Any] = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=self._issuer,
            # Time is checked below against the service's clock, not pyjwt's wall clock,
            # so that one clock rules every decision (and tests can move it).
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
        moment = now.timestamp()
        if float(claims["exp"]) + LEEWAY_SECONDS <= moment:
            raise Unauthenticated("the token has expired")
        if float(claims.get("nbf", claims["iat"])) - LEEWAY_SECONDS > moment:
            raise Unauthenticated("the token is not valid yet")
        return claims

    def verify(self, token: str, now: datetime) -> Principal:
        """The principal the token speaks for; raises Unauthenticated for any flaw."""
        try:
            claims = self._decode(token, self._audience, now)
            session = claims.get("sid")
            return Principal(
                subject=str(claims["sub"]),
                kind=PrincipalKind(claims.get("kind", "staff")),
                roles=frozenset(Role(role) for role in claims.get("roles", [])),
                second_factor="otp" in claims.get("amr", []),
                session=str(session) if session is not None else None,
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise Unauthenticated("the token is not valid") from None

    def verify_challenge(self, token: str, now: datetime) -> Challenge:
        """The sign-in challenge; raises Unauthenticated if it is not one of ours or too old."""
        try:
            claims = self._decode(token, self._challenge_audience, now)
            version = claims["ver"]
            if not isinstance(version, int) or isinstance(version, bool):
                raise TypeError("ver")
            return Challenge(
                subject=str(claims["sub"]),
                stage=ChallengeStage(claims["stage"]),
                version=version,
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, Unauthenticated):
            raise Unauthenticated(
                "the sign-in has expired or is not valid; sign in again",
                details={"reason": "challenge_invalid"},
            ) from None
