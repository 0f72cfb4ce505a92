"""Demo data for trying Beeldbel out. Idempotent: seeding twice changes nothing.

Later capabilities add their own demo data here (users, clients, appointments, tablets).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from beeldbel.clientfile.demo import seed_clients
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables import TeamRow
from beeldbel.errors import Conflict
from beeldbel.identity.demo import seed_staff
from beeldbel.organisation.model import name_key
from beeldbel.organisation.service import TeamService
from beeldbel.scheduling.demo import seed_agenda

__all__ = ["DEMO_TEAMS", "seed_demo"]

DEMO_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Wijkteam Hof van Twente", ("Hof van Twente",)),
    ("Wijkteam Noordoost-Twente", ("Tubbergen", "Dinkelland", "Losser")),
    ("Wijkteam Twenterand", ("Twenterand",)),
)


@dataclass(frozen=True, slots=True)
class SeedReport:
    teams_created: int
    clients_created: int = 0
    appointments_created: int = 0
    sign_in_help: tuple[str, ...] = ()


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
    async with db.transaction(read_only=True) as session:
        rows = (await session.execute(select(TeamRow.name, TeamRow.id))).all()
    teams_by_name = {name: team_id for name, team_id in rows}
    staff = await seed_staff(db, clock, teams_by_name)
    clients = await seed_clients(db, clock, teams_by_name, staff)
    appointments = await seed_agenda(db, clock, teams_by_name, staff)
    return SeedReport(
        teams_created=created,
        clients_created=clients,
        appointments_created=appointments,
        sign_in_help=staff.sign_in_help,
    )
