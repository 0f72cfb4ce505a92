"""/healthz, /readyz, /metrics and /api/openapi.json."""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from beeldbel.api import appkeys
from beeldbel.api.errors import error_response
from beeldbel.api.openapi import build_openapi
from beeldbel.api.routing import (
    OPERATION,
    Call,
    CleanupContext,
    DataClass,
    Operation,
    json_reply,
)
from beeldbel.db.migrate import current_revisions

__all__ = ["CONTEXTS", "OPERATIONS"]


async def healthz(call: Call) -> web.StreamResponse:
    """Alive: the process answers. Says nothing about the database."""
    return json_reply({"status": "ok"})


async def readyz(call: Call) -> web.StreamResponse:
    """Ready: the database answers and its schema is the one this code expects."""
    app = call.app
    checks: dict[str, str] = {}
    try:
        current = await current_revisions(app[appkeys.DATABASE])
        expected = app[appkeys.HEAD_REVISIONS]
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == expected else "pending"
    except Exception:  # any failure to reach the database means not ready
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    ready = all(value == "ok" for value in checks.values())
    return json_reply(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(call: Call) -> web.StreamResponse:
    token = call.app[appkeys.SETTINGS].metrics_token
    if token is not None:
        scheme, _, sent = call.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            return error_response(401, "unauthenticated", "metrics need the metrics token")
    body = generate_latest(call.app[appkeys.REGISTRY])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def openapi(call: Call) -> web.StreamResponse:
    operations = call.app[OPERATION]
    return json_reply(build_openapi(operations))


CONTEXTS: tuple[CleanupContext, ...] = ()

OPERATIONS = (
    Operation(
        "GET",
        "/healthz",
        healthz,
        "healthz",
        "Liveness",
        "operations",
        DataClass.NONE,
        public=True,
        rate_limited=False,
    ),
    Operation(
        "GET",
        "/readyz",
        readyz,
        "readyz",
        "Readiness: database and migrations",
        "operations",
        DataClass.OPERATIONAL,
        public=True,
        rate_limited=False,
        errors=(503,),
    ),
    Operation(
        "GET",
        "/metrics",
        metrics,
        "metrics",
        "Prometheus metrics",
        "operations",
        DataClass.OPERATIONAL,
        public=True,
        rate_limited=False,
        errors=(401,),
        media_type="text/plain",
    ),
    Operation(
        "GET",
        "/api/openapi.json",
        openapi,
        "openapi",
        "This document",
        "operations",
        DataClass.NONE,
        public=True,
    ),
)
