"""Tables of the scheduling capability: appointments, their participants and agenda items,
series, the slots appointments hold, and workers' availability.

No double booking is the database's rule, not the application's:

* every slot an appointment holds (a worker's, a taking-part client's) is a row of
  ``bookings`` carrying the appointment's own ``starts_at``/``ends_at`` through a composite
  foreign key with ``ON UPDATE CASCADE``, so moving an appointment moves its slots in the
  same statement and no slot can disagree with its appointment;
* on PostgreSQL an exclusion constraint (``btree_gist``) refuses two overlapping slots of
  one resource: ``EXCLUDE USING gist (resource WITH =, tstzrange(starts_at, ends_at) WITH &&)``;
* on SQLite, triggers before insert and update raise ``booking_conflict`` for the same
  case, and writing transactions there cannot interleave (``BEGIN IMMEDIATE``).

Both live in migration 0006 (SQLAlchemy's metadata cannot describe them on both
databases); ``tests/test_agenda_conflicts.py`` inserts a conflicting row with plain SQL to
show the database refuses it. A cancelled appointment holds no slots: its bookings are
deleted when it is cancelled.
"""

from __future__ import annotations

from datetime import datetime, time
from uuid import UUID

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.db.base import Base, UTCDateTime
from beeldbel.scheduling.model import Kind, ParticipantRole, Status

__all__ = [
    "AgendaItemRow",
    "AppointmentRow",
    "AvailabilityExceptionRow",
    "BookingRow",
    "ContactWindowRow",
    "ParticipantRow",
    "SeriesRow",
    "WorkingHoursRow",
]

SUBJECT = 200


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


KINDS = tuple(k.value for k in Kind)
STATUSES = tuple(s.value for s in Status)
ROLES = tuple(r.value for r in ParticipantRole)


class SeriesRow(Base):
    """A recurring appointment: the rule, and how far it has been materialized."""

    __tablename__ = "series"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    team_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("teams.id"), index=True)
    rule: Mapped[str] = mapped_column(String(300))
    zone: Mapped[str] = mapped_column(String(64))
    local_start: Mapped[str] = mapped_column(String(19))  # ISO wall-clock time in `zone`
    duration_s: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[str]] = mapped_column(JSON)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    materialized_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    template: Mapped[dict[str, object]] = mapped_column(JSON)  # title, client, participants
    created_by: Mapped[str] = mapped_column(String(SUBJECT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("duration_s > 0", name="duration_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class AppointmentRow(Base):
    __tablename__ = "appointments"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    team_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("teams.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("clients.id"), nullable=True, index=True
    )
    series_id: Mapped[UUID | None] = mapped_column(Uuid, ForeignKey("series.id"), nullable=True)
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detached: Mapped[bool] = mapped_column(Boolean)
    outside_hours: Mapped[bool] = mapped_column(Boolean)
    cancel_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by: Mapped[str] = mapped_column(String(SUBJECT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(_one_of("kind", KINDS), name="kind_known"),
        CheckConstraint(_one_of("status", STATUSES), name="status_known"),
        CheckConstraint(
            "(series_id IS NULL) = (occurrence_at IS NULL)", name="occurrence_of_a_series"
        ),
        # The target of bookings' composite foreign key (their times follow ours).
        UniqueConstraint("id", "starts_at", "ends_at"),
        # A series materializes each occurrence once, however often the job runs.
        UniqueConstraint("series_id", "occurrence_at"),
        Index("ix_appointments_starts_at", "starts_at"),
    )


class ParticipantRow(Base):
    """Someone in an appointment; ``link_id`` names their personal join link."""

    __tablename__ = "appointment_participants"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    appointment_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(10))
    link_id: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str | None] = mapped_column(String(SUBJECT), nullable=True)
    client_id: Mapped[UUID | None] = mapped_column(Uuid, ForeignKey("clients.id"), nullable=True)
    member_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("network_members.id"), nullable=True
    )
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    item_id: Mapped[UUID | None] = mapped_column(Uuid, nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role_known"),
        UniqueConstraint("appointment_id", "subject"),
        UniqueConstraint("appointment_id", "client_id"),
        UniqueConstraint("appointment_id", "member_id"),
        Index("ix_appointment_participants_subject", "subject"),
        Index("ix_appointment_participants_appointment_id", "appointment_id"),
    )


class AgendaItemRow(Base):
    """An item of a case meeting: one client, a topic, maybe its own slot."""

    __tablename__ = "agenda_items"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    appointment_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"))
    topic: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("(starts_at IS NULL) = (ends_at IS NULL)", name="slot_whole"),
    )


class BookingRow(Base):
    """A slot a resource holds. The database refuses two overlapping slots of one resource
    (see the module's docstring and migration 0006)."""

    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appointment_id: Mapped[UUID] = mapped_column(Uuid)
    resource: Mapped[str] = mapped_column(String(SUBJECT + 10))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["appointment_id", "starts_at", "ends_at"],
            ["appointments.id", "appointments.starts_at", "appointments.ends_at"],
            onupdate="CASCADE",
            ondelete="CASCADE",
            name="fk_bookings_appointment_times",
        ),
        UniqueConstraint("appointment_id", "resource"),
        Index("ix_bookings_resource_starts_at", "resource", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )


class WorkingHoursRow(Base):
    """A worker's weekly window (bereikbaarheid), wall-clock time in the agenda's zone."""

    __tablename__ = "working_hours"

    subject: Mapped[str] = mapped_column(String(SUBJECT), primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts: Mapped[time] = mapped_column(Time, primary_key=True)
    ends: Mapped[time] = mapped_column(Time)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_known"),
        CheckConstraint("ends > starts", name="ends_after_start"),
    )


class AvailabilityExceptionRow(Base):
    """A period a worker is away or works extra."""

    __tablename__ = "availability_exceptions"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)


class ContactWindowRow(Base):
    """When a client prefers to be called or visited (weekday, wall-clock time)."""

    __tablename__ = "client_contact_windows"

    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"), primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts: Mapped[time] = mapped_column(Time, primary_key=True)
    ends: Mapped[time] = mapped_column(Time)

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_known"),
        CheckConstraint("ends > starts", name="ends_after_start"),
    )
