"""audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The audit log is append-only in the database too: triggers refuse an entry inserted
already sealed, any UPDATE of ``audit_entries`` except the one-time sealing of ``seq`` and ``mac`` on an unsealed
row, any DELETE except of sealed rows at or before the retention checkpoint, and
TRUNCATE (PostgreSQL). ``audit_chain`` (one row) only moves forward. Alembic's
comparison of models and database does not see triggers: they live here only.
Note for later migrations: a SQLite batch rebuild of these tables drops their triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import beeldbel.db.base


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_FIELDS = (
    'id', 'at', 'event', 'outcome', 'actor', 'on_behalf_of', 'client_id', 'object_type',
    'object_id', 'source', 'request_id', 'detail',
)
INSERT_REFUSED = 'audit entries are written unsealed: only the sealer sets seq and mac'
UPDATE_REFUSED = 'audit entries are append-only: an unsealed entry may only be sealed, once'
DELETE_REFUSED = 'audit entries are append-only: only retention removes sealed entries up to its checkpoint'
CHAIN_REFUSED = 'the audit chain head only moves forward and is never removed'

SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER audit_entries_insert_unsealed
    BEFORE INSERT ON audit_entries FOR EACH ROW
    WHEN NEW.seq IS NOT NULL OR NEW.mac IS NOT NULL
    BEGIN SELECT RAISE(ABORT, '{INSERT_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER audit_entries_append_only_update
    BEFORE UPDATE ON audit_entries FOR EACH ROW
    WHEN NOT (
        OLD.seq IS NULL AND OLD.mac IS NULL AND NEW.seq IS NOT NULL AND NEW.mac IS NOT NULL
        AND {' AND '.join(f'NEW.{c} IS OLD.{c}' for c in ENTRY_FIELDS)}
    )
    BEGIN SELECT RAISE(ABORT, '{UPDATE_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER audit_entries_append_only_delete
    BEFORE DELETE ON audit_entries FOR EACH ROW
    WHEN OLD.seq IS NULL
        OR OLD.seq > COALESCE((SELECT checkpoint_seq FROM audit_chain WHERE id = 1), 0)
    BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE ON audit_chain FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.seq < OLD.seq OR NEW.checkpoint_seq < OLD.checkpoint_seq
    BEGIN SELECT RAISE(ABORT, '{CHAIN_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER audit_chain_kept
    BEFORE DELETE ON audit_chain FOR EACH ROW
    BEGIN SELECT RAISE(ABORT, '{CHAIN_REFUSED}'); END
    """,
)

_NEW = ', '.join(f'NEW.{c}' if c != 'detail' else 'NEW.detail::text' for c in ENTRY_FIELDS)
_OLD = ', '.join(f'OLD.{c}' if c != 'detail' else 'OLD.detail::text' for c in ENTRY_FIELDS)

POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.seq IS NOT NULL OR NEW.mac IS NOT NULL THEN
                RAISE EXCEPTION '{INSERT_REFUSED}';
            END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' THEN
            IF OLD.seq IS NOT NULL AND OLD.seq <= COALESCE(
                (SELECT checkpoint_seq FROM audit_chain WHERE id = 1), 0
            ) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{DELETE_REFUSED}';
        END IF;
        IF OLD.seq IS NULL AND OLD.mac IS NULL AND NEW.seq IS NOT NULL AND NEW.mac IS NOT NULL
            AND ROW({_NEW}) IS NOT DISTINCT FROM ROW({_OLD}) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION '{UPDATE_REFUSED}';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_entries_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()
    """,
    f"""
    CREATE FUNCTION audit_chain_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.id <> OLD.id OR NEW.seq < OLD.seq
            OR NEW.checkpoint_seq < OLD.checkpoint_seq THEN
            RAISE EXCEPTION '{CHAIN_REFUSED}';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_chain_forward_only
    BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_forward_only()
    """,
    """
    CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only: % cannot be truncated', TG_TABLE_NAME;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()
    """,
    """
    CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()
    """,
)


def upgrade() -> None:
    op.create_table('audit_chain',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.Column('sealed_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checkpoint_seq', sa.BigInteger(), nullable=False),
    sa.Column('checkpoint_mac', sa.String(length=64), nullable=True),
    sa.Column('checkpoint_before', beeldbel.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checkpoint_made_at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checkpoint_signature', sa.String(length=64), nullable=True),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain'))
    )
    op.create_table('audit_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', beeldbel.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('on_behalf_of', sa.String(length=200), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('object_type', sa.String(length=60), nullable=True),
    sa.Column('object_id', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_audit_entries_seq', ['seq'], unique=True)

    op.execute("INSERT INTO audit_chain (id, seq, checkpoint_seq) VALUES (1, 0, 0)")
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_seq')
        batch_op.drop_index(batch_op.f('ix_audit_entries_client_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_actor'))

    # Dropping a table drops its triggers; PostgreSQL's trigger functions go separately.
    op.drop_table('audit_entries')
    op.drop_table('audit_chain')
    if op.get_bind().dialect.name == 'postgresql':
        for function in (
            'audit_entries_append_only', 'audit_chain_forward_only', 'audit_refuse_truncate'
        ):
            op.execute(f'DROP FUNCTION {function}()')
