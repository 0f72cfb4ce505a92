"""Acceptance: `alembic upgrade head` works on empty SQLite and PostgreSQL databases,
and the schema it makes matches the models."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from beeldbel.db import tables  # noqa: F401  (registers the tables)
from beeldbel.db.base import metadata
from beeldbel.db.engine import Database
from beeldbel.db.migrate import head_revisions
from tests.conftest import create_pg_database, drop_pg_database, pg_database_url, run_async

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = run_async(create_pg_database())
    try:
        yield pg_database_url(name)
    finally:
        run_async(drop_pg_database(name))


def alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"BEELDBEL_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def differences(url: str) -> list[object]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:

            def diff(sync: Connection) -> list[object]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return list(compare_metadata(context, metadata))

            return await connection.run_sync(diff)
    finally:
        await db.dispose()


async def table_names(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await db.dispose()


async def test_alembic_upgrade_head_on_empty_database_matches_models(
    backend: str, empty_database_url: str
) -> None:
    result = alembic(empty_database_url, "upgrade", "head")
    assert result.returncode == 0, result.stderr
    assert await differences(empty_database_url) == []
    current = alembic(empty_database_url, "current")
    assert set(current.stdout.split()) >= head_revisions()


async def test_every_migration_downgrades_and_upgrades_again(
    backend: str, empty_database_url: str
) -> None:
    assert alembic(empty_database_url, "upgrade", "head").returncode == 0
    down = alembic(empty_database_url, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert await table_names(empty_database_url) <= {"alembic_version"}
    assert alembic(empty_database_url, "upgrade", "head").returncode == 0
    assert await differences(empty_database_url) == []


async def test_a_model_change_without_migration_is_detected(
    backend: str, empty_database_url: str
) -> None:
    """The comparison itself can fail: a column added to the models only shows up."""
    from sqlalchemy import Column, Integer, MetaData, Table

    assert alembic(empty_database_url, "upgrade", "head").returncode == 0
    extra = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(extra)
    Table("teams", extra, Column("unmigrated", Integer), extend_existing=True)
    db = Database(empty_database_url)
    try:
        async with db.engine.connect() as connection:

            def diff(sync: Connection) -> list[object]:
                return list(compare_metadata(MigrationContext.configure(sync), extra))

            found = await connection.run_sync(diff)
    finally:
        await db.dispose()
    assert any("unmigrated" in repr(item) for item in found)
