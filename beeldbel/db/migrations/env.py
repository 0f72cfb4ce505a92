"""Alembic environment: one set of migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import context
from sqlalchemy import Connection

from beeldbel.db import tables  # noqa: F401  (registers every table on the metadata)
from beeldbel.db.base import metadata
from beeldbel.db.engine import Database
from beeldbel.settings import load_settings

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or load_settings().effective_database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # Our SQLite connections run DDL inside BEGIN IMMEDIATE, so a failed
        # migration rolls back on SQLite as it does on PostgreSQL.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    db = Database(_url())
    if db.dialect == "sqlite" and db.engine.url.database:
        Path(db.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await db.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
asyncio.run(_run_online())
