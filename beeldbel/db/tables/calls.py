"""Tables of the calls capability: each call's state, and each call's outcome (filed once).

A call's state is one row per appointment holding the pure state machine's value as JSON
with a ``version``: every event is a conditional update on that version (compare and set),
so two processes handling two participants of one call never lose each other's change.
An outcome is written in the same transaction as the state that ended the call, and its
primary key is the appointment: a call is filed exactly once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime

__all__ = ["CallOutcomeRow", "CallRow"]


class CallRow(Base):
    __tablename__ = "calls"

    appointment_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    phase: Mapped[str] = mapped_column(String(10))
    state: Mapped[dict[str, object]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("phase IN ('open', 'live', 'ended')", name="phase_known"),
        Index("ix_calls_phase", "phase"),
    )


class CallOutcomeRow(Base):
    """What happened in a call, for the client file to file (once)."""

    __tablename__ = "call_outcomes"

    appointment_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    media_path: Mapped[str | None] = mapped_column(String(10), nullable=True)
    reconnects: Mapped[int] = mapped_column(Integer)
    seats: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    # The modes each direction went through (the quality desk's summary), if any.
    quality: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (CheckConstraint("duration_s >= 0", name="duration_not_negative"),)
