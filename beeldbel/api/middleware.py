"""The outermost middleware: request id and origin, one log line per request, HTTP metrics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from beeldbel.api import appkeys
from beeldbel.api.routing import client_address
from beeldbel.audit.context import RequestOrigin, current_origin

__all__ = ["request_context_middleware"]

log = structlog.get_logger("beeldbel.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_template(request: web.Request) -> str:
    # The template, not the path: keeps metric labels few and ids out of them.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    route = _route_template(request)
    metrics = request.app[appkeys.HTTP_METRICS]
    started = time.perf_counter()
    status = 500
    metrics.in_flight.inc()
    origin = current_origin.set(
        RequestOrigin(source=client_address(request), request_id=request_id)
    )
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
            status = response.status
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            metrics.in_flight.dec()
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.duration.labels(request.method, route).observe(elapsed)
            # The path without its query string: secrets never travel there, but be sure.
            current_origin.reset(origin)
            log.info(
                "request",
                method=request.method,
                route=route,
                path=request.path,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
