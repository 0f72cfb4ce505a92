"""Notes and their history.

A change is a conditional update (``WHERE version = <the version it was made on>``), so of
two saves made on one version exactly one succeeds, on SQLite and PostgreSQL alike; the
other is told of the conflict. Every version is also a row of ``note_versions`` whose
primary key ``(note_id, version)`` makes each version exist once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime
from beeldbel.notes.model import Visibility

__all__ = ["NoteRow", "NoteVersionRow"]

SUBJECT = 200
VISIBILITIES = ", ".join(repr(v.value) for v in Visibility)


class NoteRow(Base):
    __tablename__ = "notes"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"))
    visibility: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    appointment_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("appointments.id"), nullable=True
    )
    contact_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("contact_entries.id"), nullable=True
    )
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(SUBJECT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(SUBJECT))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"visibility IN ({VISIBILITIES})", name="visibility_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_notes_client_id_created_at", "client_id", "created_at"),
    )


class NoteVersionRow(Base):
    __tablename__ = "note_versions"

    note_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("notes.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    visibility: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(SUBJECT))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint(f"visibility IN ({VISIBILITIES})", name="visibility_known"),)
