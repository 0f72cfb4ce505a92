"""The audit log in the database: sealing in commit order, append-only triggers,
`beeldbel audit verify` against an attacker with database access, and retention.

Acceptance (6): verify passes on an untouched log and fails, naming the place, after
editing a middle entry, deleting the last entries and recomputing the whole chain
without the key, on SQLite and PostgreSQL. The attacker here has database superuser
rights: they switch the append-only triggers off first, which is why the chain exists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from beeldbel.audit import chain
from beeldbel.audit.cli import run_audit
from beeldbel.audit.files import AuditKeyError
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.sealing import AuditChain, entry_values
from beeldbel.audit.service import AuditLog
from beeldbel.clock import FixedClock, SystemClock
from beeldbel.db.engine import Database
from beeldbel.db.tables.audit import AuditChainRow, AuditEntryRow
from beeldbel.errors import Conflict, InvalidInput
from beeldbel.settings import Settings
from tests.conftest import in_thread

ROOT = Path(__file__).resolve().parent.parent
ATTACKER_KEY = bytes(range(100, 132))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


def make_chain(db: Database, settings: Settings, clock: object | None = None) -> AuditChain:
    return AuditChain(
        db,
        clock or SystemClock(),  # type: ignore[arg-type]
        key_file=settings.effective_audit_key_file,
        anchor_file=settings.effective_audit_anchor_file,
    )


def record(n: int, client_id: UUID | None = None) -> AuditRecord:
    return AuditRecord(
        event=AuditEvent.READ,
        outcome=Outcome.SUCCESS,
        actor=f"staff:worker-{n}",
        client_id=client_id or uuid4(),
        object_type="client",
        object_id=str(n),
        detail={"basis": "care_team"},
    )


async def write_and_seal(db: Database, settings: Settings, count: int, rounds: int = 3) -> None:
    """``count`` entries, sealed in ``rounds`` seals (so the anchor holds several heads)."""
    log = AuditLog(db, SystemClock())
    sealer = make_chain(db, settings)
    per_round = -(-count // rounds)
    for n in range(count):
        await log.append_alone(record(n))
        if (n + 1) % per_round == 0:
            await sealer.seal()
    await sealer.seal()


async def as_attacker(db: Database, backend: str, *statements: str) -> None:
    """Raw SQL by someone with database superuser rights: triggers off, then the edits."""
    async with db.engine.begin() as connection:
        if backend == "sqlite":
            for trigger in ("audit_entries_append_only_update", "audit_entries_append_only_delete"):
                await connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            await connection.exec_driver_sql(
                "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"
            )
        for statement in statements:
            await connection.execute(text(statement))


def verify_command(settings: Settings) -> tuple[int, str]:
    """`beeldbel audit verify`, in-process (in a thread: it runs its own event loop)."""
    import contextlib
    import io

    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return run_audit(argparse.Namespace(audit_command="verify"), settings)

    code = in_thread(run)
    return code, out.getvalue().strip()


async def id_of(db: Database, seq: int) -> int:
    async with db.transaction(read_only=True) as session:
        found = await session.scalar(select(AuditEntryRow.id).where(AuditEntryRow.seq == seq))
    assert found is not None
    return found


async def sealed_rows(db: Database) -> list[AuditEntryRow]:
    async with db.transaction(read_only=True) as session:
        result = await session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))
        return list(result.scalars().all())


# Acceptance 6 ---------------------------------------------------------------------------


async def test_verify_passes_on_an_untouched_log(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 12)
    assert verify_command(settings) == (0, "audit log intact: 12 entries, head seq 12")


async def test_verify_names_an_edited_middle_entry(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 12)
    target = await id_of(db, 6)
    await as_attacker(db, backend, "UPDATE audit_entries SET actor = 'staff:mallory' WHERE seq = 6")
    code, output = verify_command(settings)
    assert code == 1
    assert output == f"entry seq 6 (id {target}) was changed"


async def test_verify_names_an_edited_detail_or_time(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 8)
    await as_attacker(
        db,
        backend,
        'UPDATE audit_entries SET detail = \'{"basis": "emergency"}\' WHERE seq = 2',
        "UPDATE audit_entries SET client_id = NULL WHERE seq = 5",
    )
    code, output = verify_command(settings)
    assert code == 1
    assert output.splitlines() == [
        f"entry seq 2 (id {await id_of(db, 2)}) was changed",
        f"entry seq 5 (id {await id_of(db, 5)}) was changed",
    ]


async def test_verify_names_an_entry_changed_into_something_unreadable(
    db: Database, settings: Settings
) -> None:
    """SQLite stores JSON and times as text: an attacker can write what cannot be decoded.
    Verify still names the entry instead of failing with a traceback."""
    await write_and_seal(db, settings, 8)
    await as_attacker(
        db,
        "sqlite",
        "UPDATE audit_entries SET detail = '{not json' WHERE seq = 3",
        "UPDATE audit_entries SET at = 'yesterday-ish' WHERE seq = 6",
    )
    code, output = verify_command(settings)
    assert code == 1
    assert output.splitlines() == [
        f"entry seq 3 (id {await id_of(db, 3)}) was changed",
        f"entry seq 6 (id {await id_of(db, 6)}) was changed",
    ]
    assert "Traceback" not in output


async def test_verify_names_deleted_last_entries(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 12)
    await as_attacker(db, backend, "DELETE FROM audit_entries WHERE seq > 9")
    code, output = verify_command(settings)
    assert code == 1
    lines = output.splitlines()
    assert lines[0] == (
        "the chain ends at seq 9 but the anchor records seq 12: entries 10\u201312 were deleted"
    )


async def test_verify_finds_deleted_last_entries_even_with_the_head_row_rewound(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 12)
    async with db.transaction(read_only=True) as session:
        mac9 = await session.scalar(select(AuditEntryRow.mac).where(AuditEntryRow.seq == 9))
    disable_chain_trigger = (
        "DROP TRIGGER audit_chain_forward_only"
        if backend == "sqlite"
        else "ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_forward_only"
    )
    await as_attacker(
        db,
        backend,
        "DELETE FROM audit_entries WHERE seq > 9",
        disable_chain_trigger,
        f"UPDATE audit_chain SET seq = 9, mac = '{mac9}'",
    )
    code, output = verify_command(settings)
    assert code == 1
    assert output == (
        "the chain ends at seq 9 but the anchor records seq 12: entries 10\u201312 were deleted"
    )


async def test_verify_names_deleted_middle_entries(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 10)
    await as_attacker(db, backend, "DELETE FROM audit_entries WHERE seq IN (4, 5)")
    code, output = verify_command(settings)
    assert code == 1
    assert output == "entries seq 4\u20135 are missing: they were deleted"


async def test_verify_finds_a_chain_recomputed_without_the_key(
    backend: str, db: Database, settings: Settings
) -> None:
    """The attacker edits an entry, then recomputes every MAC (and the head) with a key of
    their own, so the chain is consistent, just not with our key or our anchor."""
    await write_and_seal(db, settings, 12)
    await as_attacker(db, backend, "UPDATE audit_entries SET outcome = 'denied' WHERE seq = 7")
    rows = await sealed_rows(db)
    forged = chain.seal(ATTACKER_KEY, chain.Head(0, None), [entry_values(r) for r in rows])
    await as_attacker(
        db,
        backend,
        *(f"UPDATE audit_entries SET mac = '{s.mac}' WHERE id = {s.entry.id}" for s in forged),
        f"UPDATE audit_chain SET mac = '{forged[-1].mac}'",
    )
    code, output = verify_command(settings)
    assert code == 1
    assert output == (
        "MACs do not verify with our key from seq 1: the chain was recomputed without the key"
    )


def test_the_beeldbel_command_verifies_and_exits_1_naming_the_entry(
    backend: str, settings: Settings, database_url: str
) -> None:
    async def prepare() -> int:
        db = Database.from_settings(settings)
        try:
            await write_and_seal(db, settings, 5)
            target = await id_of(db, 3)
            await as_attacker(db, backend, "UPDATE audit_entries SET event = 'x' WHERE seq = 3")
            return target
        finally:
            await db.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDBEL_")} | {
        "BEELDBEL_DATA_DIR": str(settings.data_dir),
        "BEELDBEL_DATABASE_URL": database_url,
        "BEELDBEL_LOG_FORMAT": "console",
    }

    def beeldbel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "beeldbel", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = beeldbel("audit", "verify")
    assert (first.returncode, first.stdout.strip()) == (
        0,
        "audit log intact: 0 entries, head seq 0",
    ), first.stderr
    target = in_thread(asyncio.run, prepare())
    result = beeldbel("audit", "verify")
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip() == f"entry seq 3 (id {target}) was changed"


# Sealing --------------------------------------------------------------------------------


async def test_entries_are_written_unsealed_and_sealed_with_the_next_seq(
    backend: str, db: Database, settings: Settings
) -> None:
    log = AuditLog(db, SystemClock())
    async with db.transaction() as session:
        await log.append(session, record(1))
    rows = await sealed_rows(db)
    assert [(r.seq, r.mac) for r in rows] == [(None, None)]
    assert await make_chain(db, settings).seal() == 1
    await log.append_alone(record(2))
    assert await make_chain(db, settings).seal() == 1
    rows = await sealed_rows(db)
    assert [r.seq for r in rows] == [1, 2]
    assert all(r.mac is not None and len(r.mac) == 64 for r in rows)


async def test_an_entry_whose_change_rolled_back_does_not_exist(
    backend: str, db: Database, settings: Settings
) -> None:
    log = AuditLog(db, SystemClock())

    async def failing_use_case() -> None:
        async with db.transaction() as session:
            await log.append(session, record(1))
            raise RuntimeError("business failed")

    with pytest.raises(RuntimeError, match="business failed"):
        await failing_use_case()
    assert await make_chain(db, settings).seal() == 0
    assert await sealed_rows(db) == []


async def test_each_seal_is_anchored_outside_the_database(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 6, rounds=3)
    lines = settings.effective_audit_anchor_file.read_text().splitlines()
    heads = [json.loads(line) for line in lines]
    assert [h["seq"] for h in heads] == [2, 4, 6]
    rows = await sealed_rows(db)
    assert heads[-1]["mac"] == rows[-1].mac
    assert {h["kind"] for h in heads} == {"head"}


async def test_the_key_is_made_once_0600_outside_the_database_and_never_stored_there(
    backend: str, db: Database, settings: Settings
) -> None:
    key_file = settings.effective_audit_key_file
    assert not key_file.exists()
    await write_and_seal(db, settings, 3)
    key = key_file.read_bytes()
    assert len(key) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    await write_and_seal(db, settings, 3)
    assert key_file.read_bytes() == key
    rows: list[str] = []
    async with db.engine.connect() as connection:
        for table in ("audit_entries", "audit_chain"):
            result = await connection.exec_driver_sql(f"SELECT * FROM {table}")
            rows += [str(row) for row in result.all()]
    dumped = " ".join(rows)
    assert key.hex() not in dumped


async def test_a_lost_key_stops_sealing_instead_of_starting_an_unverifiable_chain(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 3)
    settings.effective_audit_key_file.unlink()
    await AuditLog(db, SystemClock()).append_alone(record(9))
    with pytest.raises(AuditKeyError, match="missing"):
        await make_chain(db, settings).seal()
    assert not settings.effective_audit_key_file.exists()
    code, output = verify_command(settings)
    assert code == 1
    assert "audit key file" in output
    assert "missing" in output


async def test_concurrent_writers_and_two_sealers_give_one_gapless_chain(
    backend: str, db: Database, settings: Settings
) -> None:
    """Two sealers (as two processes would) and many writers at once: every committed
    entry is sealed exactly once, seqs have no gaps, and the chain verifies."""
    log = AuditLog(db, SystemClock())
    first, second = make_chain(db, settings), make_chain(db, settings)
    writers = [log.append_alone(record(n)) for n in range(40)]
    sealers = [s.seal() for _ in range(5) for s in (first, second)]
    results = await asyncio.gather(*writers, *sealers)
    sealed_now = sum(r for r in results if isinstance(r, int))
    sealed_later = await first.seal()
    assert sealed_now + sealed_later == 40
    rows = await sealed_rows(db)
    assert [r.seq for r in rows] == list(range(1, 41))
    verdict = await first.verify()
    assert verdict.intact, verdict.summary()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_an_entry_committed_late_gets_a_later_seq_and_is_never_skipped(
    backend: str, db: Database, settings: Settings
) -> None:
    """PostgreSQL hands out ids at insert but commits in any order: the entry with the
    lower id commits last, so it is sealed last, after the one that committed first."""
    log = AuditLog(db, SystemClock())
    sealer = make_chain(db, settings)
    async with db.transaction() as slow:
        await log.append(slow, record(1))  # takes the lower id, commits later
        await log.append_alone(record(2))  # takes the higher id, commits now
        assert await sealer.seal() == 1
    assert await sealer.seal() == 1
    rows = await sealed_rows(db)
    assert [r.seq for r in rows] == [1, 2]
    assert rows[0].id > rows[1].id  # chain order is commit order, not id order
    assert [r.actor for r in rows] == ["staff:worker-2", "staff:worker-1"]
    assert (await sealer.verify()).intact


# Append-only in the database ------------------------------------------------------------


async def expect_refused(db: Database, statement: str) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|only moves forward|written unsealed"):
        async with db.engine.begin() as connection:
            await connection.execute(text(statement))


async def test_the_database_refuses_to_change_or_delete_audit_entries(
    backend: str, db: Database, settings: Settings
) -> None:
    await write_and_seal(db, settings, 3)
    await AuditLog(db, SystemClock()).append_alone(record(9))  # one unsealed entry
    for statement in (
        "UPDATE audit_entries SET actor = 'staff:mallory' WHERE seq = 2",
        "UPDATE audit_entries SET mac = NULL, seq = NULL WHERE seq = 3",
        "UPDATE audit_entries SET seq = 99 WHERE seq = 1",
        "UPDATE audit_entries SET actor = 'staff:mallory' WHERE seq IS NULL",
        "UPDATE audit_entries SET actor = 'x', seq = 4, mac = 'ab' WHERE seq IS NULL",
        "DELETE FROM audit_entries WHERE seq = 3",
        "DELETE FROM audit_entries WHERE seq IS NULL",
        "DELETE FROM audit_entries",
        "UPDATE audit_chain SET seq = 1",
        "UPDATE audit_chain SET checkpoint_seq = 0, seq = 0",
        "DELETE FROM audit_chain",
        "INSERT INTO audit_entries (at, event, outcome, detail, seq, mac) "
        "VALUES ('2026-11-30 09:00:00', 'read', 'success', '{}', 5, NULL)",
        "INSERT INTO audit_entries (at, event, outcome, detail, seq, mac) "
        "VALUES ('2026-11-30 09:00:00', 'read', 'success', '{}', NULL, 'ab')",
    ):
        await expect_refused(db, statement)
    if backend == "postgresql":
        await expect_refused(db, "TRUNCATE audit_entries")
        await expect_refused(db, "TRUNCATE audit_chain")
    assert len(await sealed_rows(db)) == 4
    assert (await make_chain(db, settings).verify()).intact


async def test_the_database_lets_an_unsealed_entry_be_sealed_once(
    backend: str, db: Database, settings: Settings
) -> None:
    await AuditLog(db, SystemClock()).append_alone(record(1))
    async with db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_entries SET seq = 1, mac = :mac WHERE seq IS NULL"),
            {"mac": "ab" * 32},
        )
    await expect_refused(db, "UPDATE audit_entries SET mac = 'cd' WHERE seq = 1")


# Retention ------------------------------------------------------------------------------

OLD = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2029, 6, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2032, 1, 15, 9, 0, tzinfo=UTC)


async def aged_log(db: Database, settings: Settings) -> FixedClock:
    """Six entries from 2026 and four from 2029, sealed; the clock then stands in 2032."""
    clock = FixedClock(OLD)
    log, sealer = AuditLog(db, clock), make_chain(db, settings, clock)
    for n in range(6):
        await log.append_alone(record(n))
        clock.advance(timedelta(hours=1))
    await sealer.seal()
    clock.advance(LATER - clock.now())
    for n in range(6, 10):
        await log.append_alone(record(n))
    await sealer.seal()
    clock.advance(NOW - clock.now())
    return clock


async def test_retention_removes_the_old_sealed_prefix_and_verification_starts_at_the_checkpoint(
    backend: str, db: Database, settings: Settings
) -> None:
    clock = await aged_log(db, settings)
    sealer = make_chain(db, settings, clock)
    report = await sealer.prune(datetime(2027, 1, 1, tzinfo=UTC))
    assert (report.removed, report.checkpoint_seq) == (6, 6)
    rows = await sealed_rows(db)
    assert [r.seq for r in rows] == [7, 8, 9, 10, 11]  # 11: the retention run's own entry
    assert rows[-1].event == "audit_retention"
    assert rows[-1].detail["removed"] == "6"
    assert verify_command(settings) == (0, "audit log intact: 5 entries, head seq 11")
    anchor = [
        json.loads(line) for line in settings.effective_audit_anchor_file.read_text().splitlines()
    ]
    assert any(a["kind"] == "checkpoint" and a["seq"] == 6 for a in anchor)
    # Nothing more is old enough: a second run removes nothing.
    assert (await sealer.prune(datetime(2027, 1, 1, tzinfo=UTC))).removed == 0


async def test_retention_keeps_at_least_five_years(
    backend: str, db: Database, settings: Settings
) -> None:
    clock = await aged_log(db, settings)
    with pytest.raises(InvalidInput, match="at least 5 years"):
        await make_chain(db, settings, clock).prune(datetime(2027, 2, 1, tzinfo=UTC))
    assert len(await sealed_rows(db)) == 10


async def test_retention_refuses_to_run_on_a_damaged_log(
    backend: str, db: Database, settings: Settings
) -> None:
    clock = await aged_log(db, settings)
    await as_attacker(db, backend, "UPDATE audit_entries SET actor = 'x' WHERE seq = 2")
    with pytest.raises(Conflict, match="does not verify"):
        await make_chain(db, settings, clock).prune(datetime(2027, 1, 1, tzinfo=UTC))
    assert len(await sealed_rows(db)) == 10


async def test_moving_the_checkpoint_to_delete_entries_is_found(
    backend: str, db: Database, settings: Settings
) -> None:
    """The delete trigger lets retention remove entries up to the checkpoint; an attacker
    who moves the checkpoint forward to delete recent entries cannot sign it."""
    await aged_log(db, settings)
    async with db.transaction(read_only=True) as session:
        mac8 = await session.scalar(select(AuditEntryRow.mac).where(AuditEntryRow.seq == 8))
    async with db.engine.begin() as connection:  # no trigger switched off: all allowed
        await connection.execute(
            text(
                "UPDATE audit_chain SET checkpoint_seq = 8, checkpoint_mac = :mac, "
                "checkpoint_signature = :sig"
            ),
            {"mac": mac8, "sig": "00" * 32},
        )
        await connection.execute(text("DELETE FROM audit_entries WHERE seq <= 8"))
    code, output = verify_command(settings)
    assert code == 1
    assert output == ("the retention checkpoint at seq 8 is not signed with our key: it was forged")


async def test_the_checkpoint_is_in_the_database_row(
    backend: str, db: Database, settings: Settings
) -> None:
    clock = await aged_log(db, settings)
    await make_chain(db, settings, clock).prune(datetime(2027, 1, 1, tzinfo=UTC))
    async with db.transaction(read_only=True) as session:
        head = (await session.execute(select(AuditChainRow))).scalar_one()
    assert head.checkpoint_seq == 6
    assert head.checkpoint_before == datetime(2027, 1, 1, tzinfo=UTC)
    assert head.checkpoint_made_at == NOW
    assert head.checkpoint_signature is not None


def test_the_prune_command_takes_a_date_and_refuses_less_than_five_years(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from beeldbel.cli import _parser

    parser, handlers = _parser()
    args = parser.parse_args(["audit", "prune", "--before", "2099-01-01"])
    assert args.before == datetime(2099, 1, 1, tzinfo=UTC)
    assert in_thread(handlers["audit"], args, settings) == 2
    assert "kept at least 5 years" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["audit", "prune", "--before", "2020-01-01T09:00:00"])  # no zone
    assert "needs a time zone" in capsys.readouterr().err


async def test_the_prune_command_removes_old_entries_and_says_how_many(
    backend: str, db: Database, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = await aged_log(db, settings)
    args = argparse.Namespace(audit_command="prune", before=datetime(2027, 1, 1, tzinfo=UTC))
    assert in_thread(run_audit, args, settings, clock) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "removed 6 audit entries before 2027-01-01; "
        "the chain now starts after the checkpoint at seq 6"
    )
    assert verify_command(settings) == (0, "audit log intact: 5 entries, head seq 11")
