"""Principals, roles and staff users, as plain values. Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from beeldbel.errors import InvalidInput

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_USERNAME",
    "Principal",
    "PrincipalKind",
    "Role",
    "StaffUser",
    "parse_subject",
    "plausible_username",
    "staff_subject",
    "username_key",
    "valid_display_name",
    "valid_text",
    "valid_username",
]

MAX_USERNAME = 64
MIN_USERNAME = 2
MAX_DISPLAY_NAME = 120
_USERNAME = re.compile(r"^[\w.@+-]+$")


class PrincipalKind(StrEnum):
    STAFF = "staff"
    CLIENT = "client"
    GUEST = "guest"
    DEVICE = "device"


class Role(StrEnum):
    WORKER = "worker"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    PRIVACY_OFFICER = "privacy_officer"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``subject`` is stable and unique across kinds.

    ``session`` names the sign-in (the refresh-token chain) the access token came from,
    so "sign out my other sessions" can keep this one.
    """

    subject: str
    kind: PrincipalKind
    roles: frozenset[Role] = frozenset()
    second_factor: bool = False  # signed in with a second factor (TOTP or recovery code)
    session: str | None = None

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


def staff_subject(user_id: UUID) -> str:
    """The principal subject of a staff user: ``staff:<uuid>``."""
    return f"{PrincipalKind.STAFF.value}:{user_id}"


def parse_subject(subject: str) -> tuple[PrincipalKind, UUID] | None:
    """``("staff", uuid)`` for ``"staff:<uuid>"``; None for anything else."""
    kind, _, rest = subject.partition(":")
    try:
        return PrincipalKind(kind), UUID(rest)
    except ValueError:
        return None


def username_key(username: str) -> str:
    """The form usernames are compared in: 'Anouk', ' anouk ' and 'ANOUK' are one user
    (full-width letters too)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def plausible_username(username: str) -> bool:
    """Could this be a username at all? (Anything else is not looked up: a database may
    refuse to compare such text, and no user can have it.)"""
    return _USERNAME.fullmatch(username_key(username)) is not None and (
        len(username_key(username)) <= MAX_USERNAME
    )


def _printable(text: str) -> bool:
    return not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in text)


def valid_text(text: str, field: str, max_length: int) -> str:
    """One line of plain text: spaces collapsed, no control characters, not empty."""
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned or len(cleaned) > max_length or not _printable(cleaned):
        raise InvalidInput(
            f"{field.replace('_', ' ')} has 1 to {max_length} characters, no control characters",
            details={"field": field},
        )
    return cleaned


def valid_username(username: str) -> str:
    """A username as stored (NFKC, trimmed); raises InvalidInput for an unusable one."""
    cleaned = unicodedata.normalize("NFKC", username).strip()
    if not MIN_USERNAME <= len(cleaned) <= MAX_USERNAME or not _USERNAME.fullmatch(cleaned):
        raise InvalidInput(
            f"a username has {MIN_USERNAME} to {MAX_USERNAME} letters, digits or . _ @ + -",
            details={"field": "username"},
        )
    return cleaned


def valid_display_name(name: str) -> str:
    return valid_text(name, "display_name", MAX_DISPLAY_NAME)


@dataclass(frozen=True, slots=True)
class StaffUser:
    """A staff member as the use cases see them (no secrets)."""

    id: UUID
    username: str
    display_name: str
    roles: frozenset[Role]
    teams: frozenset[UUID]
    totp_enabled: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def subject(self) -> str:
        return staff_subject(self.id)
