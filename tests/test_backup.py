"""Acceptance: `beeldbel backup` then `beeldbel restore` into a new data directory gives a
service with the same data. Plus every refusal of backup and restore."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from beeldbel.app import create_app
from beeldbel.db import backup as backup_module
from beeldbel.identity.model import Role
from beeldbel.settings import load_settings
from tests.conftest import PG_URL, auth, token_for

EXIT_USAGE = 2
DATABASE = "beeldbel.sqlite3"

Row = tuple[Any, ...]


def run_beeldbel(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")}
    return subprocess.run(
        [sys.executable, "-m", "beeldbel", *args],
        cwd=data_dir.parent,
        env=clean | {"BEELDBEL_DATA_DIR": str(data_dir), "BEELDBEL_LOG_FORMAT": "console"} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def beeldbel_ok(*args: str, data_dir: Path) -> None:
    result = run_beeldbel(*args, data_dir=data_dir)
    assert result.returncode == 0, result.stderr


def assert_usage_error(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr


def team_rows(database: Path) -> list[Row]:
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute(
            "SELECT id, name, municipalities, created_at, updated_at, version FROM teams"
            " ORDER BY id"
        ).fetchall()


def kept_aside(data_dir: Path) -> list[Path]:
    """The databases a forced restore put aside (not their -wal and -shm companions)."""
    return sorted(
        path
        for path in data_dir.glob(f"{DATABASE}.before-restore-*")
        if not path.name.endswith(("-wal", "-shm"))
    )


@pytest.fixture
def demo_backup(tmp_path: Path) -> tuple[Path, list[Row]]:
    """A backup of a demo data directory, and the team rows it holds."""
    source = tmp_path / "source"
    beeldbel_ok("demo", data_dir=source)
    backup_file = tmp_path / "backups" / "beeldbel-backup.sqlite3"
    beeldbel_ok("backup", str(backup_file), data_dir=source)
    return backup_file, team_rows(source / DATABASE)


# The acceptance point -----------------------------------------------------------------


async def all_teams(client: TestClient) -> list[dict[str, Any]]:
    headers = auth(token_for(client, Role.ADMIN, subject="staff:admin"))
    teams: list[dict[str, Any]] = []
    params = {"limit": "2"}  # small pages: the walk crosses page boundaries
    while True:
        response = await client.get("/api/v1/teams", params=params, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        teams += page["items"]
        if page["next_cursor"] is None:
            return teams
        params = {"limit": "2", "cursor": page["next_cursor"]}


async def test_backup_then_restore_into_a_new_data_directory_serves_the_same_teams(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    backup_file = tmp_path / "backups" / "beeldbel-backup.sqlite3"
    await asyncio.to_thread(beeldbel_ok, "demo", data_dir=source)

    running = await aiohttp_client(create_app(load_settings(data_dir=source)))
    headers = auth(token_for(running, Role.ADMIN, subject="staff:admin"))
    created = await running.post(
        "/api/v1/teams",
        json={"name": "Wijkteam Enschede-Zuid", "municipalities": ["Enschede"]},
        headers=headers,
    )
    assert created.status == 201, await created.text()
    team_id = (await created.json())["id"]
    changed = await running.patch(
        f"/api/v1/teams/{team_id}",
        json={"version": 1, "municipalities": ["Enschede", "Haaksbergen"]},
        headers=headers,
    )
    assert changed.status == 200, await changed.text()
    before = await all_teams(running)
    assert len(before) == 4
    assert {"id": team_id, "version": 2}.items() <= next(
        team for team in before if team["id"] == team_id
    ).items()

    # The service on A keeps running while it is backed up.
    await asyncio.to_thread(beeldbel_ok, "backup", str(backup_file), data_dir=source)
    await asyncio.to_thread(beeldbel_ok, "restore", str(backup_file), data_dir=target)

    restored = await aiohttp_client(create_app(load_settings(data_dir=target)))
    after = await all_teams(restored)
    assert after == before
    assert {(t["id"], t["name"], tuple(t["municipalities"]), t["version"]) for t in after} == {
        (t["id"], t["name"], tuple(t["municipalities"]), t["version"]) for t in before
    }


def test_backup_during_an_open_write_transaction_restores_the_last_committed_state(
    tmp_path: Path,
) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    backup_file = tmp_path / "backup.sqlite3"
    beeldbel_ok("demo", data_dir=source)
    committed = team_rows(source / DATABASE)

    writer = sqlite3.connect(source / DATABASE, isolation_level=None)
    try:
        writer.execute("PRAGMA cache_size=8")  # a tiny cache: uncommitted pages spill to the WAL
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE teams SET name = name || ' (hernoemd)', version = version + 1")
        writer.execute("DELETE FROM teams WHERE name LIKE 'Wijkteam Twenterand%'")
        writer.execute("CREATE TABLE ballast (data BLOB)")
        writer.executemany(
            "INSERT INTO ballast VALUES (randomblob(4000))", [() for _ in range(500)]
        )
        result = run_beeldbel("backup", str(backup_file), data_dir=source)
        assert result.returncode == 0, result.stderr
        writer.execute("COMMIT")  # the transaction was real: it commits after the backup
    finally:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        writer.close()
    assert team_rows(source / DATABASE) != committed

    beeldbel_ok("restore", str(backup_file), data_dir=target)
    with closing(sqlite3.connect(target / DATABASE)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "ballast" not in tables
    assert team_rows(target / DATABASE) == committed


# Restore over an existing database ----------------------------------------------------


def test_restore_refuses_to_replace_an_existing_database_without_force(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]]
) -> None:
    backup_file, _ = demo_backup
    target = tmp_path / "target"
    beeldbel_ok("demo", data_dir=target)
    existing = team_rows(target / DATABASE)

    result = run_beeldbel("restore", str(backup_file), data_dir=target)

    assert_usage_error(result, str(target / DATABASE), "--force")
    assert team_rows(target / DATABASE) == existing
    assert kept_aside(target) == []


def test_restore_with_force_replaces_the_database_and_keeps_the_old_one_aside(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]]
) -> None:
    backup_file, backed_up = demo_backup
    target = tmp_path / "target"
    beeldbel_ok("demo", data_dir=target)
    existing = team_rows(target / DATABASE)
    assert existing != backed_up  # same demo names, other ids

    beeldbel_ok("restore", "--force", str(backup_file), data_dir=target)

    assert team_rows(target / DATABASE) == backed_up
    [aside] = kept_aside(target)
    assert team_rows(aside) == existing


CRASH_AFTER_COMMIT = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute(sys.argv[2])
os._exit(0)  # no close, no checkpoint: the committed change lives only in the -wal file
"""


def test_forced_restore_keeps_changes_still_in_the_write_ahead_log_with_the_old_database(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]]
) -> None:
    backup_file, _ = demo_backup
    target = tmp_path / "target"
    beeldbel_ok("demo", data_dir=target)
    expected = [(*row[:-1], row[-1] + 1) for row in team_rows(target / DATABASE)]
    subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_AFTER_COMMIT,
            str(target / DATABASE),
            "UPDATE teams SET version = version + 1",
        ],
        check=True,
        timeout=60,
    )
    assert (target / f"{DATABASE}-wal").stat().st_size > 0

    beeldbel_ok("restore", "--force", str(backup_file), data_dir=target)

    [aside] = kept_aside(target)
    assert team_rows(aside) == expected


def test_restore_does_not_pair_the_backup_with_a_write_ahead_log_left_without_its_database(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]]
) -> None:
    backup_file, backed_up = demo_backup
    target = tmp_path / "target"
    beeldbel_ok("demo", data_dir=target)
    subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_AFTER_COMMIT,
            str(target / DATABASE),
            "UPDATE teams SET name = 'Verweesd ' || name, version = 42",
        ],
        check=True,
        timeout=60,
    )
    (target / DATABASE).unlink()  # the database is gone, its -wal and -shm are not
    assert (target / f"{DATABASE}-wal").exists()

    beeldbel_ok("restore", str(backup_file), data_dir=target)

    with closing(sqlite3.connect(target / DATABASE)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert team_rows(target / DATABASE) == backed_up


def test_two_forced_restores_in_one_second_keep_both_old_databases(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]], monkeypatch: pytest.MonkeyPatch
) -> None:
    backup_file, backed_up = demo_backup
    target = tmp_path / "target"
    beeldbel_ok("demo", data_dir=target)
    existing = team_rows(target / DATABASE)
    monkeypatch.setattr(backup_module, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    settings = load_settings(data_dir=target)

    backup_module.restore(settings, backup_file, force=True)
    backup_module.restore(settings, backup_file, force=True)

    aside = kept_aside(target)
    assert len(aside) == 2
    assert sorted(team_rows(path) for path in aside) == sorted([existing, backed_up])


# Files that are not backups -----------------------------------------------------------


def make_not_sqlite(path: Path, template: Path) -> None:
    path.write_text("Dit is geen database.\n" * 200)


def make_sqlite_without_alembic_version(path: Path, template: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE teams (id TEXT PRIMARY KEY, name TEXT)")
        conn.commit()


def make_empty_alembic_version(path: Path, template: Path) -> None:
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM alembic_version")
        conn.commit()


def make_newer_schema(path: Path, template: Path) -> None:
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        conn.commit()


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (make_not_sqlite, "is not a Beeldbel backup"),
        (make_sqlite_without_alembic_version, "is not a Beeldbel backup"),
        (make_empty_alembic_version, "no schema version"),
        (make_newer_schema, "comes from a newer Beeldbel (schema 9999_from_the_future)"),
    ],
)
def test_restore_of_a_file_that_is_not_a_usable_backup_exits_2_and_writes_nothing(
    tmp_path: Path, sqlite_template: Path, make: Any, phrase: str
) -> None:
    candidate = tmp_path / "candidate.sqlite3"
    make(candidate, sqlite_template)
    target = tmp_path / "target"

    result = run_beeldbel("restore", str(candidate), data_dir=target)

    assert_usage_error(result, str(candidate), phrase)
    assert not (target / DATABASE).exists()


def test_restore_reads_a_backup_whose_name_has_uri_characters(
    tmp_path: Path, demo_backup: tuple[Path, list[Row]]
) -> None:
    backup_file, backed_up = demo_backup
    odd = backup_file.with_name("backup #2 ?mode=rw 100%.sqlite3")
    shutil.copyfile(backup_file, odd)
    target = tmp_path / "target"

    beeldbel_ok("restore", str(odd), data_dir=target)

    assert team_rows(target / DATABASE) == backed_up
    assert sorted(p.name for p in odd.parent.iterdir()) == sorted([backup_file.name, odd.name])


def test_restore_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    result = run_beeldbel("restore", str(missing), data_dir=tmp_path / "target")
    assert_usage_error(result, str(missing))


# Backup refusals ----------------------------------------------------------------------


def test_backup_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    beeldbel_ok("demo", data_dir=source)
    existing = tmp_path / "earlier-backup.sqlite3"
    existing.write_bytes(b"an earlier backup, to be kept")

    result = run_beeldbel("backup", str(existing), data_dir=source)

    assert_usage_error(result, str(existing), "exists already")
    assert existing.read_bytes() == b"an earlier backup, to be kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, existing.name])


def test_backup_without_a_database_exits_2(tmp_path: Path) -> None:
    backup_file = tmp_path / "backup.sqlite3"
    result = run_beeldbel("backup", str(backup_file), data_dir=tmp_path / "empty")
    assert_usage_error(result, "no database to back up")
    assert not backup_file.exists()


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_with_postgresql_exit_2_pointing_at_pg_dump(
    tmp_path: Path, sqlite_template: Path, command: str
) -> None:
    backup_file = tmp_path / "backup.sqlite3"
    if command == "restore":
        shutil.copyfile(sqlite_template, backup_file)
    data_dir = tmp_path / "data"

    result = run_beeldbel(
        command, str(backup_file), data_dir=data_dir, BEELDBEL_DATABASE_URL=PG_URL
    )

    assert_usage_error(result, "pg_dump", "PostgreSQL")
    assert backup_file.exists() == (command == "restore")
    assert not data_dir.exists()
