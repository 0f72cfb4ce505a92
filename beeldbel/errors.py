"""The one exception tree of Beeldbel's domain and use cases.

Every error a caller can act on is a :class:`BeeldbelError`; the HTTP edge
(``beeldbel.api.errors``) and, later, the Socket.IO edge translate them in one place::

    BeeldbelError                 code                  HTTP
    ├── InvalidInput              invalid_input         422
    ├── Unauthenticated           unauthenticated       401
    ├── Forbidden                 forbidden             403
    ├── NotFound                  not_found             404
    ├── Conflict                  conflict              409
    │   ├── InvalidTransition     invalid_transition    409
    │   └── StaleVersion          stale_version         409
    ├── RateLimited               rate_limited          429 (+ Retry-After)
    └── Unavailable               unavailable           503

Domain code raises these and nothing else; it never knows about status codes.
Messages are plain English for developers and logs; user-facing text lives in
the front end's message catalogs, keyed by ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "BeeldbelError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "RateLimited",
    "StaleVersion",
    "Unauthenticated",
    "Unavailable",
]


class BeeldbelError(Exception):
    """Base of every error Beeldbel's domain raises on purpose."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class InvalidInput(BeeldbelError):
    """The request is well-formed but breaks a rule of the domain."""

    code = "invalid_input"


class Unauthenticated(BeeldbelError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class Forbidden(BeeldbelError):
    """The principal is known but may not do this."""

    code = "forbidden"


class NotFound(BeeldbelError):
    """The thing asked for does not exist (or is not visible to the principal)."""

    code = "not_found"


class Conflict(BeeldbelError):
    """The request clashes with the current state (a duplicate, an overlap, ...)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A state machine was asked for a transition its current state does not allow."""

    code = "invalid_transition"


class StaleVersion(Conflict):
    """An update was based on a version that has since changed."""

    code = "stale_version"


class RateLimited(BeeldbelError):
    """Too many requests; the caller may retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Unavailable(BeeldbelError):
    """A dependency (database, Redis, media node) cannot be reached right now."""

    code = "unavailable"
