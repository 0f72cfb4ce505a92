"""Demo clients with networks and care teams (filled in by the identity issue)."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.identity.demo import DemoStaff

__all__ = ["seed_clients"]


async def seed_clients(
    db: Database, clock: Clock, teams: Mapping[str, UUID], staff: DemoStaff
) -> int:
    """Seed demo clients; returns how many were created. Idempotent."""
    return 0
