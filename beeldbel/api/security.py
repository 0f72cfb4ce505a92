"""Web security baseline: security headers, the origin allowlist, CORS and CSRF.

:func:`security_middleware` sits between the request-context middleware and the error
middleware, so it sees every answer, the error middleware's included. For each request:

1. A CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
   to an ``/api/`` path is answered here: 204 with the CORS headers for an allowed origin,
   403 ``origin_not_allowed`` for any other. No route is added to the router for it.
2. An unsafe request (any method but GET, HEAD, OPTIONS and TRACE) must pass
   :func:`origin_allowed`, else 403 ``origin_not_allowed``.
3. An unsafe request that carries the ``bb_refresh`` cookie must send ``X-CSRF-Token``
   equal to the ``bb_csrf`` cookie, else 403 ``csrf_failed`` (double submit; the
   sign-in cookie is the only thing that makes a request act without the page's say).
   Requests authenticated by ``Authorization: Bearer`` alone need no token: a browser
   never adds that header on its own.
4. Every answer that has not been sent yet gets the security headers (see
   :func:`apply_security_headers`); an ``HTTPException`` raised past the error
   middleware gets them too.

CORS answers never say ``Access-Control-Allow-Credentials``: other origins call the API
with a bearer token, and the refresh cookie (SameSite=Strict, Path=/api/v1/auth) stays
with the service's own pages. Letting an allowed origin send it would let that origin
renew a user's session, which is more trust than "may call the API".

Behind a reverse proxy, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only
from an address in ``settings.trusted_proxies``; from anyone else they are ignored.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from typing import Final

import structlog
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from beeldbel.api import appkeys
from beeldbel.api.errors import Handler, error_response

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "apply_security_headers",
    "content_security_policy",
    "origin_allowed",
    "own_origin",
    "parse_origin",
    "request_is_tls",
    "security_middleware",
]

log = structlog.get_logger("beeldbel.security")

REFRESH_COOKIE: Final = "bb_refresh"
CSRF_COOKIE: Final = "bb_csrf"
CSRF_HEADER: Final = "X-CSRF-Token"

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CORS_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-CSRF-Token",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS: Final = ("Idempotent-Replayed", "Retry-After", "X-Request-ID")
CORS_MAX_AGE_SECONDS: Final = 600

HSTS: Final = "max-age=31536000; includeSubDomains"

# Camera, microphone and screen capture for our own pages (calls need them: a worker shares
# their screen); the rest is switched off.
# Features whose default is already "self" and that calls may want (autoplay,
# fullscreen, screen-wake-lock for the tablet kiosk) are left at their default.
PERMISSIONS_POLICY: Final = ", ".join(
    [
        "camera=(self)",
        "microphone=(self)",
        "accelerometer=()",
        "bluetooth=()",
        "display-capture=(self)",
        "geolocation=()",
        "gyroscope=()",
        "hid=()",
        "magnetometer=()",
        "midi=()",
        "payment=()",
        "serial=()",
        "usb=()",
    ]
)

STATIC_HEADERS: Final[tuple[tuple[str, str], ...]] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)

# host[:port] as it may appear in a Host header: a DNS name, an IPv4 or a bracketed IPv6
# address. Anything else is kept out of the Content-Security-Policy header.
_HOST: Final = re.compile(
    r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)

Origin = tuple[str, str, int]
"""A normalised origin: scheme, host (lower case, IDNA) and port (default filled in)."""


# Where the request came from ---------------------------------------------------------------


def _from_trusted_proxy(request: web.Request) -> bool:
    trusted = request.app[appkeys.SETTINGS].trusted_proxies
    if not trusted or request.remote is None:
        return False
    try:
        peer = ipaddress.ip_address(request.remote.strip("[]"))
    except ValueError:
        return False
    return any(peer in network for network in trusted)


def _forwarded(request: web.Request, name: str) -> str | None:
    """The value a trusted proxy put in an ``X-Forwarded-*`` header, else None.

    Of a comma-separated list the last entry counts: that is the one the nearest proxy,
    the one we trust, wrote; earlier entries may come from the client.
    """
    if not _from_trusted_proxy(request):
        return None
    entries = [
        entry.strip()
        for value in request.headers.getall(name, [])
        for entry in value.split(",")
        if entry.strip()
    ]
    return entries[-1] if entries else None


def request_is_tls(request: web.Request) -> bool:
    """True if the request reached us over TLS, directly or through a trusted TLS proxy."""
    if request.secure:
        return True
    return (_forwarded(request, "X-Forwarded-Proto") or "").lower() == "https"


def _own_host(request: web.Request) -> str:
    # The Host header itself, not request.host: without one, that asks DNS (blocking).
    return (_forwarded(request, "X-Forwarded-Host") or request.headers.get("Host") or "").lower()


def own_origin(request: web.Request) -> str:
    """The service's own origin as the browser sees it: ``scheme://host[:port]``."""
    scheme = "https" if request_is_tls(request) else "http"
    return f"{scheme}://{_own_host(request)}"


# Origins ----------------------------------------------------------------------------------


def parse_origin(value: str) -> Origin | None:
    """Normalise an origin (``https://Example.nl:443/`` equals ``https://example.nl``).

    None for anything that is not a plain http(s) origin: ``null``, paths, credentials,
    query strings, other schemes, garbage.
    """
    try:
        url = URL(value.strip())
        port = url.port
    except (ValueError, TypeError):
        return None
    if (
        url.scheme not in {"http", "https"}
        or not url.raw_host
        or port is None
        or url.raw_path not in {"", "/"}
        or url.raw_query_string
        or url.raw_fragment
        or url.raw_user is not None
        or url.raw_password is not None
    ):
        return None
    return (url.scheme, url.raw_host.lower(), port)


@functools.lru_cache(maxsize=16)
def _allowlist(origins: tuple[str, ...]) -> frozenset[Origin]:
    return frozenset(parsed for value in origins if (parsed := parse_origin(value)) is not None)


def _origin_is_allowed(request: web.Request, origin: str) -> bool:
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    if parsed == parse_origin(own_origin(request)):
        return True
    return parsed in _allowlist(tuple(request.app[appkeys.SETTINGS].allowed_origins))


def origin_allowed(request: web.Request) -> bool:
    """May this request act on the service, judged by where the browser says it comes from?

    For every unsafe API request, and for the Socket.IO handshake (which the Socket.IO
    edge refuses when this returns False). True when:

    * ``Origin`` is the service's own origin (``scheme://host[:port]`` as the browser sees
      it, through trusted proxies) or one of ``settings.allowed_origins``; or
    * there is no ``Origin`` and ``Sec-Fetch-Site`` does not say the request is
      ``cross-site`` or ``same-site``: a client that is not a browser, or a browser
      request that no other site started.

    False for ``Origin: null`` (sandboxed frames, opaque redirects), for several
    ``Origin`` headers and for any other origin. Browsers send ``Origin`` on every
    WebSocket handshake and every request that is not GET or HEAD, so a page on another
    site cannot pass by leaving it out.
    """
    origins = request.headers.getall("Origin", [])
    if not origins:
        return request.headers.get("Sec-Fetch-Site", "").lower() not in {"cross-site", "same-site"}
    if len(origins) > 1:
        return False
    return _origin_is_allowed(request, origins[0])


# Headers ----------------------------------------------------------------------------------


def content_security_policy(request: web.Request) -> str:
    """No inline script or style, no plugins, no framing; WebSockets to our own host only.

    ``'self'`` covers ``ws:``/``wss:`` of the own host in CSP Level 3, but older Safari
    needs them spelled out.
    """
    return _policy_for_host(_own_host(request))


@functools.lru_cache(maxsize=64)
def _policy_for_host(host: str) -> str:
    connect = ["'self'"]
    if _HOST.fullmatch(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    directives = (
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("img-src", "'self' data: blob:"),
        ("media-src", "'self' blob:"),
        ("connect-src", " ".join(connect)),
        ("object-src", "'none'"),
        ("base-uri", "'none'"),
        ("form-action", "'self'"),
        ("frame-ancestors", "'none'"),
    )
    return "; ".join(f"{name} {value}" for name, value in directives)


def _is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _add_vary(headers: CIMultiDict[str], name: str) -> None:
    present = [v.strip() for value in headers.getall("Vary", []) for v in value.split(",")]
    if name.lower() not in {v.lower() for v in present if v}:
        headers["Vary"] = ", ".join([*(v for v in present if v), name])


def _cors_headers(request: web.Request, headers: CIMultiDict[str]) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin_allowed(request):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSED_HEADERS)


def _secure_headers(request: web.Request, headers: CIMultiDict[str]) -> None:
    for name, value in STATIC_HEADERS:
        headers[name] = value
    headers["Content-Security-Policy"] = content_security_policy(request)
    if request_is_tls(request):
        headers["Strict-Transport-Security"] = HSTS
    if _is_api(request):
        # API answers hold personal data: no cache (browser or proxy) may keep them.
        headers["Cache-Control"] = "no-store"
        _add_vary(headers, "Origin")
        _cors_headers(request, headers)


def apply_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Give ``response`` the security headers; call it before ``response.prepare()``.

    The middleware does this for every answer it gets back unsent. A handler that sends
    its answer itself (streaming, WebSocket) must call this first; headers added after
    ``prepare()`` would never reach the client.
    """
    _secure_headers(request, response.headers)


# Refusals ---------------------------------------------------------------------------------


def _refuse(request: web.Request, code: str, message: str, **details: str) -> web.Response:
    log.warning("request_refused", code=code, method=request.method, path=request.path)
    return error_response(403, code, message, details)


def _origin_refusal(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin")
    if origin is None:
        return _refuse(
            request,
            "origin_not_allowed",
            "a request started by another site may not change anything here",
        )
    parsed, own = parse_origin(origin), parse_origin(own_origin(request))
    if parsed is not None and own is not None and parsed[1] == own[1] and parsed[0] != own[0]:
        # The usual misconfiguration: TLS ends at a proxy we were not told to trust.
        message = (
            "this origin differs from the service's own only in its scheme; behind a TLS "
            "proxy, list it in BEELDBEL_TRUSTED_PROXIES and have it send X-Forwarded-Proto"
        )
    else:
        message = "requests from this origin are not allowed"
    return _refuse(request, "origin_not_allowed", message, origin=origin[:200])


def _csrf_token_matches(request: web.Request) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(sent) and bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def _preflight(request: web.Request) -> web.Response:
    if not origin_allowed(request):
        return _origin_refusal(request)
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(CORS_METHODS)
    response.headers["Access-Control-Allow-Headers"] = ", ".join(CORS_REQUEST_HEADERS)
    response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    return response


def _is_preflight(request: web.Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _gate(request: web.Request) -> web.Response | None:
    """An answer given here instead of the handler's, or None to let the request through."""
    if _is_preflight(request) and _is_api(request):
        return _preflight(request)
    if request.method in SAFE_METHODS:
        return None
    if not origin_allowed(request):
        return _origin_refusal(request)
    if REFRESH_COOKIE in request.cookies and not _csrf_token_matches(request):
        return _refuse(
            request,
            "csrf_failed",
            f"send the {CSRF_HEADER} header with the value of the {CSRF_COOKIE} cookie",
        )
    return None


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response: web.StreamResponse | None = _gate(request)
        if response is None:
            response = await handler(request)
    except web.HTTPException as exc:
        # Redirects (and anything else raised past the error middleware) are answered by
        # aiohttp from the exception itself: its headers are the ones sent.
        _secure_headers(request, exc.headers)
        raise
    except Exception:
        # The error middleware catches everything; this is the belt to its braces.
        log.exception("unhandled_error", path=request.path, method=request.method)
        response = error_response(
            500,
            "internal",
            "Something went wrong on our side. It has been logged; please try again.",
        )
    if not response.prepared:
        apply_security_headers(request, response)
    return response
