"""What the API edge costs per request, against a baseline measured in the same run.

Serves the app on loopback (SQLite in a temporary directory) and times sequential
requests from one client:

- baseline: GET /healthz (routing and middleware only: no limit, no token, no database)
- read:     GET /api/v1/teams/{id} (rate limits, token, path validation, one SELECT)
- create:   POST /api/v1/teams (body validation, one INSERT, commit)
- replay:   POST with a used Idempotency-Key (claim lookup and stored answer)

Prints one JSON object: p50/p95 in milliseconds per kind and each kind's p50 as a
multiple of the baseline's. Usage: python bench/api_edge.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from beeldbel.api import appkeys
from beeldbel.app import create_app
from beeldbel.db.migrate import upgrade
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.ops.logging import configure_logging
from beeldbel.settings import load_settings


async def timed(n: int, send: Callable[[int], Awaitable[int]]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        status = await send(i)
        samples.append((time.perf_counter() - started) * 1000)
        assert status < 300, status
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
    }


async def main(requests: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            log_level="warning",
            rate_limit_per_address=10**6,
            rate_limit_per_principal=10**6,
        )
        configure_logging(settings)
        await asyncio.to_thread(upgrade, settings.effective_database_url)
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        token = app[appkeys.TOKENS].issue(
            Principal("staff:bench", PrincipalKind.STAFF, frozenset({Role.ADMIN})),
            app[appkeys.CLOCK].now(),
        )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with aiohttp.ClientSession(base) as http:

                async def get(path: str) -> int:
                    async with http.get(path, headers=headers) as response:
                        await response.read()
                        return response.status

                async def post(i: int, key: str | None = None) -> int:
                    body = {"name": f"Wijkteam {i}", "municipalities": ["Almelo"]}
                    extra = {"Idempotency-Key": key} if key else {}
                    async with http.post(
                        "/api/v1/teams", json=body, headers=headers | extra
                    ) as response:
                        await response.read()
                        return response.status

                await timed(50, lambda i: get("/healthz"))  # warm up
                results = {"baseline": await timed(requests, lambda i: get("/healthz"))}
                results["create"] = await timed(requests, lambda i: post(i))
                async with http.get("/api/v1/teams?limit=1", headers=headers) as response:
                    team_id = (await response.json())["items"][0]["id"]
                results["read"] = await timed(requests, lambda i: get(f"/api/v1/teams/{team_id}"))
                await post(10**6, key="bench-replay")
                results["replay"] = await timed(requests, lambda i: post(10**6, key="bench-replay"))
        finally:
            await runner.cleanup()
    base_p50 = statistics.median(results["baseline"])
    return {
        "benchmark": "api_edge",
        "requests_per_kind": requests,
        "database": "sqlite",
        "results": {
            kind: summary(samples)
            | {"p50_vs_baseline": round(statistics.median(samples) / base_p50, 2)}
            for kind, samples in results.items()
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    print(json.dumps(asyncio.run(main(parser.parse_args().requests)), indent=2))
