"""Pure domain code, tested with plain values: no servers, no clock."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beeldbel.errors import BeeldbelError, Conflict, InvalidInput, InvalidTransition, StaleVersion
from beeldbel.organisation.model import TeamChanges, apply_changes, name_key, new_team
from beeldbel.pagination import Cursor

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_new_team_cleans_names_and_drops_duplicate_municipalities() -> None:
    team = new_team(uuid.uuid4(), "  Wijkteam\tLosser ", (" Losser", "LOSSER", "Overdinkel"), NOW)
    assert team.name == "Wijkteam Losser"
    assert team.municipalities == ("Losser", "Overdinkel")
    assert team.version == 1
    assert team.created_at == team.updated_at == NOW


@pytest.mark.parametrize(
    ("name", "municipalities"),
    [
        ("", ("Losser",)),
        ("   ", ("Losser",)),
        ("x" * 121, ("Losser",)),
        ("Team", ()),
        ("Team", ("  ",)),
        ("Team", tuple(f"M{i}" for i in range(31))),
    ],
)
def test_unusable_teams_are_refused(name: str, municipalities: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput):
        new_team(uuid.uuid4(), name, municipalities, NOW)


def test_a_change_moves_the_version_only_when_something_changed() -> None:
    team = new_team(uuid.uuid4(), "Wijkteam Losser", ("Losser",), NOW)
    later = NOW + timedelta(hours=1)
    assert apply_changes(team, TeamChanges(name=" Wijkteam  Losser"), later) is team
    renamed = apply_changes(team, TeamChanges(name="Wijkteam Losser-Oost"), later)
    assert (renamed.version, renamed.updated_at, renamed.created_at) == (2, later, NOW)


@given(st.lists(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1), min_size=1))
def test_name_key_ignores_spacing(words: list[str]) -> None:
    assert name_key(" ".join(words)) == name_key("  " + "   ".join(words) + "\t")


def test_name_key_ignores_case() -> None:
    assert name_key("Wijkteam TUBBERGEN") == name_key("wijkteam tubbergen")
    assert name_key("Wijkteam Tubbergen") != name_key("Wijkteam Tubbergen-Noord")


@given(st.datetimes(timezones=st.just(UTC)), st.uuids())
def test_cursor_round_trips(moment: datetime, ident: uuid.UUID) -> None:
    cursor = Cursor(moment, ident)
    assert Cursor.decode(cursor.encode()) == cursor


@given(st.text(max_size=200))
def test_any_string_decodes_to_a_cursor_or_invalid_input(token: str) -> None:
    with contextlib.suppress(InvalidInput):
        Cursor.decode(token)


def test_error_tree_is_one_family() -> None:
    assert issubclass(InvalidTransition, Conflict)
    assert issubclass(StaleVersion, Conflict)
    error = StaleVersion("changed", details={"current_version": 3})
    assert isinstance(error, BeeldbelError)
    assert (error.code, error.details) == ("stale_version", {"current_version": 3})
