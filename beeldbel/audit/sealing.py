"""Sealing, verifying and pruning the audit chain.

Entries are written unsealed (``seq`` and ``mac`` empty) inside the business
transaction, so an entry exists exactly when its change committed. The sealer then
takes the committed, unsealed entries in id order and gives each the next ``seq``
and its ``mac`` (see :mod:`beeldbel.audit.chain`). Only one sealer runs at a time:
it locks the one row of ``audit_chain`` (``SELECT ... FOR UPDATE`` on PostgreSQL;
on SQLite ``BEGIN IMMEDIATE`` already serialises writers). On PostgreSQL a
transaction that took its id early may commit late; it is simply sealed by a later
round, with a later seq: chain order is commit order, and nothing committed is skipped.

After every seal the new head is appended to the anchor file outside the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from beeldbel.audit import chain
from beeldbel.audit.files import AnchorFile, AnchorRecords, AuditKeyError, load_key
from beeldbel.audit.model import AuditEvent, AuditRecord, Outcome
from beeldbel.audit.rules import check_retention_cutoff
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.tables.audit import CHAIN_ROW_ID, AuditChainRow, AuditEntryRow
from beeldbel.errors import Conflict

__all__ = ["AuditChain", "PruneReport", "entry_values"]

log = structlog.get_logger("beeldbel.audit")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEAL_BATCH = 500
VERIFY_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A sealed entry whose stored fields cannot be decoded."""

    seq: int
    entry_id: int
    mac: str


def entry_values(row: AuditEntryRow) -> chain.Entry:
    return chain.Entry(
        id=row.id,
        at=row.at,
        event=row.event,
        outcome=row.outcome,
        actor=row.actor,
        on_behalf_of=row.on_behalf_of,
        client_id=row.client_id,
        object_type=row.object_type,
        object_id=row.object_id,
        source=row.source,
        request_id=row.request_id,
        detail=row.detail,
    )


def _checkpoint(row: AuditChainRow) -> chain.Checkpoint | None:
    if row.checkpoint_seq == 0:
        return None
    if (
        row.checkpoint_mac is None
        or row.checkpoint_before is None
        or row.checkpoint_made_at is None
        or row.checkpoint_signature is None
    ):
        # Half a checkpoint cannot verify; the verifier reports it as forged.
        return chain.Checkpoint(
            seq=row.checkpoint_seq,
            mac=row.checkpoint_mac or "",
            before=row.checkpoint_before or EPOCH,
            made_at=row.checkpoint_made_at or EPOCH,
            signature="",
        )
    return chain.Checkpoint(
        seq=row.checkpoint_seq,
        mac=row.checkpoint_mac,
        before=row.checkpoint_before,
        made_at=row.checkpoint_made_at,
        signature=row.checkpoint_signature,
    )


@dataclass(frozen=True, slots=True)
class PruneReport:
    removed: int
    checkpoint_seq: int  # the chain now starts after this seq


class AuditChain:
    """Seals the audit log in commit order, verifies it, and applies retention."""

    def __init__(self, db: Database, clock: Clock, *, key_file: Path, anchor_file: Path) -> None:
        self._db = db
        self._clock = clock
        self._key_file = key_file
        self._anchor = AnchorFile(anchor_file)
        self._key: bytes | None = None
        self._lock = asyncio.Lock()  # one seal at a time in this process (the database
        # lock does it between processes; this saves the waiting)

    # Sealing ----------------------------------------------------------------------------

    def _key_for(self, head: AuditChainRow) -> bytes:
        if self._key is None:
            # A key is made only for a chain that has never been sealed: a missing key
            # later on must stop sealing, not silently start a chain nobody can verify.
            fresh = head.seq == 0 and head.checkpoint_seq == 0
            self._key = load_key(self._key_file, create=fresh)
        return self._key

    async def _lock_head(self, session: AsyncSession) -> AuditChainRow:
        query = select(AuditChainRow).where(AuditChainRow.id == CHAIN_ROW_ID)
        if self._db.dialect == "postgresql":
            query = query.with_for_update()
        head = (await session.execute(query)).scalar_one_or_none()
        if head is None:
            raise RuntimeError("the audit_chain row is missing: is the database migrated?")
        return head

    async def _pending(self) -> bool:
        async with self._db.transaction(read_only=True) as session:
            found = await session.execute(
                select(AuditEntryRow.id).where(AuditEntryRow.seq.is_(None)).limit(1)
            )
            return found.first() is not None

    async def _seal_batch(self) -> tuple[int, chain.Head]:
        now = self._clock.now()
        async with self._db.transaction() as session:
            head = await self._lock_head(session)
            rows = (
                (
                    await session.execute(
                        select(AuditEntryRow)
                        .where(AuditEntryRow.seq.is_(None))
                        .order_by(AuditEntryRow.id)
                        .limit(SEAL_BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return 0, chain.Head(head.seq, head.mac)
            key = self._key_for(head)
            sealed = chain.seal(key, chain.Head(head.seq, head.mac), map(entry_values, rows))
            for row, seal in zip(rows, sealed, strict=True):
                row.seq = seal.seq
                row.mac = seal.mac
            head.seq = sealed[-1].seq
            head.mac = sealed[-1].mac
            head.sealed_at = now
        return len(rows), chain.Head(head.seq, head.mac)

    async def seal(self) -> int:
        """Seal every entry committed so far; returns how many were sealed."""
        total = 0
        async with self._lock:
            while await self._pending():
                count, head = await self._seal_batch()
                if count == 0:
                    break
                total += count
                assert head.mac is not None
                await asyncio.to_thread(
                    self._anchor.append_head, head.seq, head.mac, self._clock.now()
                )
                if count < SEAL_BATCH:
                    break
        if total:
            log.debug("audit_sealed", entries=total)
        return total

    # Verifying --------------------------------------------------------------------------

    async def _sealed(
        self, session: AsyncSession, after: int, up_to: int
    ) -> AsyncIterator[chain.SealedEntry | Unreadable]:
        while after < up_to:
            window = (
                select(AuditEntryRow)
                .where(AuditEntryRow.seq > after, AuditEntryRow.seq <= up_to)
                .order_by(AuditEntryRow.seq)
                .limit(VERIFY_BATCH)
            )
            try:
                rows = (await session.execute(window)).scalars().all()
                batch: list[chain.SealedEntry | Unreadable] = [
                    chain.SealedEntry(seq=row.seq or 0, entry=entry_values(row), mac=row.mac or "")
                    for row in rows
                ]
            except (ValueError, TypeError, StatementError):
                # Someone wrote what our types cannot decode (bad JSON, a broken time):
                # read the window row by row to name the entries concerned.
                batch = await self._one_by_one(session, after, up_to)
            if not batch:
                return
            for item in batch:
                yield item
            after = batch[-1].seq

    async def _one_by_one(
        self, session: AsyncSession, after: int, up_to: int
    ) -> list[chain.SealedEntry | Unreadable]:
        keys = (
            await session.execute(
                select(AuditEntryRow.seq, AuditEntryRow.id, AuditEntryRow.mac)
                .where(AuditEntryRow.seq > after, AuditEntryRow.seq <= up_to)
                .order_by(AuditEntryRow.seq)
                .limit(VERIFY_BATCH)
            )
        ).all()
        batch: list[chain.SealedEntry | Unreadable] = []
        for seq, entry_id, mac in keys:
            assert seq is not None  # the query asked for sealed entries only
            try:
                row = (
                    await session.execute(
                        select(AuditEntryRow).where(AuditEntryRow.id == entry_id),
                        execution_options={"populate_existing": True},
                    )
                ).scalar_one()
                batch.append(chain.SealedEntry(seq=seq, entry=entry_values(row), mac=mac or ""))
            except (ValueError, TypeError, StatementError):
                batch.append(Unreadable(seq=seq, entry_id=entry_id, mac=mac or ""))
        return batch

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only view that does not move while it is read (head and entries agree)."""
        if self._db.dialect != "postgresql":
            # SQLite in WAL mode: a read transaction sees one snapshot from its first read.
            async with self._db.transaction(read_only=True) as session:
                yield session
            return
        async with self._db.engine.connect() as connection:
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with connection.begin(), AsyncSession(bind=connection) as session:
                yield session

    async def verify(self, *, seal_first: bool = True) -> chain.Verdict:
        """Recompute the chain with the key and compare it with the anchor file."""
        if seal_first:
            with suppress(AuditKeyError):  # reported below, with the rest
                await self.seal()
        # The anchor before the database: a head anchored later than the snapshot was
        # taken cannot then look like a deleted tail.
        anchors: AnchorRecords = await asyncio.to_thread(self._anchor.read)
        async with self._snapshot() as session:
            head = (
                await session.execute(select(AuditChainRow).where(AuditChainRow.id == CHAIN_ROW_ID))
            ).scalar_one()
            highest = await session.scalar(select(func.max(AuditEntryRow.seq)))
            try:
                key = load_key(self._key_file, create=False)
            except AuditKeyError as exc:
                if head.seq == 0 and head.checkpoint_seq == 0 and highest is None:
                    return chain.Verdict(entries=0, head_seq=0, findings=())
                finding = chain.Finding(
                    chain.Problem.KEY_MISSING, f"{exc}: the chain cannot be verified"
                )
                return chain.Verdict(entries=0, head_seq=head.seq, findings=(finding,))
            verifier = chain.Verifier(
                key,
                head=chain.Head(head.seq, head.mac),
                checkpoint=_checkpoint(head),
                anchors=anchors.heads,
                anchored_checkpoint=anchors.checkpoint.seq if anchors.checkpoint else 0,
                anchor_problems=anchors.problems,
            )
            async for item in self._sealed(session, 0, max(head.seq, highest or 0)):
                if isinstance(item, Unreadable):
                    verifier.feed_unreadable(item.seq, item.entry_id, item.mac)
                else:
                    verifier.feed(item)
        return verifier.finish()

    # Retention --------------------------------------------------------------------------

    async def prune(self, before: datetime, *, actor: str = "system:cli") -> PruneReport:
        """Remove the sealed entries older than ``before`` (at least five years ago) as
        one whole prefix of the chain, leaving a checkpoint signed with the key."""
        now = self._clock.now()
        check_retention_cutoff(before, now)
        verdict = await self.verify()
        if not verdict.intact:
            raise Conflict(
                "the audit log does not verify; nothing is removed until it does",
                details={"findings": [f.message for f in verdict.findings]},
            )
        key = load_key(self._key_file, create=False)
        async with self._db.transaction() as session:
            head = await self._lock_head(session)
            first_kept = await session.scalar(
                select(func.min(AuditEntryRow.seq)).where(
                    AuditEntryRow.seq.is_not(None), AuditEntryRow.at >= before
                )
            )
            upto = head.seq if first_kept is None else first_kept - 1
            if upto <= head.checkpoint_seq:
                return PruneReport(removed=0, checkpoint_seq=head.checkpoint_seq)
            mac = await session.scalar(select(AuditEntryRow.mac).where(AuditEntryRow.seq == upto))
            if mac is None:
                raise Conflict("the entry to checkpoint at is missing", details={"seq": upto})
            checkpoint = chain.sign_checkpoint(key, upto, mac, before, now)
            head.checkpoint_seq = checkpoint.seq
            head.checkpoint_mac = checkpoint.mac
            head.checkpoint_before = checkpoint.before
            head.checkpoint_made_at = checkpoint.made_at
            head.checkpoint_signature = checkpoint.signature
            await session.flush()  # the delete trigger checks against the new checkpoint
            result = await session.execute(
                delete(AuditEntryRow).where(
                    AuditEntryRow.seq.is_not(None), AuditEntryRow.seq <= upto
                )
            )
            removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
            await AuditLog(self._db, self._clock).append(
                session,
                AuditRecord(
                    event=AuditEvent.AUDIT_RETENTION,
                    outcome=Outcome.SUCCESS,
                    actor=actor,
                    object_type="audit_log",
                    detail={
                        "before": before.isoformat(),
                        "removed": str(removed),
                        "checkpoint_seq": str(checkpoint.seq),
                    },
                ),
            )
        await asyncio.to_thread(self._anchor.append_checkpoint, checkpoint)
        await self.seal()
        log.info("audit_pruned", removed=removed, checkpoint_seq=checkpoint.seq)
        return PruneReport(removed=removed, checkpoint_seq=checkpoint.seq)
