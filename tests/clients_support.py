"""A small wijkteam for the client-file tests: people, their teams, tokens and the audit log.

Team membership comes from a dict (``Membership``), handed to the app through
``beeldbel.api.clients.TEAMS_OF`` before it starts, so these tests do not depend on how
staff accounts are stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.api import appkeys
from beeldbel.api.clients import ACCESS, TEAMS_OF
from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.db.tables.audit import AuditEntryRow
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.settings import Settings
from tests.conftest import auth, token_for

HOME, ELSEWHERE = "Wijkteam Hof van Twente", "Wijkteam Twenterand"

# name: (roles, team)
PEOPLE: dict[str, tuple[frozenset[Role], str]] = {
    "anouk": (frozenset({Role.WORKER}), HOME),  # opens files: lead of the care team
    "daan": (frozenset({Role.WORKER}), HOME),
    "bart": (frozenset({Role.WORKER}), HOME),  # same team, not in the care team
    "femke": (frozenset({Role.COORDINATOR}), HOME),
    "joost": (frozenset({Role.ADMIN}), HOME),
    "ingrid": (frozenset({Role.PRIVACY_OFFICER}), HOME),
    "olaf": (frozenset({Role.WORKER}), ELSEWHERE),
    "nina": (frozenset({Role.WORKER}), ELSEWHERE),  # on call tonight (bereikbaarheidsdienst)
    "gerda": (frozenset({Role.COORDINATOR}), ELSEWHERE),
}


def subject(name: str) -> str:
    return f"staff:{name}"


@dataclass
class Membership:
    """Which teams each staff subject is in; read when asked, so tests may change it."""

    teams: dict[str, set[UUID]] = field(default_factory=dict)

    async def teams_of(self, session: AsyncSession, who: str) -> frozenset[UUID]:
        return frozenset(self.teams.get(who, set()))


@dataclass
class World:
    http: TestClient
    clock: FixedClock
    membership: Membership
    team_ids: dict[str, UUID]

    @property
    def home(self) -> UUID:
        return self.team_ids[HOME]

    def principal(self, name: str, *, second_factor: bool = True) -> Principal:
        roles, _ = PEOPLE[name]
        return Principal(subject(name), PrincipalKind.STAFF, roles, second_factor=second_factor)

    def headers(self, name: str, *, second_factor: bool = True) -> dict[str, str]:
        """A fresh token (the clock may have moved past an older one's expiry)."""
        roles, _ = PEOPLE[name]
        return auth(
            token_for(self.http, *roles, subject=subject(name), second_factor=second_factor)
        )

    @property
    def app(self) -> Any:
        assert self.http.app is not None
        return self.http.app

    @property
    def access(self) -> Any:
        return self.app[ACCESS]

    async def create_client(self, by: str = "anouk", **fields: Any) -> dict[str, Any]:
        body = {"team_id": str(self.home), "name": "Gerrit Nijhuis", "legal_basis": "wmo_2015"}
        body.update(fields)
        response = await self.http.post("/api/v1/clients", json=body, headers=self.headers(by))
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def set_care_team(self, client_id: str, lead: str, *others: str) -> dict[str, Any]:
        url = f"/api/v1/clients/{client_id}/care-team"
        current = await (await self.http.get(url, headers=self.headers(lead))).json()
        members = [{"subject": subject(lead), "is_lead": True}]
        members += [{"subject": subject(name)} for name in others]
        response = await self.http.put(
            url,
            json={"version": current["version"], "members": members},
            headers=self.headers(lead),
        )
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def audit(self, **where: Any) -> list[AuditEntryRow]:
        """Audit entries, oldest first, filtered by column values (``event=...``)."""
        query = select(AuditEntryRow).order_by(AuditEntryRow.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntryRow, column) == value)
        async with self.app[appkeys.DATABASE].transaction(read_only=True) as session:
            return list((await session.scalars(query)).all())


async def make_world(aiohttp_client: Any, settings: Settings, clock: FixedClock) -> World:
    membership = Membership()
    app = create_app(settings, clock=clock)
    app[TEAMS_OF] = membership.teams_of
    http: TestClient = await aiohttp_client(app)
    admin = auth(token_for(http, Role.ADMIN, subject="staff:setup"))
    team_ids: dict[str, UUID] = {}
    for name, town in ((HOME, "Hof van Twente"), (ELSEWHERE, "Twenterand")):
        response = await http.post(
            "/api/v1/teams", json={"name": name, "municipalities": [town]}, headers=admin
        )
        assert response.status == 201, await response.text()
        team_ids[name] = UUID((await response.json())["id"])
    for name, (_, team) in PEOPLE.items():
        membership.teams[subject(name)] = {team_ids[team]}
    return World(http=http, clock=clock, membership=membership, team_ids=team_ids)


def request_id() -> dict[str, str]:
    return {"X-Request-ID": uuid.uuid4().hex}
