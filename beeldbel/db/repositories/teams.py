"""Teams in SQL."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.db.paging import in_creation_order, next_cursor, split_page
from beeldbel.db.tables import TeamRow
from beeldbel.errors import Conflict, NotFound, StaleVersion
from beeldbel.organisation.model import Team, name_key
from beeldbel.pagination import Page, PageRequest

__all__ = ["SqlTeamRepository"]


def _to_team(row: TeamRow) -> Team:
    return Team(
        id=row.id,
        name=row.name,
        municipalities=tuple(row.municipalities),
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


class SqlTeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _name_conflict(self, team: Team) -> Conflict:
        other = await self._session.scalar(
            select(TeamRow.id).where(TeamRow.name_key == name_key(team.name))
        )
        return Conflict(
            "another team already has this name",
            details={"field": "name", "conflicting_id": str(other) if other else None},
        )

    async def add(self, team: Team) -> None:
        row = TeamRow(
            id=team.id,
            name=team.name,
            name_key=name_key(team.name),
            municipalities=list(team.municipalities),
            created_at=team.created_at,
            updated_at=team.updated_at,
            version=team.version,
        )
        try:
            # A savepoint keeps the outer transaction usable after a unique violation,
            # so the conflicting row can still be named in the answer.
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            raise await self._name_conflict(team) from None

    async def get(self, team_id: UUID) -> Team:
        row = await self._session.get(TeamRow, team_id)
        if row is None:
            raise NotFound("no such team", details={"id": str(team_id)})
        return _to_team(row)

    async def list(self, page: PageRequest) -> Page[Team]:
        query = in_creation_order(select(TeamRow), TeamRow.created_at, TeamRow.id, page)
        rows, more = split_page((await self._session.scalars(query)).all(), page)
        teams = tuple(_to_team(row) for row in rows)
        cursor = next_cursor(teams[-1].created_at, teams[-1].id, more) if teams else None
        return Page(items=teams, next_cursor=cursor)

    async def update(self, team: Team, expected_version: int) -> None:
        statement = (
            update(TeamRow)
            .where(TeamRow.id == team.id, TeamRow.version == expected_version)
            .values(
                name=team.name,
                name_key=name_key(team.name),
                municipalities=list(team.municipalities),
                updated_at=team.updated_at,
                version=team.version,
            )
            .execution_options(synchronize_session=False)
        )
        try:
            async with self._session.begin_nested():
                result = await self._session.execute(statement)
        except IntegrityError:
            raise await self._name_conflict(team) from None
        if result.rowcount != 1:  # type: ignore[attr-defined]
            current = await self.get(team.id)
            raise StaleVersion(
                "the team was changed by someone else",
                details={"current_version": current.version},
            )
