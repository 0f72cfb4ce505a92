"""Behind a TLS proxy the per-address limit counts the real client, and cannot be fooled."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from beeldbel.app import create_app
from beeldbel.settings import load_settings


async def make_client(aiohttp_client, tmp_path: Path, database_url: str, trusted: list[str]):  # type: ignore[no-untyped-def]
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        rate_limit_per_address=1,  # one request a minute, no burst
        trusted_proxies=trusted,
    )
    return await aiohttp_client(create_app(settings))


async def get(client: TestClient, forwarded: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return (await client.get("/api/openapi.json", headers=headers)).status


async def test_without_trusted_proxies_forwarded_for_is_ignored(
    aiohttp_client, tmp_path: Path, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(aiohttp_client, tmp_path, database_url, [])
    assert await get(client, "198.51.100.1") == 200
    assert await get(client, "198.51.100.2") == 429  # same peer, same budget


async def test_behind_a_trusted_proxy_each_client_has_its_own_budget(
    aiohttp_client, tmp_path: Path, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(aiohttp_client, tmp_path, database_url, ["127.0.0.0/8"])
    assert await get(client, "198.51.100.1") == 200
    assert await get(client, "198.51.100.2") == 200
    assert await get(client, "198.51.100.1") == 429


async def test_a_client_cannot_choose_its_address_by_prepending_to_the_header(
    aiohttp_client, tmp_path: Path, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    client = await make_client(aiohttp_client, tmp_path, database_url, ["127.0.0.0/8"])
    assert await get(client, "198.51.100.7") == 200
    # The proxy appends the real address; whatever the client wrote before it is ignored.
    assert await get(client, "203.0.113.9, 198.51.100.7") == 429
    assert await get(client, "garbage, 198.51.100.8") == 200
