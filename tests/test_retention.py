"""Retention (issue 8, acceptance 6): with a fake clock, the retention job lists a closed file
past its period and nothing else; deleting is explicit (the privacy officer), refused while a
file is kept, and audited; a deleted file leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from beeldbel.api import appkeys
from beeldbel.api.retention import RETENTION
from beeldbel.clientfile.model import FileState, LegalBasis
from beeldbel.clock import FixedClock
from beeldbel.db.base import metadata
from beeldbel.errors import InvalidInput
from beeldbel.retention.model import FileFacts, due, parse_periods, retain_until
from beeldbel.settings import Settings
from tests.clients_support import World, make_world, subject

PERIODS = parse_periods("wmo_2015=15,jeugdwet=20,wgbo=20")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def facts(basis: LegalBasis, closed: datetime | None, n: int = 1) -> FileFacts:
    return FileFacts(
        client_id=UUID(int=n),
        team_id=UUID(int=99),
        legal_basis=basis,
        file_state=FileState.CLOSED if closed else FileState.OPEN,
        closed_at=closed,
    )


def test_the_period_runs_from_the_closed_date_per_legal_basis() -> None:
    closed = datetime(2027, 2, 28, 12, 0, tzinfo=UTC)
    assert retain_until(facts(LegalBasis.WMO_2015, closed), PERIODS) == datetime(
        2042, 2, 28, 12, 0, tzinfo=UTC
    )
    assert retain_until(facts(LegalBasis.WGBO, closed), PERIODS) == datetime(
        2047, 2, 28, 12, 0, tzinfo=UTC
    )
    assert retain_until(facts(LegalBasis.WGBO, None), PERIODS) is None
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert retain_until(facts(LegalBasis.WMO_2015, leap), PERIODS) == datetime(
        2043, 2, 28, tzinfo=UTC
    )


def test_only_closed_files_past_their_period_are_due() -> None:
    now = T0 + timedelta(days=365 * 17)
    files = [
        facts(LegalBasis.WMO_2015, T0, 1),  # 17 years > 15: due
        facts(LegalBasis.JEUGDWET, T0, 2),  # 17 < 20: kept
        facts(LegalBasis.WMO_2015, T0 + timedelta(days=365 * 3), 3),  # 14 years: kept
        facts(LegalBasis.WMO_2015, None, 4),  # open: never due
    ]
    assert [d.client_id for d in due(files, PERIODS, now)] == [UUID(int=1)]
    fifteen_years = datetime(2041, 11, 30, 9, 0, tzinfo=UTC)
    assert [d.client_id for d in due(files, PERIODS, fifteen_years)] == [UUID(int=1)]
    assert due(files, PERIODS, fifteen_years - timedelta(seconds=1)) == []


@pytest.mark.parametrize(
    "text",
    ["wmo_2015=15", "wmo_2015=15,jeugdwet=20,wgbo=0", "wmo=15,jeugdwet=20,wgbo=20", "nonsense"],
)
def test_retention_periods_must_name_every_basis_with_sane_years(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"retention|basis|years"):
        parse_periods(text)


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def closed_client(world: World, name: str, basis: str, hour: int) -> tuple[str, datetime]:
    client = await world.create_client(name=name, legal_basis=basis)
    await world.set_care_team(client["id"], "anouk")
    url = f"/api/v1/clients/{client['id']}"
    note = await world.http.post(
        f"{url}/notes",
        json={"visibility": "professional", "text": "Afsluitend verslag."},
        headers=world.headers("anouk"),
    )
    assert note.status == 201
    member = await world.http.post(
        f"{url}/network",
        json={"name": "Familie", "roles": ["family"]},
        headers=world.headers("anouk"),
    )
    assert member.status == 201
    starts = world.clock.now() + timedelta(hours=hour)
    visit = await world.http.post(
        "/api/v1/appointments",
        json={
            "kind": "visit",
            "team_id": str(world.home),
            "client_id": client["id"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=30)).isoformat(),
        },
        headers=world.headers("anouk"),
    )
    assert visit.status == 201, await visit.text()
    booked = (await visit.json())["appointment"]
    world.clock.advance(timedelta(hours=hour + 1))
    done = await world.http.post(
        f"/api/v1/appointments/{booked['id']}/outcome",
        json={"version": booked["version"], "status": "completed"},
        headers=world.headers("anouk"),
    )
    assert done.status == 200, await done.text()
    report = await world.http.post(
        f"{url}/notes",
        json={"visibility": "shared", "text": "Verslag.", "appointment_id": booked["id"]},
        headers=world.headers("anouk"),
    )
    assert report.status == 201, await report.text()
    current = await (await world.http.get(url, headers=world.headers("anouk"))).json()
    closed = await world.http.post(
        f"{url}/close", json={"version": current["version"]}, headers=world.headers("anouk")
    )
    assert closed.status == 200, await closed.text()
    return str(client["id"]), datetime.fromisoformat((await closed.json())["closed_at"])


async def rows_naming(world: World, client_id: str) -> dict[str, int]:
    """Rows in every table with a column that refers to clients.id, naming this client."""
    counts: dict[str, int] = {}
    async with world.app[appkeys.DATABASE].transaction(read_only=True) as session:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if any(fk.column.table.name == "clients" for fk in column.foreign_keys) or (
                    table.name == "clients" and column.name == "id"
                ):
                    n = await session.scalar(
                        select(func.count()).select_from(table).where(column == UUID(client_id))
                    )
                    counts[f"{table.name}.{column.name}"] = int(n or 0)
    return counts


async def test_the_retention_job_lists_a_closed_file_past_its_period_and_nothing_else(
    backend: str, world: World
) -> None:
    """Acceptance 6."""
    old_wmo, closed_at = await closed_client(world, "Gerrit Wmo", "wmo_2015", 1)
    old_youth, _ = await closed_client(world, "Sanne Jeugd", "jeugdwet", 2)
    open_file = (await world.create_client(name="Open Dossier"))["id"]
    world.clock.advance(timedelta(days=365 * 3))
    recent, _ = await closed_client(world, "Later Gesloten", "wmo_2015", 3)
    service = world.app[RETENTION]

    fifteen_years = closed_at.replace(year=closed_at.year + 15)
    world.clock.advance(fifteen_years - timedelta(seconds=1) - world.clock.now())
    assert await service.report() == []
    world.clock.advance(timedelta(seconds=1))
    assert [str(d.client_id) for d in await service.report()] == [old_wmo]
    world.clock.advance(timedelta(days=365 * 2))  # 17 years: the Jeugdwet file is still kept
    assert [str(d.client_id) for d in await service.report()] == [old_wmo]

    listed = await world.http.get("/api/v1/retention/due", headers=world.headers("ingrid"))
    assert listed.status == 200, await listed.text()
    body = await listed.json()
    assert [(i["client_id"], i["legal_basis"]) for i in body["items"]] == [(old_wmo, "wmo_2015")]
    assert body["periods"] == {"wmo_2015": 15, "jeugdwet": 20, "wgbo": 20}
    assert "name" not in str(body)
    searched = await world.audit(event="search", object_type="retention")
    assert [(str(r.client_id), r.actor, r.detail["basis"]) for r in searched] == [
        (old_wmo, subject("ingrid"), "privacy_officer")
    ]
    for who in ("anouk", "femke", "joost"):
        refused = await world.http.get("/api/v1/retention/due", headers=world.headers(who))
        assert refused.status == 403, who
    metrics = await world.http.get("/metrics")
    assert "beeldbel_files_past_retention 1.0" in await metrics.text()

    # Deleting is explicit, for the privacy officer, and only of a file that is due.
    for who in ("anouk", "femke", "joost"):
        refused = await world.http.delete(f"/api/v1/clients/{old_wmo}", headers=world.headers(who))
        assert refused.status == 403, who
    for kept in (old_youth, recent, open_file):
        refused = await world.http.delete(
            f"/api/v1/clients/{kept}", headers=world.headers("ingrid")
        )
        assert refused.status == 409, kept
    assert sum((await rows_naming(world, old_wmo)).values()) > 3
    deleted = await world.http.delete(f"/api/v1/clients/{old_wmo}", headers=world.headers("ingrid"))
    assert deleted.status == 204, await deleted.text()
    assert set((await rows_naming(world, old_wmo)).values()) == {0}
    assert sum((await rows_naming(world, old_youth)).values()) > 3  # others untouched
    entries = await world.audit(event="delete")
    assert [(str(e.client_id), e.actor, e.detail["legal_basis"]) for e in entries] == [
        (old_wmo, subject("ingrid"), "wmo_2015")
    ]
    assert await service.report() == []
    again = await world.http.delete(f"/api/v1/clients/{old_wmo}", headers=world.headers("ingrid"))
    assert again.status == 404
