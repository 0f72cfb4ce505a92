"""Demo data for trying Beeldbel out. Idempotent: seeding twice changes nothing.

Later capabilities add their own demo data here (users, clients, appointments, tablets).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables import TeamRow
from beeldbel.errors import Conflict
from beeldbel.organisation.model import name_key
from beeldbel.organisation.service import TeamService

__all__ = ["DEMO_TEAMS", "seed_demo"]

DEMO_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Wijkteam Hof van Twente", ("Hof van Twente",)),
    ("Wijkteam Noordoost-Twente", ("Tubbergen", "Dinkelland", "Losser")),
    ("Wijkteam Twenterand", ("Twenterand",)),
)


@dataclass(frozen=True, slots=True)
class SeedReport:
    teams_created: int


async def seed_demo(db: Database, clock: Clock) -> SeedReport:
    teams = TeamService(db, clock)
    async with db.transaction() as session:
        existing = set((await session.scalars(select(TeamRow.name_key))).all())
    created = 0
    for name, municipalities in DEMO_TEAMS:
        if name_key(name) in existing:
            continue
        try:
            await teams.create(name, municipalities)
            created += 1
        except Conflict:  # seeded concurrently by another process
            pass
    return SeedReport(teams_created=created)
