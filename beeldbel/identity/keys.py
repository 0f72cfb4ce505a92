"""Signing keys in the data directory: Ed25519, one file per key, named by creation time and id.

The newest key signs; every key still on disk verifies, so tokens signed before a
rotation stay valid until they expire. Private keys are written 0600 and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["Keyring", "SigningKey"]


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    created: str  # sortable creation stamp, from the file name


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")


class Keyring:
    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._keys = sorted(keys, key=lambda k: (k.created, k.kid))
        self._by_kid = {k.kid: k for k in self._keys}

    @property
    def active(self) -> SigningKey:
        return self._keys[-1]

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._by_kid.get(kid)
        return key.public if key else None

    @classmethod
    def load_or_create(cls, directory: Path) -> Keyring:
        """Load every ``signing-*.pem`` in ``directory``; create the first key if none."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = [cls._load(path) for path in sorted(directory.glob("signing-*.pem"))]
        if not keys:
            keys.append(cls.create(directory))
        return cls(keys)

    @staticmethod
    def _load(path: Path) -> SigningKey:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        public = private.public_key()
        stamp = path.stem.removeprefix("signing-").rsplit("-", 1)[0]
        return SigningKey(key_id(public), private, public, stamp)

    @staticmethod
    def create(directory: Path, now: datetime | None = None) -> SigningKey:
        """Write a new key; it signs from the next load on. ``now`` orders the keys."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        kid = key_id(public)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")
        path = directory / f"signing-{stamp}-{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        return SigningKey(kid, private, public, stamp)
