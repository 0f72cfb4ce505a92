"""Signing keys in the data directory: Ed25519, one file per key, named by creation time and id.

The newest key signs; every key still on disk verifies, so tokens signed before a
rotation stay valid until they expire. Private keys are written 0600 and never logged.

``beeldbel keys rotate`` writes a new key while the service runs: a running process looks
at the directory again every ``RELOAD_SECONDS`` (and at once when it meets a token whose
key id names a key file it has not loaded yet), so every process soon signs with the new
key and verifies tokens signed by any process. A key is retired (deleted)
only once every token it can have signed has expired: see :func:`retirable`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["Keyring", "SigningKey", "retirable"]

RELOAD_SECONDS = 30.0
STAMP_FORMAT = "%Y%m%dT%H%M%S%f"


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
    def __init__(self, keys: list[SigningKey], directory: Path | None = None) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._directory = directory
        self._loaded_at = time.monotonic()
        self._set(keys)

    def _set(self, keys: list[SigningKey]) -> None:
        self._keys = sorted(keys, key=lambda k: (k.created, k.kid))
        self._by_kid = {k.kid: k for k in self._keys}

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, oldest first."""
        return tuple(self._keys)

    @property
    def active(self) -> SigningKey:
        self._reload_after(RELOAD_SECONDS)
        return self._keys[-1]

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._by_kid.get(kid)
        if key is None and self._on_disk(kid):
            # Another process signed with a key made since we last looked.
            self.reload()
            key = self._by_kid.get(kid)
        return key.public if key else None

    def _on_disk(self, kid: str) -> bool:
        if self._directory is None or not kid:
            return False
        suffix = f"-{kid}.pem"  # compared with names listed, never used as a path
        try:
            names = [entry.name for entry in os.scandir(self._directory)]
        except OSError:
            return False
        return any(name.startswith("signing-") and name.endswith(suffix) for name in names)

    def _reload_after(self, seconds: float) -> bool:
        """Read the directory again if the last read is ``seconds`` old; True if it was."""
        if self._directory is None or time.monotonic() - self._loaded_at < seconds:
            return False
        self.reload()
        return True

    def reload(self) -> None:
        """Read the directory now: new keys join, deleted (retired) keys leave."""
        if self._directory is None:
            return
        self._loaded_at = time.monotonic()
        keys = self._read(self._directory)
        if keys:  # an emptied directory is a mistake; keep signing with what we have
            self._set(keys)

    @classmethod
    def _read(cls, directory: Path) -> list[SigningKey]:
        found = []
        for path in sorted(directory.glob("signing-*.pem")):
            try:
                found.append(cls._load(path))
            except FileNotFoundError:  # retired between the listing and the read
                continue
        return found

    @classmethod
    def load_or_create(cls, directory: Path) -> Keyring:
        """Load every ``signing-*.pem`` in ``directory``; create the first key if none."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = cls._read(directory)
        if not keys:
            keys.append(cls.create(directory))
        return cls(keys, directory)

    @staticmethod
    def _load(path: Path) -> SigningKey:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        public = private.public_key()
        # The stamp has no "-"; a key id may (it is base64url).
        stamp = path.stem.removeprefix("signing-").split("-", 1)[0]
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
        stamp = (now or datetime.now(UTC)).strftime(STAMP_FORMAT)
        path = directory / f"signing-{stamp}-{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        return SigningKey(kid, private, public, stamp)


def created_at(key: SigningKey) -> datetime:
    return datetime.strptime(key.created, STAMP_FORMAT).replace(tzinfo=UTC)


def retirable(keys: tuple[SigningKey, ...], now: datetime, keep: timedelta) -> list[SigningKey]:
    """Keys that have signed nothing still valid: each was replaced more than ``keep`` ago.

    ``keep`` must cover the longest token lifetime plus the time processes take to notice
    the new key (``RELOAD_SECONDS``) plus the verification leeway. The newest key stays.
    """
    ordered = sorted(keys, key=lambda k: (k.created, k.kid))
    return [
        old for old, successor in itertools.pairwise(ordered) if now - created_at(successor) > keep
    ]
