"""Principals and roles, as plain values. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "PrincipalKind", "Role"]


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
    """An authenticated caller. ``subject`` is stable and unique across kinds."""

    subject: str
    kind: PrincipalKind
    roles: frozenset[Role] = frozenset()
    second_factor: bool = False  # signed in with a second factor (TOTP or recovery code)

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)
