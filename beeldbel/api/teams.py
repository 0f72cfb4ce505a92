"""/api/v1/teams: the district teams (wijkteams) of the organisation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from beeldbel.api import appkeys
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation, Reply
from beeldbel.api.schemas import PageQuery, Request, Response
from beeldbel.identity.model import Role
from beeldbel.organisation.model import MAX_MUNICIPALITIES, Team, TeamChanges
from beeldbel.pagination import Cursor, PageRequest

__all__ = ["CONTEXTS", "OPERATIONS"]

Name = Annotated[str, Field(min_length=1, max_length=120)]
Municipality = Annotated[str, Field(min_length=1, max_length=80)]
Municipalities = Annotated[list[Municipality], Field(min_length=1, max_length=MAX_MUNICIPALITIES)]


class TeamCreate(Request):
    name: Name
    municipalities: Municipalities


class TeamPatch(Request):
    version: int = Field(ge=1, description="The version the change is based on.")
    name: Name | None = None
    municipalities: Municipalities | None = None


class TeamPath(Request):
    team_id: UUID


class TeamOut(Response):
    id: UUID
    name: str
    municipalities: list[str]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls(
            id=team.id,
            name=team.name,
            municipalities=list(team.municipalities),
            created_at=team.created_at,
            updated_at=team.updated_at,
            version=team.version,
        )


class TeamPage(Response):
    items: list[TeamOut]
    next_cursor: str | None


async def list_teams(call: Call) -> Reply:
    query = call.query_as(PageQuery)
    after = Cursor.decode(query.cursor) if query.cursor else None
    page = await call.app[appkeys.TEAMS].list(PageRequest(limit=query.limit, after=after))
    return Reply(TeamPage(items=[TeamOut.of(t) for t in page.items], next_cursor=page.next_cursor))


async def create_team(call: Call) -> Reply:
    body = call.body_as(TeamCreate)
    team = await call.app[appkeys.TEAMS].create(body.name, tuple(body.municipalities))
    return Reply(TeamOut.of(team), status=201, headers={"Location": f"/api/v1/teams/{team.id}"})


async def get_team(call: Call) -> Reply:
    team = await call.app[appkeys.TEAMS].get(call.path_as(TeamPath).team_id)
    return Reply(TeamOut.of(team))


async def patch_team(call: Call) -> Reply:
    body = call.body_as(TeamPatch)
    changes = TeamChanges(
        name=body.name,
        municipalities=tuple(body.municipalities) if body.municipalities is not None else None,
    )
    team = await call.app[appkeys.TEAMS].change(
        call.path_as(TeamPath).team_id, changes, body.version
    )
    return Reply(TeamOut.of(team))


MANAGERS = frozenset({Role.ADMIN, Role.COORDINATOR})
CONTEXTS: tuple[CleanupContext, ...] = ()

OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/teams",
        list_teams,
        "listTeams",
        "List the teams",
        "teams",
        DataClass.ORGANISATION,
        response=TeamPage,
        query=PageQuery,
        errors=(422,),
    ),
    Operation(
        "POST",
        "/api/v1/teams",
        create_team,
        "createTeam",
        "Create a team",
        "teams",
        DataClass.ORGANISATION,
        response=TeamOut,
        status=201,
        body=TeamCreate,
        roles=frozenset({Role.ADMIN}),
        errors=(409,),
    ),
    Operation(
        "GET",
        "/api/v1/teams/{team_id}",
        get_team,
        "getTeam",
        "One team",
        "teams",
        DataClass.ORGANISATION,
        response=TeamOut,
        path_params=TeamPath,
    ),
    Operation(
        "PATCH",
        "/api/v1/teams/{team_id}",
        patch_team,
        "changeTeam",
        "Rename a team or change its municipalities",
        "teams",
        DataClass.ORGANISATION,
        response=TeamOut,
        body=TeamPatch,
        path_params=TeamPath,
        roles=MANAGERS,
        errors=(409,),
        description="Send the version you read; a stale version gets 409 stale_version.",
    ),
)
