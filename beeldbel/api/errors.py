"""Errors become HTTP answers here, and only here.

Every error answer has one shape::

    {"error": {"code": "not_found", "message": "no such team", "details": {...}}}

``code`` is stable and machine-readable (the front end keys its Dutch and English
text on it); ``message`` is for developers; ``details`` may be empty. Stack traces
never leave the process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import structlog
from aiohttp import web

from beeldbel.errors import (
    BeeldbelError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "EdgeError",
    "error_middleware",
    "error_response",
    "response_for_error",
]

log = structlog.get_logger("beeldbel.api")

JSON: Final = "application/json"

_STATUS: Final[tuple[tuple[type[BeeldbelError], int], ...]] = (
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (Unavailable, 503),
)

_HTTP_CODES: Final[dict[int, str]] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


class EdgeError(Exception):
    """A problem with the HTTP request itself, found before any use case runs."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": dict(details or {})}}
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type=JSON,
        headers=headers,
    )


def status_for(error: BeeldbelError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def response_for_error(error: BeeldbelError | EdgeError) -> web.Response:
    """The answer for an error raised on purpose, by the domain or by the edge."""
    if isinstance(error, EdgeError):
        return error_response(error.status, error.code, error.message, error.details, error.headers)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        # Rounded up: a client that waits exactly this long must get through.
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="beeldbel"'
    status = status_for(error)
    return error_response(status, error.code, error.message, error.details, headers)


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        details: dict[str, Any] = {"allowed": sorted(exc.allowed_methods)}
    else:
        details = {}
    code = _HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal")
    return error_response(exc.status, code, exc.reason, details, headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (BeeldbelError, EdgeError) as error:
        return response_for_error(error)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like pass through untouched
            raise
        return _from_http_exception(exc)
    except Exception:
        log.exception("unhandled_error", path=request.path, method=request.method)
        return error_response(
            500,
            "internal",
            "Something went wrong on our side. It has been logged; please try again.",
        )
