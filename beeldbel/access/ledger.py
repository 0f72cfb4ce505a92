"""Which grants a request has used: the HTTP edge checks that client data went through one.

The access service records every grant it issues here; an operation that declares
client data (``DataClass.CLIENT``) and answers successfully without a grant is a bug
the edge turns into a 500 rather than let data out unaudited. A search that found nothing
it may show (an empty list) discloses nothing and says so with :func:`record_nothing_found`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from beeldbel.access.model import Grant

__all__ = ["found_nothing", "issued", "record_grant", "record_nothing_found", "tracking"]

_issued: ContextVar[list[Grant] | None] = ContextVar("beeldbel_grants_issued", default=None)
_empty: ContextVar[list[bool] | None] = ContextVar("beeldbel_found_nothing", default=None)


def record_grant(grant: Grant) -> None:
    grants = _issued.get()
    if grants is not None:
        grants.append(grant)


def record_nothing_found() -> None:
    """The answer lists no client at all (an empty search result): no grant is needed."""
    empty = _empty.get()
    if empty is not None:
        empty.append(True)


def found_nothing() -> bool:
    """Whether the current operation said its answer holds no client data."""
    return bool(_empty.get())


def issued() -> list[Grant]:
    return list(_issued.get() or [])


@contextmanager
def tracking() -> Iterator[list[Grant]]:
    grants: list[Grant] = []
    token = _issued.set(grants)
    empty_token = _empty.set([])
    try:
        yield grants
    finally:
        _empty.reset(empty_token)
        _issued.reset(token)
