"""Refresh tokens: opaque, random, stored only as a keyed hash.

A token's successor is not random: it is HMAC-SHA256(server key, token). So when the
answer to a refresh is lost on a weak link and the client presents the same token again
within the grace window, the service recomputes the very same successor without ever
having stored a token in the clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from beeldbel.identity.serverkey import ServerKey

__all__ = ["PREFIX", "RefreshTokens"]

PREFIX = "bbr1."
TOKEN_BYTES = 32
MAX_LENGTH = 100


def _encode(raw: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


class RefreshTokens:
    def __init__(self, key: ServerKey) -> None:
        self._successor_key = key.derive("refresh-successor")
        self._hash_key = key.derive("refresh-hash")

    @staticmethod
    def new() -> str:
        return _encode(secrets.token_bytes(TOKEN_BYTES))

    @staticmethod
    def well_formed(token: str) -> bool:
        return token.startswith(PREFIX) and len(token) <= MAX_LENGTH and token.isascii()

    def successor(self, token: str) -> str:
        return _encode(hmac.new(self._successor_key, token.encode(), hashlib.sha256).digest())

    def hash(self, token: str) -> str:
        return hmac.new(self._hash_key, token.encode(), hashlib.sha256).hexdigest()
