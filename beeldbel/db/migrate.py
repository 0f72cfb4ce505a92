"""Alembic, driven from code: the schema changes only through these migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from beeldbel.db.engine import Database

__all__ = ["alembic_config", "current_revisions", "head_revisions", "upgrade", "upgrade_async"]

SCRIPT_LOCATION = "beeldbel:db/migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # '%' is Alembic's interpolation character; a password may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def head_revisions(url: str = "sqlite+aiosqlite://") -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision``. Blocking: call from a thread in async code."""
    command.upgrade(alembic_config(url), revision)


async def current_revisions(db: Database) -> frozenset[str]:
    def _read(connection: Connection) -> Iterable[str]:
        return MigrationContext.configure(connection).get_current_heads()

    async with db.engine.connect() as connection:
        return frozenset(await connection.run_sync(_read))


async def upgrade_async(url: str, revision: str = "heads") -> None:
    await asyncio.to_thread(upgrade, url, revision)
