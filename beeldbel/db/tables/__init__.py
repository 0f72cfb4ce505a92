"""Every table, one module per capability. Alembic migrations must match them exactly.

Importing this package registers every table on ``beeldbel.db.base.metadata``.
"""

from beeldbel.db.tables import (
    audit,
    calls,
    clients,
    contactlog,
    identity,
    notes,
    platform,
    scheduling,
)
from beeldbel.db.tables.platform import IdempotencyKeyRow, TeamRow

__all__ = [
    "IdempotencyKeyRow",
    "TeamRow",
    "audit",
    "calls",
    "clients",
    "contactlog",
    "identity",
    "notes",
    "platform",
    "scheduling",
]
