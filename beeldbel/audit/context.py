"""Where the current request comes from, for audit entries made deep inside a use case."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["RequestOrigin", "current_origin"]


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    source: str | None  # the client's address, or "device:<id>", or "cli"
    request_id: str | None


UNKNOWN = RequestOrigin(source=None, request_id=None)  # frozen, so sharing it is safe
current_origin: ContextVar[RequestOrigin] = ContextVar(
    "beeldbel_request_origin",
    default=UNKNOWN,
)
