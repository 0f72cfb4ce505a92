"""Demo staff accounts (filled in by the identity issue)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from beeldbel.clock import Clock
from beeldbel.db.engine import Database

__all__ = ["DemoStaff", "seed_staff"]


@dataclass(frozen=True, slots=True)
class DemoStaff:
    """What seeding made, and how to sign in with it (printed by ``beeldbel demo``)."""

    subjects: Mapping[str, str] = field(default_factory=dict)  # username -> principal subject
    sign_in_help: tuple[str, ...] = ()


async def seed_staff(db: Database, clock: Clock, teams: Mapping[str, UUID]) -> DemoStaff:
    """Seed demo staff for the demo teams (``teams`` maps team name to id). Idempotent."""
    return DemoStaff()
