"""Tables of the clients capability: clients, their network, care teams, handovers,
emergency access (noodknop) and consent.

The rules that must hold under concurrent requests are the database's:

* one lead per care team: a partial unique index (``WHERE is_lead``) on SQLite and
  PostgreSQL alike, and each subject once per care team (the primary key);
* care-team replacements, record changes and closing are conditional updates on the
  client row (``care_team_version``, ``version``);
* the consent history is append-only and ordered per client: each decision takes the
  next ``consent_seq`` of its client row in the same transaction (the row lock orders
  concurrent decisions) and ``(client_id, seq)`` is unique.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from beeldbel.clientfile.model import (
    ConsentDecision,
    ConsentMethod,
    ConsentTopic,
    FileState,
    LegalBasis,
)
from beeldbel.db.base import Base, UTCDateTime

__all__ = [
    "CareTeamMemberRow",
    "ClientRow",
    "ConsentRecordRow",
    "EmergencyAccessRow",
    "HandoverRow",
    "NetworkMemberRow",
]

SUBJECT = 200


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


FILE_STATES = tuple(s.value for s in FileState)
LEGAL_BASES = tuple(b.value for b in LegalBasis)
TOPICS = tuple(t.value for t in ConsentTopic)
DECISIONS = tuple(d.value for d in ConsentDecision)
METHODS = tuple(m.value for m in ConsentMethod)


class ClientRow(Base):
    __tablename__ = "clients"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    team_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # sorting and searching
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    street: Mapped[str | None] = mapped_column(String(200), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(7), nullable=True)
    town: Mapped[str | None] = mapped_column(String(80), nullable=True)
    preferred_language: Mapped[str] = mapped_column(String(35))
    legal_basis: Mapped[str] = mapped_column(String(20))
    file_state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer)
    care_team_version: Mapped[int] = mapped_column(Integer)
    consent_seq: Mapped[int] = mapped_column(Integer)  # the last consent decision's position

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("care_team_version >= 1", name="care_team_version_positive"),
        CheckConstraint("consent_seq >= 0", name="consent_seq_not_negative"),
        CheckConstraint(_one_of("file_state", FILE_STATES), name="file_state_known"),
        CheckConstraint(_one_of("legal_basis", LEGAL_BASES), name="legal_basis_known"),
        CheckConstraint(
            "(file_state = 'closed') = (closed_at IS NOT NULL)", name="closed_when_closed"
        ),
        CheckConstraint(
            "(street IS NULL) = (postcode IS NULL) AND (street IS NULL) = (town IS NULL)",
            name="address_whole",
        ),
        Index("ix_clients_name_key_id", "name_key", "id"),
    )


class NetworkMemberRow(Base):
    """Someone in the client's network. Removed members stay (``removed_at``): the consent
    history may name them."""

    __tablename__ = "network_members"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)


class CareTeamMemberRow(Base):
    """A worker serving a client. At most one lead per client, kept by the database."""

    __tablename__ = "care_team_members"

    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT), primary_key=True)
    is_lead: Mapped[bool] = mapped_column(Boolean)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_care_team_members_subject", "subject"),
        Index(
            "uq_care_team_members_one_lead",
            "client_id",
            unique=True,
            sqlite_where=text("is_lead"),
            postgresql_where=text("is_lead"),
        ),
    )


class HandoverRow(Base):
    __tablename__ = "handovers"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    from_subject: Mapped[str] = mapped_column(String(SUBJECT), index=True)
    to_subject: Mapped[str] = mapped_column(String(SUBJECT), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(SUBJECT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("from_subject <> to_subject", name="to_someone_else"),
        Index("ix_handovers_created_at_id", "created_at", "id"),
    )


class EmergencyAccessRow(Base):
    """A noodknop pressed. Never changed: it expires by ``ends_at``."""

    __tablename__ = "emergency_accesses"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"), index=True)
    subject: Mapped[str] = mapped_column(String(SUBJECT))
    reason: Mapped[str] = mapped_column(String(2000))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)


class ConsentRecordRow(Base):
    """One consent decision. Append-only; ``seq`` orders a client's history."""

    __tablename__ = "consent_records"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    client_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("clients.id"))
    seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(30))
    decision: Mapped[str] = mapped_column(String(10))
    representative_id: Mapped[UUID | None] = mapped_column(
        Uuid, ForeignKey("network_members.id"), nullable=True
    )
    representative_role: Mapped[str | None] = mapped_column(String(30), nullable=True)
    how: Mapped[str] = mapped_column(String(10))
    recorded_by: Mapped[str] = mapped_column(String(SUBJECT))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("client_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(_one_of("topic", TOPICS), name="topic_known"),
        CheckConstraint(_one_of("decision", DECISIONS), name="decision_known"),
        CheckConstraint(_one_of("how", METHODS), name="how_known"),
        CheckConstraint(
            "(representative_id IS NULL) = (representative_role IS NULL)",
            name="representative_whole",
        ),
    )
