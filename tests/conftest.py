"""Shared fixtures: fresh databases (SQLite and PostgreSQL), settings, the app, tokens.

PostgreSQL is real (``BEELDBEL_TEST_POSTGRES_URL``, default the local server's ``test``
database); each test gets its own database cloned from a migrated template, so tests
never see each other's rows. A missing server fails the PostgreSQL tests: it is never
a silent skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import hypothesis
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from beeldbel.app import create_app
from beeldbel.clock import FixedClock, SystemClock
from beeldbel.db.migrate import upgrade
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.settings import Settings, load_settings

# These machines are shared and noisy: a property test must fail on a wrong answer, never on
# how long generating its inputs took. (Timing claims live in bench/.)
hypothesis.settings.register_profile(
    "beeldbel", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("beeldbel")

PG_URL = os.environ.get(
    "BEELDBEL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")

T = TypeVar("T")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(PG_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def pg_database_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def create_pg_database(template: str | None = None) -> str:
    name = f"bb_test_{uuid.uuid4().hex[:12]}"
    suffix = f" TEMPLATE {template}" if template else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{suffix}')
    return name


async def drop_pg_database(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "beeldbel.sqlite3"
    in_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    return path


def in_thread(function: Callable[..., T], *args: object) -> T:
    """Run blocking or ``asyncio.run`` code from anywhere, even inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def run_async(coroutine: Coroutine[object, object, T]) -> T:
    return in_thread(asyncio.run, coroutine)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = run_async(create_pg_database())
    try:
        in_thread(upgrade, pg_database_url(name))
        yield name
    finally:
        run_async(drop_pg_database(name))


@pytest.fixture(scope="session")
def spent_pg_databases() -> Iterator[list[str]]:
    """Per-test PostgreSQL databases still to drop; the last ones go at the session's end."""
    spent: list[str] = []
    yield spent
    for name in spent:
        run_async(drop_pg_database(name))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both databases; the PostgreSQL run is marked."""
    value: str = request.param
    if value == "postgresql":
        request.applymarker(pytest.mark.postgres)
    return value


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database of the test's backend (SQLite unless ``backend`` is used)."""
    chosen = request.getfixturevalue("backend") if "backend" in request.fixturenames else "sqlite"
    if chosen == "sqlite":
        target = tmp_path / "data" / "beeldbel.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = request.getfixturevalue("pg_template")
    spent: list[str] = request.getfixturevalue("spent_pg_databases")
    # Drop the databases of earlier tests now, when their apps have surely closed their
    # connections: dropping at this test's own teardown could come before its app's
    # (fixture order), and asyncpg then waits 5 s on each connection the drop killed.
    while spent:
        run_async(drop_pg_database(spent.pop()))
    name = run_async(create_pg_database(template))
    spent.append(name)
    yield pg_database_url(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        log_format="console",
    )


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


@pytest.fixture
async def client(aiohttp_client, settings: Settings, clock: SystemClock) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, clock=clock))


def token_for(
    client: TestClient,
    *roles: Role,
    subject: str | None = None,
    kind: PrincipalKind = PrincipalKind.STAFF,
    second_factor: bool = True,
) -> str:
    from beeldbel.api import appkeys

    app = client.app
    assert app is not None
    principal = Principal(
        subject or f"staff:{uuid.uuid4()}", kind, frozenset(roles), second_factor=second_factor
    )
    return app[appkeys.TOKENS].issue(principal, app[appkeys.CLOCK].now())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_headers(client: TestClient) -> dict[str, str]:
    return auth(token_for(client, Role.ADMIN, subject="staff:admin"))


@pytest.fixture
def worker_headers(client: TestClient) -> dict[str, str]:
    return auth(token_for(client, Role.WORKER, subject="staff:worker"))


@pytest.fixture
async def peers() -> AsyncIterator[Callable[[], Any]]:
    """Makes Socket.IO participants (``tests.signaling_support.Peer``), closed at the end."""
    from tests.signaling_support import Peer

    made: list[Peer] = []

    def make() -> Peer:
        peer = Peer()
        made.append(peer)
        return peer

    yield make
    for peer in made:
        await peer.close()
