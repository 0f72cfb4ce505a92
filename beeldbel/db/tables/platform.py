"""Tables of the platform: teams and remembered Idempotency-Key answers."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime

__all__ = ["IdempotencyKeyRow", "TeamRow"]


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Names are unique as people read them: case and spacing do not make a new team.
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    municipalities: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_teams_created_at_id", "created_at", "id"),
    )


class IdempotencyKeyRow(Base):
    """A remembered answer to a POST or PATCH sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    location: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Client data in the answer ([client id, category] pairs): a replay is re-authorized.
    clients: Mapped[list[list[str]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
