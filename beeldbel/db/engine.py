"""The engine and the unit of work.

One unit of work per use case: ``async with db.transaction() as session:`` opens a
session, begins a transaction, commits on success and rolls back on error. A session
is never shared between tasks.

SQLite runs with WAL, foreign keys on, and ``BEGIN IMMEDIATE`` for every writing
transaction: two of them can never interleave their read-then-write, which is how
SQLite keeps the invariants PostgreSQL keeps with constraints. A unit of work opened
with ``read_only=True`` begins a plain (deferred) transaction on SQLite, so readers
never wait for the write lock, and a READ ONLY transaction on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from beeldbel.settings import Settings

__all__ = ["Database"]

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "beeldbel_read_only"


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """Owns the engine; hands out units of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Read-only units of work use the same pool through an engine that carries the
        # option on every connection (cheaper than setting it per transaction).
        read_only: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            read_only["postgresql_readonly"] = True
        self._read_sessions = async_sessionmaker(
            self.engine.execution_options(**read_only), expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.effective_database_url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit if the block succeeds, roll back if it raises."""
        sessions = self._read_sessions if read_only else self._sessions
        async with sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
