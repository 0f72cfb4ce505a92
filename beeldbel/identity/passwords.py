"""Password hashes: argon2id (argon2-cffi's RFC 9106 defaults), computed off the event loop.

An unknown username is checked against a dummy hash made with the same parameters, so
it costs the same time as a known one and the answer gives nothing away.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords"]


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Made once per process; it matches no password anyone could send.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    def hash_now(self, password: str) -> str:
        """Blocking; for the command line."""
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_now(self, stored: str | None, password: str) -> bool:
        return self._verify(stored, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if ``password`` matches ``stored``; with None, checks the dummy and says no."""
        return await asyncio.to_thread(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
