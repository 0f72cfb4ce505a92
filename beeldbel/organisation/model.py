"""Teams, as plain values. Pure: no I/O, no clock."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from beeldbel.errors import InvalidInput

__all__ = ["MAX_MUNICIPALITIES", "Team", "TeamChanges", "apply_changes", "name_key", "new_team"]

MAX_NAME = 120
MAX_MUNICIPALITY = 80
MAX_MUNICIPALITIES = 30


@dataclass(frozen=True, slots=True)
class Team:
    """A wijkteam: a group of workers serving one or more municipalities."""

    id: UUID
    name: str
    municipalities: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True)
class TeamChanges:
    """What an update may change; ``None`` leaves a field as it is."""

    name: str | None = None
    municipalities: tuple[str, ...] | None = None


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def name_key(name: str) -> str:
    """The form two names are compared in: 'Wijkteam  Tubbergen' equals 'wijkteam tubbergen'."""
    return _clean(name).casefold()


def _valid_name(name: str) -> str:
    cleaned = _clean(name)
    if not cleaned:
        raise InvalidInput("a team needs a name", details={"field": "name"})
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(
            f"a team name has at most {MAX_NAME} characters", details={"field": "name"}
        )
    return cleaned


def _valid_municipalities(names: tuple[str, ...]) -> tuple[str, ...]:
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = _clean(raw)
        if not name or len(name) > MAX_MUNICIPALITY:
            raise InvalidInput(
                f"a municipality name has 1 to {MAX_MUNICIPALITY} characters",
                details={"field": "municipalities"},
            )
        if name.casefold() not in seen:
            seen.add(name.casefold())
            cleaned.append(name)
    if not cleaned:
        raise InvalidInput(
            "a team serves at least one municipality", details={"field": "municipalities"}
        )
    if len(cleaned) > MAX_MUNICIPALITIES:
        raise InvalidInput(
            f"a team serves at most {MAX_MUNICIPALITIES} municipalities",
            details={"field": "municipalities"},
        )
    return tuple(cleaned)


def new_team(id: UUID, name: str, municipalities: tuple[str, ...], now: datetime) -> Team:
    """A new team with cleaned-up names; raises InvalidInput for an unusable one."""
    return Team(
        id=id,
        name=_valid_name(name),
        municipalities=_valid_municipalities(municipalities),
        created_at=now,
        updated_at=now,
    )


def apply_changes(team: Team, changes: TeamChanges, now: datetime) -> Team:
    """The team after ``changes``; the version moves on only if something changed."""
    name = team.name if changes.name is None else _valid_name(changes.name)
    municipalities = (
        team.municipalities
        if changes.municipalities is None
        else _valid_municipalities(changes.municipalities)
    )
    if name == team.name and municipalities == team.municipalities:
        return team
    return replace(
        team, name=name, municipalities=municipalities, updated_at=now, version=team.version + 1
    )
