"""/api/v1 operations of the audit capability (filled in by the identity issue)."""

from __future__ import annotations

from beeldbel.api.routing import CleanupContext, Operation

__all__ = ["CONTEXTS", "OPERATIONS"]

OPERATIONS: tuple[Operation, ...] = ()
CONTEXTS: tuple[CleanupContext, ...] = ()
