"""The identity server key: one random secret in the keys directory, 0600, made on first use.

Every keyed hash and cipher of the identity capability derives its own key from it, by
purpose, so no two uses share a key:

- refresh-token successors (a replay within the grace window recomputes the same one),
- recovery-code and refresh-token hashes (a stolen database alone cannot test guesses),
- throttle keys (what was typed as a username is never stored as typed),
- the encryption of TOTP secrets (a database backup alone does not give the factor away).

Losing the file signs everyone out and makes every TOTP factor unreadable (re-enrol with
``beeldbel user reset-factor``): back it up with the signing keys, apart from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["FILE_NAME", "ServerKey"]

FILE_NAME = "identity-secret.key"
KEY_BYTES = 32


class ServerKey:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError("the identity server key is too short")
        self._secret = secret

    def __repr__(self) -> str:  # never show the secret
        return "ServerKey(...)"

    @classmethod
    def load_or_create(cls, directory: Path) -> ServerKey:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / FILE_NAME
        if not path.exists():
            # Written aside, then linked into place: the link either wins whole or finds
            # the file another process made first, so nobody reads half a key.
            draft = directory / f".{FILE_NAME}.{secrets.token_hex(8)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES).hex().encode())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        text = path.read_bytes().strip()
        return cls(bytes.fromhex(text.decode()))

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose only."""
        return hmac.new(
            self._secret, b"beeldbel-identity:" + purpose.encode(), hashlib.sha256
        ).digest()

    def mac(self, purpose: str, data: str) -> str:
        """HMAC-SHA256 of ``data`` under the purpose's key, as 64 hex characters."""
        return hmac.new(self.derive(purpose), data.encode(), hashlib.sha256).hexdigest()
