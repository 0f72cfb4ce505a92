"""Tables of the identity capability: staff users, their teams and factors, sign-in throttle,
refresh tokens.

No secret is stored as it was given: passwords as argon2id hashes, recovery codes and
refresh tokens as keyed hashes, TOTP secrets encrypted with a key outside the database.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime

__all__ = [
    "RecoveryCodeRow",
    "RefreshTokenRow",
    "SignInThrottleRow",
    "StaffUserRow",
    "TeamMembershipRow",
]


class StaffUserRow(Base):
    """A staff member: worker, coordinator, admin and/or privacy officer."""

    __tablename__ = "staff_users"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    # Usernames are unique as people type them: case and width do not make a new user.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON)
    # Encrypted (AES-GCM, key in the keys directory); set but not enabled while enrolling.
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last TOTP time step accepted: a code is good once (a conditional update).
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_staff_users_created_at_id", "created_at", "id"),
    )


class TeamMembershipRow(Base):
    __tablename__ = "team_memberships"

    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RecoveryCodeRow(Base):
    """A one-time recovery code, kept as a keyed hash; ``used_at`` is set once."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInThrottleRow(Base):
    """Failed attempts per account key, known or not (a keyed hash of what was typed)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)


class RefreshTokenRow(Base):
    """One link in a chain (family) of refresh tokens; only the hash is kept.

    ``subject`` is any principal's ("staff:<uuid>", later "client:", "device:" ...).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[UUID] = mapped_column(Uuid, index=True)
    parent_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("refresh_tokens.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    subject: Mapped[str] = mapped_column(String(200), index=True)
    second_factor: Mapped[bool] = mapped_column(Boolean)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
