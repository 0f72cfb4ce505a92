"""Which grants a request has used: the HTTP edge checks that client data went through one.

The access service records every grant it issues here; an operation that declares
client data (``DataClass.CLIENT``) and answers successfully without a grant is a bug
the edge turns into a 500 rather than let data out unaudited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from beeldbel.access.model import Grant

__all__ = ["issued", "record_grant", "tracking"]

_issued: ContextVar[list[Grant] | None] = ContextVar("beeldbel_grants_issued", default=None)


def record_grant(grant: Grant) -> None:
    grants = _issued.get()
    if grants is not None:
        grants.append(grant)


def issued() -> list[Grant]:
    return list(_issued.get() or [])


@contextmanager
def tracking() -> Iterator[list[Grant]]:
    grants: list[Grant] = []
    token = _issued.set(grants)
    try:
        yield grants
    finally:
        _issued.reset(token)
