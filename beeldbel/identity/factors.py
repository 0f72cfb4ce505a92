"""Second factors: TOTP (RFC 6238, any authenticator app) and one-time recovery codes.

A TOTP code is accepted for the current 30-second step and one step either side (clocks
drift), and only for a step later than the last one accepted, so a code that was seen
over someone's shoulder is worthless once used. The secret is stored encrypted with
AES-GCM under a key derived from the identity server key, bound to the user's id.
"""

from __future__ import annotations

import base64
import hmac
import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from beeldbel.identity.serverkey import ServerKey

__all__ = [
    "ISSUER",
    "RECOVERY_CODES",
    "Enrolment",
    "Factors",
    "normalise_code",
    "normalise_recovery_code",
]

ISSUER = "Beeldbel"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud safely
RECOVERY_GROUPS = 3
RECOVERY_GROUP = 4
DRIFT_STEPS = 1
_CIPHER_PREFIX = "v1."
_PLAIN_PREFIX = "plain."


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str  # base32, to type into an app that cannot scan
    otpauth_uri: str
    qr_svg: str


def normalise_code(code: str) -> str:
    return "".join(code.split())


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


class Factors:
    def __init__(self, key: ServerKey) -> None:
        self._key = key
        self._cipher = AESGCM(key.derive("totp-secret-encryption"))

    # TOTP ---------------------------------------------------------------------------------

    @staticmethod
    def new_secret() -> str:
        return pyotp.random_base32()

    @staticmethod
    def enrolment(secret: str, username: str) -> Enrolment:
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
        buffer = io.BytesIO()
        segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
        return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=buffer.getvalue().decode())

    @staticmethod
    def accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
        """The time step ``code`` belongs to, if it is valid now and not used before."""
        code = normalise_code(code)
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
            if last_step is not None and step <= last_step:
                continue
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def seal(self, user_id: UUID, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher.encrypt(nonce, secret.encode(), user_id.bytes)
        return _CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    @staticmethod
    def unsealed(secret: str) -> str:
        """A secret stored as it is: only for demo accounts, whose secrets are public anyway."""
        return _PLAIN_PREFIX + secret

    def open(self, user_id: UUID, stored: str) -> str | None:
        """The secret, or None if it cannot be read (another server key, or tampered)."""
        if stored.startswith(_PLAIN_PREFIX):
            return stored.removeprefix(_PLAIN_PREFIX)
        if not stored.startswith(_CIPHER_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(_CIPHER_PREFIX))
            return self._cipher.decrypt(raw[:12], raw[12:], user_id.bytes).decode()
        except (InvalidTag, ValueError):
            return None

    # Recovery codes -----------------------------------------------------------------------

    @staticmethod
    def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
        def one() -> str:
            groups = (
                "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP))
                for _ in range(RECOVERY_GROUPS)
            )
            return "-".join(groups)

        return [one() for _ in range(count)]

    def recovery_hash(self, user_id: UUID, code: str) -> str:
        return self._key.mac("recovery-code", f"{user_id}:{normalise_recovery_code(code)}")
