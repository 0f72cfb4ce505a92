"""Keyset pagination in SQL: the query half of ``beeldbel.pagination``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from beeldbel.pagination import Cursor, PageRequest

__all__ = ["in_creation_order", "next_cursor", "split_page"]

R = TypeVar("R")


def in_creation_order(
    query: Select[Any],
    created_at: InstrumentedAttribute[Any],
    id_: InstrumentedAttribute[Any],
    page: PageRequest,
) -> Select[Any]:
    """``query`` ordered by (created_at, id), after the page's cursor, one row too many
    (so :func:`split_page` can tell whether another page follows)."""
    query = query.order_by(created_at, id_).limit(page.limit + 1)
    if page.after is not None:
        query = query.where(
            or_(
                created_at > page.after.created_at,
                and_(created_at == page.after.created_at, id_ > page.after.id),
            )
        )
    return query


def split_page(rows: Sequence[R], page: PageRequest) -> tuple[Sequence[R], bool]:
    """The rows of this page, and whether more follow."""
    return rows[: page.limit], len(rows) > page.limit


def next_cursor(last_created_at: Any, last_id: Any, more: bool) -> str | None:
    return Cursor(last_created_at, last_id).encode() if more else None
