"""Access tokens: short-lived JWTs, EdDSA only.

Every token carries ``kid`` in its header and ``exp``, ``iat``, ``iss``, ``aud``, ``sub``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from beeldbel.errors import Unauthenticated
from beeldbel.identity.keys import Keyring
from beeldbel.identity.model import Principal, PrincipalKind, Role

__all__ = ["ALGORITHM", "TokenService"]

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
LEEWAY_SECONDS = 30


class TokenService:
    def __init__(
        self, keyring: Keyring, *, issuer: str, audience: str, lifetime: timedelta
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime

    def issue(self, principal: Principal, now: datetime) -> str:
        key = self._keyring.active
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": principal.subject,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
            "kind": principal.kind.value,
            "roles": sorted(role.value for role in principal.roles),
            # RFC 8176 authentication methods: password, plus one-time password if used.
            "amr": ["pwd", "otp"] if principal.second_factor else ["pwd"],
        }
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str, now: datetime) -> Principal:
        """The principal the token speaks for; raises Unauthenticated for any flaw."""
        try:
            header = jwt.get_unverified_header(token)
            public = self._keyring.public_key(str(header.get("kid", "")))
            if public is None or header.get("alg") != ALGORITHM:
                raise Unauthenticated("the token was not signed by a key we know")
            claims = jwt.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=self._audience,
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
            return Principal(
                subject=str(claims["sub"]),
                kind=PrincipalKind(claims.get("kind", "staff")),
                roles=frozenset(Role(role) for role in claims.get("roles", [])),
                second_factor="otp" in claims.get("amr", []),
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthenticated("the token is not valid") from None
