"""What the organisation use cases need from storage."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from beeldbel.organisation.model import Team
from beeldbel.pagination import Page, PageRequest

__all__ = ["TeamRepository"]


class TeamRepository(Protocol):
    async def add(self, team: Team) -> None:
        """Store a new team; raises Conflict if the name is taken."""

    async def get(self, team_id: UUID) -> Team:
        """The team; raises NotFound."""

    async def list(self, page: PageRequest) -> Page[Team]:
        """Teams ordered by creation, oldest first."""

    async def update(self, team: Team, expected_version: int) -> None:
        """Replace the team if it is still at ``expected_version``; else StaleVersion."""
