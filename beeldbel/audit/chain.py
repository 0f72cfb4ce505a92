"""The audit chain: canonical bytes, MACs, signed checkpoints and verification.

Pure: plain values in, plain values out; no database, no files, no clock.

Every sealed entry carries ``seq`` (its place in the chain, 1, 2, 3, ...) and
``mac = HMAC-SHA256(key, mac of the previous entry || canonical bytes of this entry)``.
The first entry links to :data:`GENESIS` (or, after retention removed the oldest
entries, to the ``mac`` of a checkpoint signed with the same key). The key lives
outside the database, so someone who can only change the database can neither edit
an entry nor recompute the chain without it showing; the chain head is also written
to an anchor file outside the database, so a deleted tail shows too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

__all__ = [
    "GENESIS",
    "KEY_BYTES",
    "Anchor",
    "Checkpoint",
    "Entry",
    "Finding",
    "Head",
    "Problem",
    "SealedEntry",
    "Verdict",
    "Verifier",
    "canonical",
    "checkpoint_is_genuine",
    "link",
    "seal",
    "sign_checkpoint",
    "verify",
]

KEY_BYTES = 32
GENESIS = bytes(32)  # what the first entry of a fresh chain links to
ENTRY_DOMAIN = "beeldbel-audit-entry-v1"
CHECKPOINT_DOMAIN = "beeldbel-audit-checkpoint-v1"


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode(values: Sequence[Any]) -> bytes:
    # One JSON array: fixed field order, no whitespace, sorted keys inside ``detail``,
    # ASCII only. None becomes null, so an absent field never looks like an empty one.
    return json.dumps(
        list(values), ensure_ascii=True, allow_nan=False, separators=(",", ":"), sort_keys=True
    ).encode("ascii")


@dataclass(frozen=True, slots=True)
class Entry:
    """The fields of one audit entry that the chain protects (everything but seq and mac)."""

    id: int
    at: datetime
    event: str
    outcome: str
    actor: str | None
    on_behalf_of: str | None
    client_id: UUID | None
    object_type: str | None
    object_id: str | None
    source: str | None
    request_id: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SealedEntry:
    seq: int
    entry: Entry
    mac: str  # hex


@dataclass(frozen=True, slots=True)
class Head:
    """The end of the chain: the last sealed ``seq`` and its ``mac`` (None for an empty chain)."""

    seq: int
    mac: str | None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head as written to the anchor file after a seal."""

    seq: int
    mac: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where the chain starts after retention removed entries 1..seq; signed with the key."""

    seq: int
    mac: str  # the mac of entry ``seq``: entry seq+1 links to it
    before: datetime  # entries older than this were eligible for removal
    made_at: datetime
    signature: str  # hex


def canonical(seq: int, entry: Entry) -> bytes:
    """The bytes the MAC covers: the entry's place in the chain and every field."""
    return _encode(
        [
            ENTRY_DOMAIN,
            seq,
            entry.id,
            _timestamp(entry.at),
            entry.event,
            entry.outcome,
            entry.actor,
            entry.on_behalf_of,
            str(entry.client_id) if entry.client_id is not None else None,
            entry.object_type,
            entry.object_id,
            entry.source,
            entry.request_id,
            dict(entry.detail),
        ]
    )


def _prev_bytes(mac: str | None) -> bytes:
    if mac is None:
        return GENESIS
    try:
        return bytes.fromhex(mac)
    except ValueError:  # not a mac we made: the link after it will not verify either
        return mac.encode("utf-8", "replace")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def link(key: bytes, prev_mac: str | None, seq: int, entry: Entry) -> str:
    """The mac of ``entry`` sealed as ``seq`` after an entry whose mac is ``prev_mac``."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the audit key must be {KEY_BYTES} bytes")
    digest = hmac.new(key, _prev_bytes(prev_mac) + canonical(seq, entry), hashlib.sha256)
    return digest.hexdigest()


def seal(key: bytes, head: Head, entries: Iterable[Entry]) -> list[SealedEntry]:
    """Seal ``entries`` in the order given, after ``head``."""
    sealed: list[SealedEntry] = []
    seq, mac = head.seq, head.mac
    for entry in entries:
        seq += 1
        mac = link(key, mac, seq, entry)
        sealed.append(SealedEntry(seq=seq, entry=entry, mac=mac))
    return sealed


def _checkpoint_bytes(seq: int, mac: str, before: datetime, made_at: datetime) -> bytes:
    return _encode([CHECKPOINT_DOMAIN, seq, mac, _timestamp(before), _timestamp(made_at)])


def sign_checkpoint(
    key: bytes, seq: int, mac: str, before: datetime, made_at: datetime
) -> Checkpoint:
    signature = hmac.new(key, _checkpoint_bytes(seq, mac, before, made_at), hashlib.sha256)
    return Checkpoint(
        seq=seq, mac=mac, before=before, made_at=made_at, signature=signature.hexdigest()
    )


def checkpoint_is_genuine(key: bytes, checkpoint: Checkpoint) -> bool:
    expected = sign_checkpoint(
        key, checkpoint.seq, checkpoint.mac, checkpoint.before, checkpoint.made_at
    )
    return _same(expected.signature, checkpoint.signature)


# Verification ---------------------------------------------------------------------------


class Problem(StrEnum):
    CHANGED = "changed"  # an entry's fields no longer match its mac
    RECOMPUTED = "recomputed"  # macs from some seq on were made with another key
    MISSING = "missing"  # a gap in seq: entries in the middle were deleted
    TAIL_DELETED = "tail_deleted"  # the anchor (or the head) records more than is there
    DUPLICATE = "duplicate"  # one seq twice
    HEAD_MISMATCH = "head_mismatch"  # the database's head row disagrees with the entries
    NO_ANCHOR = "no_anchor"  # sealed entries, but no anchor to compare the tail with
    ANCHOR_DAMAGED = "anchor_damaged"
    CHECKPOINT_FORGED = "checkpoint_forged"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    KEY_MISSING = "key_missing"


@dataclass(frozen=True, slots=True)
class Finding:
    problem: Problem
    message: str
    seq: int | None = None  # where: the first seq concerned
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    entries: int  # sealed entries checked
    head_seq: int  # the last seq checked (the checkpoint's if none follow it)
    findings: tuple[Finding, ...]

    @property
    def intact(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.intact:
            return f"audit log intact: {self.entries} entries, head seq {self.head_seq}"
        return "\n".join(f.message for f in self.findings)


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}\u2013{last}"


@dataclass(slots=True)
class _Run:
    """Consecutive entries whose mac does not verify."""

    first: int
    last: int
    first_id: int
    ids: list[int]


class Verifier:
    """Checks a chain fed entry by entry in ``seq`` order, so a long log needs little memory.

    ``head`` is the head row kept in the database, ``anchors`` the heads written to
    the anchor file, ``anchored_checkpoint`` the latest checkpoint the anchor file
    records. Entries fed must be those with ``seq <= head.seq`` (the rest may be
    sealed while the check runs).
    """

    def __init__(
        self,
        key: bytes,
        *,
        head: Head,
        checkpoint: Checkpoint | None = None,
        anchors: Iterable[Anchor] = (),
        anchored_checkpoint: int = 0,
        anchor_problems: Iterable[str] = (),
    ) -> None:
        self._key = key
        self._head = head
        self._checkpoint = checkpoint
        self._anchors: dict[int, str] = {}
        for anchor in anchors:
            self._anchors[anchor.seq] = anchor.mac
        self._anchored_checkpoint = anchored_checkpoint
        self._findings: list[Finding] = [
            Finding(Problem.ANCHOR_DAMAGED, message) for message in anchor_problems
        ]
        self._start = 0
        self._prev_mac: str | None = None
        if checkpoint is not None:
            if not checkpoint_is_genuine(key, checkpoint):
                self._findings.append(
                    Finding(
                        Problem.CHECKPOINT_FORGED,
                        f"the retention checkpoint at seq {checkpoint.seq} is not signed "
                        "with our key: it was forged",
                        seq=checkpoint.seq,
                    )
                )
            self._start = checkpoint.seq
            self._prev_mac = checkpoint.mac
        if anchored_checkpoint > self._start:
            self._findings.append(
                Finding(
                    Problem.CHECKPOINT_MISMATCH,
                    f"the anchor records a retention checkpoint at seq {anchored_checkpoint} "
                    f"but the database's starts the chain at seq {self._start}",
                    seq=self._start,
                )
            )
        self._last = self._start  # the last seq seen
        self._count = 0
        self._runs: list[_Run] = []
        self._rewritten: list[int] = []  # anchored seqs whose mac differs from the anchor

    def feed(self, sealed: SealedEntry) -> None:
        seq = sealed.seq
        if seq <= self._last:
            where = "appears twice" if seq == self._last else f"comes after seq {self._last}"
            self._findings.append(
                Finding(
                    Problem.DUPLICATE,
                    f"seq {seq} (id {sealed.entry.id}) {where}: entries were reordered or copied",
                    seq=seq,
                    entry_id=sealed.entry.id,
                )
            )
            return
        self._count += 1
        linked = seq == self._last + 1
        if not linked:
            self._findings.append(
                Finding(
                    Problem.MISSING,
                    f"entries seq {_span(self._last + 1, seq - 1)} are missing: they were deleted",
                    seq=self._last + 1,
                )
            )
        # After a gap the previous mac is unknown, so this entry's link cannot be checked.
        elif not _same(link(self._key, self._prev_mac, seq, sealed.entry), sealed.mac):
            self._fail(seq, sealed.entry.id)
        anchored = self._anchors.get(seq)
        if anchored is not None and not _same(anchored, sealed.mac):
            self._rewritten.append(seq)
        self._last = seq
        self._prev_mac = sealed.mac

    def feed_unreadable(self, seq: int, entry_id: int, mac: str) -> None:
        """An entry whose stored fields cannot even be decoded: it was changed outside
        Beeldbel. It counts as a changed entry; the chain goes on from its mac."""
        if seq <= self._last:
            return
        self._count += 1
        if seq != self._last + 1:
            self._findings.append(
                Finding(
                    Problem.MISSING,
                    f"entries seq {_span(self._last + 1, seq - 1)} are missing: they were deleted",
                    seq=self._last + 1,
                )
            )
        self._fail(seq, entry_id)
        self._last = seq
        self._prev_mac = mac

    def _fail(self, seq: int, entry_id: int) -> None:
        if self._runs and self._runs[-1].last == seq - 1:
            run = self._runs[-1]
            run.last = seq
            if len(run.ids) < 10:
                run.ids.append(entry_id)
            return
        self._runs.append(_Run(first=seq, last=seq, first_id=entry_id, ids=[entry_id]))

    def finish(self) -> Verdict:
        findings = list(self._findings)
        end = self._last
        for index, run in enumerate(self._runs):
            reaches_end = index == len(self._runs) - 1 and run.last == end
            rewritten = any(run.first <= seq <= run.last for seq in self._rewritten)
            if (reaches_end and run.last > run.first) or rewritten:
                findings.append(
                    Finding(
                        Problem.RECOMPUTED,
                        f"MACs do not verify with our key from seq {run.first}: "
                        "the chain was recomputed without the key",
                        seq=run.first,
                        entry_id=run.first_id,
                    )
                )
            elif run.first == run.last:
                findings.append(
                    Finding(
                        Problem.CHANGED,
                        f"entry seq {run.first} (id {run.first_id}) was changed",
                        seq=run.first,
                        entry_id=run.first_id,
                    )
                )
            else:
                ids = ", ".join(str(i) for i in run.ids)
                findings.append(
                    Finding(
                        Problem.CHANGED,
                        f"entries seq {_span(run.first, run.last)} (ids {ids}) were changed "
                        "or their MACs rewritten",
                        seq=run.first,
                        entry_id=run.first_id,
                    )
                )
        for seq in self._rewritten:
            if any(run.first <= seq <= run.last for run in self._runs):
                continue
            findings.append(
                Finding(
                    Problem.RECOMPUTED,
                    f"the MAC of seq {seq} differs from the one anchored: the chain was rewritten",
                    seq=seq,
                )
            )
        anchored_end = max((s for s in self._anchors if s > self._start), default=None)
        if anchored_end is not None and anchored_end > end:
            findings.append(
                Finding(
                    Problem.TAIL_DELETED,
                    f"the chain ends at seq {end} but the anchor records seq {anchored_end}: "
                    f"entries {_span(end + 1, anchored_end)} were deleted",
                    seq=end + 1,
                )
            )
        if self._head.seq > end:
            findings.append(
                Finding(
                    Problem.TAIL_DELETED,
                    f"the chain ends at seq {end} but the database's chain head records seq "
                    f"{self._head.seq}: entries {_span(end + 1, self._head.seq)} were deleted",
                    seq=end + 1,
                )
            )
        elif self._head.seq < end:
            findings.append(
                Finding(
                    Problem.HEAD_MISMATCH,
                    f"the database's chain head records seq {self._head.seq} but the entries "
                    f"go on to seq {end}",
                    seq=self._head.seq + 1,
                )
            )
        elif end > self._start and self._head.mac != self._prev_mac:
            findings.append(
                Finding(
                    Problem.HEAD_MISMATCH,
                    f"the database's chain head does not match the entry at seq {end}",
                    seq=end,
                )
            )
        if end > self._start and not self._anchors:
            findings.append(
                Finding(
                    Problem.NO_ANCHOR,
                    f"the anchor file records no chain head, but the chain has {self._count} "
                    "entries: a deleted tail cannot be ruled out",
                )
            )
        return Verdict(entries=self._count, head_seq=end, findings=tuple(findings))


def verify(
    key: bytes,
    entries: Iterable[SealedEntry],
    *,
    head: Head,
    checkpoint: Checkpoint | None = None,
    anchors: Iterable[Anchor] = (),
    anchored_checkpoint: int = 0,
) -> Verdict:
    """Check a whole chain at once (see :class:`Verifier`)."""
    verifier = Verifier(
        key,
        head=head,
        checkpoint=checkpoint,
        anchors=anchors,
        anchored_checkpoint=anchored_checkpoint,
    )
    for entry in entries:
        verifier.feed(entry)
    return verifier.finish()
