"""Backup and restore of the embedded SQLite database.

A backup is one SQLite file made with SQLite's online backup API, so it is
consistent even while the service runs. Restore checks the file (integrity, that it
is a Beeldbel database, that this version knows its schema), puts it in place and
migrates it to the current schema. PostgreSQL users use pg_dump and pg_restore.
Signing keys are not in the backup: they are secrets and are kept apart (``keys/``).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from beeldbel.db.migrate import alembic_config, upgrade
from beeldbel.settings import Settings

__all__ = ["BackupError", "backup", "restore"]


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


def _require_sqlite(settings: Settings) -> None:
    if not settings.is_sqlite:
        raise BackupError(
            "backup and restore handle the embedded SQLite database only; "
            "for PostgreSQL use pg_dump and pg_restore (see the README)"
        )


def backup(settings: Settings, destination: Path) -> Path:
    """Write a consistent copy of the database to ``destination``; returns the path."""
    _require_sqlite(settings)
    source = settings.sqlite_path
    if not source.is_file():
        raise BackupError(f"there is no database to back up at {source}")
    if destination.exists():
        raise BackupError(f"{destination} exists already; choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    partial.rename(destination)
    return destination


def _check(candidate: Path) -> str:
    try:
        # as_uri() percent-encodes the path: a '#' or '?' in a file name stays in the name.
        uri = f"{candidate.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
            if integrity != "ok":
                raise BackupError(f"{candidate} is damaged: {integrity}")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{candidate} is not a Beeldbel backup ({exc})") from None
    if row is None:
        raise BackupError(f"{candidate} is not a Beeldbel backup (no schema version)")
    revision = str(row[0])
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    try:
        known = scripts.get_revision(revision) is not None
    except CommandError:  # Alembic raises for a revision it has never heard of
        known = False
    if not known:
        raise BackupError(
            f"{candidate} comes from a newer Beeldbel (schema {revision}); upgrade Beeldbel first"
        )
    return revision


def restore(settings: Settings, source: Path, *, force: bool = False) -> Path:
    """Make ``source`` the database of ``settings``' data directory, migrated to the current schema.

    Refuses to replace an existing database unless ``force``; a replaced database is
    kept beside it as ``beeldbel.sqlite3.before-restore-<time>``, with its ``-wal`` file.
    """
    _require_sqlite(settings)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    try:
        _check(source)
    except Exception as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"{source} is not a Beeldbel backup ({exc})") from None
    target = settings.sqlite_path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not force:
        raise BackupError(
            f"{target} exists; stop the service and restore with --force to replace it"
        )
    companions = {suffix: Path(f"{target}{suffix}") for suffix in ("-wal", "-shm")}
    if target.exists() or any(path.exists() for path in companions.values()):
        stamp = f"{target.name}.before-restore-{int(time.time())}"
        aside, count = target.with_name(stamp), 1
        while aside.exists():  # two restores in one second must not lose the first copy
            aside, count = target.with_name(f"{stamp}-{count}"), count + 1
        if target.exists():
            target.rename(aside)
        # The write-ahead log may hold committed changes: it goes along with its database.
        # Left behind, SQLite would replay it into the restored database and corrupt it.
        for suffix, companion in companions.items():
            if companion.exists():
                companion.rename(Path(f"{aside}{suffix}"))
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    partial.rename(target)
    upgrade(settings.effective_database_url)
    return target
