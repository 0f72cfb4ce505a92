"""The contact log's table. ``source`` is unique: an event delivered twice is filed once."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.contactlog.model import ContactKind
from beeldbel.db.base import Base, UTCDateTime

__all__ = ["ContactEntryRow"]

KINDS = tuple(k.value for k in ContactKind)


class ContactEntryRow(Base):
    __tablename__ = "contact_entries"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(120), unique=True)
    appointment_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("appointments.id"), nullable=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    people: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    media_path: Mapped[str | None] = mapped_column(String(10), nullable=True)
    reconnects: Mapped[int] = mapped_column(Integer)
    ended_because: Mapped[str | None] = mapped_column(String(20), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(300), nullable=True)
    quality: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="kind_known"),
        CheckConstraint("duration_s >= 0", name="duration_not_negative"),
        Index("ix_contact_entries_client_id_occurred_at", "client_id", "occurred_at"),
    )
