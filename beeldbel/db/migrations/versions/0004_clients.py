"""clients, networks, care teams, handovers, emergency access and consent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import beeldbel.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('postcode', sa.String(length=7), nullable=True),
    sa.Column('town', sa.String(length=80), nullable=True),
    sa.Column('preferred_language', sa.String(length=35), nullable=False),
    sa.Column('legal_basis', sa.String(length=20), nullable=False),
    sa.Column('file_state', sa.String(length=10), nullable=False),
    sa.Column('created_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('care_team_version', sa.Integer(), nullable=False),
    sa.Column('consent_seq', sa.Integer(), nullable=False),
    sa.CheckConstraint("(file_state = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_clients_closed_when_closed')),
    sa.CheckConstraint("file_state IN ('open', 'closed')", name=op.f('ck_clients_file_state_known')),
    sa.CheckConstraint("legal_basis IN ('wmo_2015', 'jeugdwet', 'wgbo')", name=op.f('ck_clients_legal_basis_known')),
    sa.CheckConstraint('(street IS NULL) = (postcode IS NULL) AND (street IS NULL) = (town IS NULL)', name=op.f('ck_clients_address_whole')),
    sa.CheckConstraint('care_team_version >= 1', name=op.f('ck_clients_care_team_version_positive')),
    sa.CheckConstraint('consent_seq >= 0', name=op.f('ck_clients_consent_seq_not_negative')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_clients_version_positive')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_clients_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients'))
    )
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index('ix_clients_name_key_id', ['name_key', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_team_id'), ['team_id'], unique=False)

    op.create_table('network_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('created_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('version >= 1', name=op.f('ck_network_members_version_positive')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_network_members_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_members'))
    )
    with op.batch_alter_table('network_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_members_client_id'), ['client_id'], unique=False)

    op.create_table('care_team_members',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('is_lead', sa.Boolean(), nullable=False),
    sa.Column('added_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_care_team_members_client_id_clients')),
    sa.PrimaryKeyConstraint('client_id', 'subject', name=op.f('pk_care_team_members'))
    )
    with op.batch_alter_table('care_team_members', schema=None) as batch_op:
        batch_op.create_index('ix_care_team_members_subject', ['subject'], unique=False)
        # One lead per care team, kept by the database on SQLite and PostgreSQL alike.
        batch_op.create_index('uq_care_team_members_one_lead', ['client_id'], unique=True, sqlite_where=sa.text('is_lead'), postgresql_where=sa.text('is_lead'))

    op.create_table('handovers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('from_subject', sa.String(length=200), nullable=False),
    sa.Column('to_subject', sa.String(length=200), nullable=False),
    sa.Column('starts_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_handovers_ends_after_start')),
    sa.CheckConstraint('from_subject <> to_subject', name=op.f('ck_handovers_to_someone_else')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers'))
    )
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index('ix_handovers_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handovers_from_subject'), ['from_subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_handovers_to_subject'), ['to_subject'], unique=False)

    op.create_table('emergency_accesses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('starts_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_emergency_accesses_ends_after_start')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_emergency_accesses_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_accesses'))
    )
    with op.batch_alter_table('emergency_accesses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_accesses_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_accesses_starts_at'), ['starts_at'], unique=False)

    op.create_table('consent_records',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=30), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('representative_id', sa.Uuid(), nullable=True),
    sa.Column('representative_role', sa.String(length=30), nullable=True),
    sa.Column('how', sa.String(length=10), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('given', 'withdrawn')", name=op.f('ck_consent_records_decision_known')),
    sa.CheckConstraint("how IN ('spoken', 'signed', 'digital')", name=op.f('ck_consent_records_how_known')),
    sa.CheckConstraint("topic IN ('video_calls', 'guests_in_calls', 'tablet_auto_answer', 'recording', 'client_wifi')", name=op.f('ck_consent_records_topic_known')),
    sa.CheckConstraint('(representative_id IS NULL) = (representative_role IS NULL)', name=op.f('ck_consent_records_representative_whole')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_consent_records_seq_positive')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_consent_records_client_id_clients')),
    sa.ForeignKeyConstraint(['representative_id'], ['network_members.id'], name=op.f('fk_consent_records_representative_id_network_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    sa.UniqueConstraint('client_id', 'seq', name=op.f('uq_consent_records_client_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('consent_records')
    with op.batch_alter_table('emergency_accesses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_accesses_starts_at'))
        batch_op.drop_index(batch_op.f('ix_emergency_accesses_client_id'))

    op.drop_table('emergency_accesses')
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_to_subject'))
        batch_op.drop_index(batch_op.f('ix_handovers_from_subject'))
        batch_op.drop_index('ix_handovers_created_at_id')

    op.drop_table('handovers')
    with op.batch_alter_table('care_team_members', schema=None) as batch_op:
        batch_op.drop_index('uq_care_team_members_one_lead', sqlite_where=sa.text('is_lead'), postgresql_where=sa.text('is_lead'))
        batch_op.drop_index('ix_care_team_members_subject')

    op.drop_table('care_team_members')
    with op.batch_alter_table('network_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_members_client_id'))

    op.drop_table('network_members')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clients_team_id'))
        batch_op.drop_index('ix_clients_name_key_id')

    op.drop_table('clients')
