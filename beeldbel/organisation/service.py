"""Team use cases: each opens one unit of work and applies the pure rules."""

from __future__ import annotations

import uuid
from uuid import UUID

from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.teams import SqlTeamRepository
from beeldbel.errors import StaleVersion
from beeldbel.organisation.model import Team, TeamChanges, apply_changes, new_team
from beeldbel.pagination import Page, PageRequest

__all__ = ["TeamService"]


class TeamService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, name: str, municipalities: tuple[str, ...]) -> Team:
        team = new_team(uuid.uuid4(), name, municipalities, self._clock.now())
        async with self._db.transaction() as session:
            await SqlTeamRepository(session).add(team)
        return team

    async def get(self, team_id: UUID) -> Team:
        async with self._db.transaction(read_only=True) as session:
            return await SqlTeamRepository(session).get(team_id)

    async def list(self, page: PageRequest) -> Page[Team]:
        async with self._db.transaction(read_only=True) as session:
            return await SqlTeamRepository(session).list(page)

    async def change(self, team_id: UUID, changes: TeamChanges, expected_version: int) -> Team:
        async with self._db.transaction() as session:
            teams = SqlTeamRepository(session)
            current = await teams.get(team_id)
            if current.version != expected_version:
                raise StaleVersion(
                    "the team was changed by someone else",
                    details={"current_version": current.version},
                )
            changed = apply_changes(current, changes, self._clock.now())
            if changed is not current:
                await teams.update(changed, expected_version)
            return changed
