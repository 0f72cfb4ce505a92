"""Keyset pagination, shared by every list: stable under inserts, no OFFSET scans.

A page is asked for with ``limit`` and an opaque ``cursor`` taken from the previous
page's ``next_cursor``. The cursor encodes the sort key of the last item returned.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from beeldbel.errors import InvalidInput

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Cursor", "Page", "PageRequest"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after an item ordered by (created_at, id)."""

    created_at: datetime
    id: UUID

    def encode(self) -> str:
        raw = json.dumps({"t": self.created_at.isoformat(), "i": str(self.id)}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            created_at = datetime.fromisoformat(data["t"])
            if created_at.tzinfo is None:
                raise ValueError("naive")
            return cls(created_at=created_at, id=UUID(data["i"]))
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
            raise InvalidInput(
                "the cursor is not one this service handed out", details={"field": "cursor"}
            ) from None


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None
