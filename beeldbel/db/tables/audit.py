"""Tables of the audit log.

``audit_entries`` is append-only: triggers (made in migration 0002, on SQLite and
PostgreSQL) refuse every UPDATE except the one-time sealing of ``seq`` and ``mac`` on
an unsealed row, and every DELETE except of sealed rows at or before the retention
checkpoint. ``audit_chain`` is one row: the chain head (which sealers lock, one at a
time) and the signed retention checkpoint.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime

__all__ = ["CHAIN_ROW_ID", "AuditChainRow", "AuditEntryRow"]

CHAIN_ROW_ID = 1


class AuditEntryRow(Base):
    """One NEN 7513 entry. Rows are only ever inserted (and sealed); never updated otherwise."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_seq", "seq", unique=True),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200), index=True)
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[UUID | None] = mapped_column(Uuid, index=True)
    object_type: Mapped[str | None] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, str]] = mapped_column(JSON)
    # Set once, by the sealer, after the entry's transaction committed: the place in the
    # chain (commit order) and HMAC-SHA256(key, previous mac || canonical entry), in hex.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditChainRow(Base):
    """The chain head and the retention checkpoint: always exactly one row (id 1)."""

    __tablename__ = "audit_chain"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)  # the last sealed seq; 0 for none
    mac: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retention removed entries 1..checkpoint_seq; entry checkpoint_seq+1 links to
    # checkpoint_mac. The signature (HMAC with the audit key) makes it unforgeable.
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint_mac: Mapped[str | None] = mapped_column(String(64))
    checkpoint_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkpoint_made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checkpoint_signature: Mapped[str | None] = mapped_column(String(64))
