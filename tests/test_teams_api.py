"""The teams API: the first resource, and the template every later one copies."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import auth, token_for


async def create(client: TestClient, headers: dict[str, str], name: str, *munis: str) -> dict:
    response = await client.post(
        "/api/v1/teams",
        json={"name": name, "municipalities": list(munis) or ["Losser"]},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def test_admin_creates_team_and_everyone_on_staff_reads_it(
    backend: str, client: TestClient, admin_headers: dict, worker_headers: dict
) -> None:
    team = await create(client, admin_headers, "  Wijkteam   Losser ", "Losser", "losser")
    assert team["name"] == "Wijkteam Losser"
    assert team["municipalities"] == ["Losser"]
    response = await client.get(f"/api/v1/teams/{team['id']}", headers=worker_headers)
    assert response.status == 200
    assert await response.json() == team


async def test_worker_may_not_create_a_team(client: TestClient, worker_headers: dict) -> None:
    response = await client.post(
        "/api/v1/teams", json={"name": "X", "municipalities": ["Almelo"]}, headers=worker_headers
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


async def test_second_team_with_same_name_conflicts_naming_the_first(
    backend: str, client: TestClient, admin_headers: dict
) -> None:
    first = await create(client, admin_headers, "Wijkteam Almelo", "Almelo")
    response = await client.post(
        "/api/v1/teams",
        json={"name": "wijkteam  ALMELO", "municipalities": ["Almelo"]},
        headers=admin_headers,
    )
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "conflict"
    assert error["details"]["conflicting_id"] == first["id"]


async def test_concurrent_creates_of_one_name_give_one_team(
    backend: str, client: TestClient, admin_headers: dict
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/teams",
                json={"name": "Wijkteam Rijssen", "municipalities": ["Rijssen"]},
                headers=admin_headers,
            )
            for _ in range(8)
        )
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 7
    listing = await (await client.get("/api/v1/teams", headers=admin_headers)).json()
    assert [t["name"] for t in listing["items"]] == ["Wijkteam Rijssen"]


async def test_stale_version_is_refused_and_fresh_one_applies(
    backend: str, client: TestClient, admin_headers: dict
) -> None:
    team = await create(client, admin_headers, "Wijkteam Oldenzaal", "Oldenzaal")
    url = f"/api/v1/teams/{team['id']}"
    renamed = await client.patch(
        url, json={"version": 1, "name": "Wijkteam Oldenzaal-Noord"}, headers=admin_headers
    )
    assert renamed.status == 200
    assert (await renamed.json())["version"] == 2
    stale = await client.patch(
        url, json={"version": 1, "name": "Wijkteam Oldenzaal-Zuid"}, headers=admin_headers
    )
    assert stale.status == 409
    error = (await stale.json())["error"]
    assert error["code"] == "stale_version"
    assert error["details"]["current_version"] == 2
    current = await (await client.get(url, headers=admin_headers)).json()
    assert current["name"] == "Wijkteam Oldenzaal-Noord"


async def test_concurrent_patches_of_one_version_let_exactly_one_win(
    backend: str, client: TestClient, admin_headers: dict
) -> None:
    team = await create(client, admin_headers, "Wijkteam Haaksbergen", "Haaksbergen")
    url = f"/api/v1/teams/{team['id']}"
    responses = await asyncio.gather(
        *(
            client.patch(
                url, json={"version": 1, "name": f"Wijkteam Haaksbergen {i}"}, headers=admin_headers
            )
            for i in range(6)
        )
    )
    assert sorted(r.status for r in responses) == [200] + [409] * 5
    current = await (await client.get(url, headers=admin_headers)).json()
    assert current["version"] == 2


async def test_missing_team_is_404_and_malformed_id_too(
    client: TestClient, worker_headers: dict
) -> None:
    missing = await client.get(
        "/api/v1/teams/00000000-0000-4000-8000-000000000000", headers=worker_headers
    )
    assert missing.status == 404
    malformed = await client.get("/api/v1/teams/not-a-uuid", headers=worker_headers)
    assert malformed.status == 404
    assert (await malformed.json())["error"]["code"] == "not_found"


async def test_pages_walk_every_team_once_in_creation_order(
    backend: str, client: TestClient, admin_headers: dict
) -> None:
    names = [f"Wijkteam {i:02d}" for i in range(7)]
    for name in names:
        await create(client, admin_headers, name)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = await (
            await client.get("/api/v1/teams", params=params, headers=admin_headers)
        ).json()
        seen += [t["name"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    assert pages == 3


@pytest.mark.parametrize("cursor", ["garbage", "eyJ0IjoxfQ", "!!!", "e30"])
async def test_a_forged_cursor_is_a_422(
    client: TestClient, worker_headers: dict, cursor: str
) -> None:
    response = await client.get("/api/v1/teams", params={"cursor": cursor}, headers=worker_headers)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "cursor"


async def test_token_for_another_audience_or_kind_is_refused(client: TestClient) -> None:
    from beeldbel.identity.model import PrincipalKind, Role

    device = token_for(client, Role.ADMIN, kind=PrincipalKind.DEVICE)
    response = await client.get("/api/v1/teams", headers=auth(device))
    assert response.status == 403
    response = await client.get("/api/v1/teams", headers=auth("not.a.jwt"))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_read_only_units_of_work_refuse_writes(backend: str, settings) -> None:  # type: ignore[no-untyped-def]
    """Reads take no write lock on SQLite and are READ ONLY on PostgreSQL: a write fails."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from beeldbel.db.engine import Database

    db = Database(settings.effective_database_url)
    try:
        async with db.transaction(read_only=True) as session:
            assert await session.scalar(text("SELECT count(*) FROM teams")) == 0
        if backend == "postgresql":
            with pytest.raises(DBAPIError, match="read-only"):
                async with db.transaction(read_only=True) as session:
                    await session.execute(text("DELETE FROM teams"))
        else:
            # A writer holds the lock; a reader still reads at once (WAL), not after it.
            async with db.transaction() as writer:
                await writer.execute(text("DELETE FROM teams"))
                async with db.transaction(read_only=True) as reader:
                    assert await reader.scalar(text("SELECT count(*) FROM teams")) == 0
    finally:
        await db.dispose()
