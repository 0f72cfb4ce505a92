"""What the audit chain keeps outside the database: its HMAC key and its anchor file.

The key is 32 random bytes in a file of its own (mode 0600), made on first use and
never written to the database or a log. The anchor file is a JSON-lines journal: after
every seal the new chain head (seq, mac, time) is appended and fsynced, and after a
retention run the signed checkpoint. Keep both off the database server and out of
its backups: whoever holds the database and the key can rewrite history.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from beeldbel.audit.chain import KEY_BYTES, Anchor, Checkpoint

__all__ = ["AnchorFile", "AnchorRecords", "AuditKeyError", "load_key"]


class AuditKeyError(Exception):
    """The audit key cannot be used: missing where it must exist, or malformed."""


def load_key(path: Path, *, create: bool) -> bytes:
    """Read the audit key; with ``create``, make it first if there is none.

    Creation is atomic even with several processes starting at once: the key is
    written to a private temporary file and hard-linked into place, which fails if
    another process got there first (then its key is read).
    """
    if not path.exists():
        if not create:
            raise AuditKeyError(f"the audit key file {path} is missing")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES))
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
            _fsync_directory(path.parent)
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"the audit key file {path} does not hold a {KEY_BYTES}-byte key")
    return key


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class AnchorRecords:
    """What the anchor file says: every head anchored and the latest checkpoint."""

    heads: list[Anchor] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return max((a.seq for a in self.heads), default=0)


class AnchorFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One write of one short line with O_APPEND: lines from several processes
            # never interleave.
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_directory(self.path.parent)

    def append_head(self, seq: int, mac: str, at: datetime) -> None:
        self._append({"kind": "head", "seq": seq, "mac": mac, "at": at.isoformat()})

    def append_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._append(
            {
                "kind": "checkpoint",
                "seq": checkpoint.seq,
                "mac": checkpoint.mac,
                "before": checkpoint.before.isoformat(),
                "made_at": checkpoint.made_at.isoformat(),
                "signature": checkpoint.signature,
            }
        )

    def read(self) -> AnchorRecords:
        records = AnchorRecords()
        if not self.path.exists():
            return records
        lines = self.path.read_bytes().split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                if data["kind"] == "head":
                    records.heads.append(Anchor(seq=int(data["seq"]), mac=str(data["mac"])))
                elif data["kind"] == "checkpoint":
                    checkpoint = Checkpoint(
                        seq=int(data["seq"]),
                        mac=str(data["mac"]),
                        before=datetime.fromisoformat(data["before"]),
                        made_at=datetime.fromisoformat(data["made_at"]),
                        signature=str(data["signature"]),
                    )
                    if records.checkpoint is None or checkpoint.seq > records.checkpoint.seq:
                        records.checkpoint = checkpoint
                else:
                    raise ValueError("unknown kind")
            except (ValueError, KeyError, TypeError):
                if number == len(lines):
                    continue  # a line torn by a crash while it was written: the last one
                records.problems.append(f"the anchor file {self.path} is damaged at line {number}")
        return records
