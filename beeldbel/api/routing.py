"""Operations: one declaration per route, from which both the router and OpenAPI are built.

An :class:`Operation` names its method and path, the pydantic models that validate
its path, query and body, its response model, who may call it and which class of
data it touches. :func:`register` turns a list of them into aiohttp routes wrapped
in the same edge logic, in this order:

1. rate limit per address                         -> 429
2. authentication and role                         -> 401, 403
3. rate limit per principal                        -> 429
4. path parameters                                 -> 404
5. query parameters                                -> 422
6. body: Content-Type, size, JSON, schema          -> 415, 413, 400, 422
7. Idempotency-Key (POST and PATCH)                -> replay, or 422 / 409
8. the handler, whose domain errors become 4xx in ``beeldbel.api.errors``
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from beeldbel.access.ledger import found_nothing, tracking
from beeldbel.access.model import Category, Grant
from beeldbel.api import appkeys
from beeldbel.api.errors import JSON, EdgeError
from beeldbel.api.idempotency import run_idempotent
from beeldbel.errors import Forbidden, RateLimited, Unauthenticated
from beeldbel.identity.model import Principal, PrincipalKind, Role
from beeldbel.ratelimit.rules import Limit

__all__ = [
    "REPLAY_GUARD",
    "Call",
    "CleanupContext",
    "DataClass",
    "Operation",
    "Reply",
    "client_address",
    "register",
]

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger("beeldbel.api")

JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})


class DataClass(StrEnum):
    """The class of data an operation touches; client data is audited (NEN 7513).

    An operation declaring ``CLIENT`` must reach the data through a grant of the access
    policy (which writes the audit entry); the edge refuses to answer otherwise.
    """

    NONE = "none"
    OPERATIONAL = "operational"
    ORGANISATION = "organisation"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer: a model to serialize (or None for 204) and its status."""

    model: BaseModel | None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """Everything a handler gets: the request, who made it and the validated inputs."""

    request: web.Request
    principal: Principal | None
    path: BaseModel | None
    query: BaseModel | None
    body: BaseModel | None

    @property
    def app(self) -> web.Application:
        return self.request.app

    def body_as(self, model: type[M]) -> M:
        assert isinstance(self.body, model)
        return self.body

    def query_as(self, model: type[M]) -> M:
        assert isinstance(self.query, model)
        return self.query

    def path_as(self, model: type[M]) -> M:
        assert isinstance(self.path, model)
        return self.path

    def who(self) -> Principal:
        assert self.principal is not None
        return self.principal


Handler = Callable[[Call], Awaitable[Reply | web.StreamResponse]]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    data: DataClass
    response: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    public: bool = False
    roles: frozenset[Role] = frozenset()  # empty: any authenticated principal of `kinds`
    kinds: frozenset[PrincipalKind] = frozenset({PrincipalKind.STAFF})
    rate_limited: bool = True
    errors: tuple[int, ...] = ()  # error statuses beyond those the edge adds itself
    media_type: str = JSON  # of the success response
    description: str = ""
    # False for answers that must never be stored and replayed (they carry tokens).
    idempotent_replay: bool = True

    @property
    def template(self) -> str:
        """The path as OpenAPI and aiohttp's canonical form write it: ``{name}``, no regex."""
        return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", self.path)

    @property
    def takes_idempotency_key(self) -> bool:
        return self.idempotent_replay and self.method in {"POST", "PATCH"}

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        statuses.add(422)  # unknown query parameters are refused everywhere
        if self.rate_limited:
            statuses.add(429)
        if not self.public:
            statuses.update({401, 403})
        if self.method not in {"GET", "HEAD"}:
            statuses.add(403)  # another site's origin, or a cookie request without CSRF token
        if self.path_params is not None:
            statuses.add(404)
        if self.body is not None:
            statuses.update({400, 413, 415, 422})
        if self.takes_idempotency_key:
            statuses.update({409, 422})
        return sorted(statuses)


OPERATION: web.AppKey[tuple[Operation, ...]] = web.AppKey("operations")
"""The operations the app serves, as declared: the source of the OpenAPI document."""


ReplayGuard = Callable[[Principal, list[tuple[UUID, Category]]], Awaitable[None]]
REPLAY_GUARD: web.AppKey[ReplayGuard] = web.AppKey("replay_guard")
"""Re-authorizes (and audits) a replayed answer that carried client data; set by the
capability that owns the access service. Without it, such replays are refused."""


def _validation_details(error: ValidationError, where: str) -> dict[str, Any]:
    # The input values are left out on purpose: they may hold personal data.
    return {
        "errors": [
            {"loc": [where, *e["loc"]], "type": e["type"], "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False, include_context=False)
        ]
    }


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise EdgeError(
            413,
            "body_too_large",
            f"the body may be at most {limit} bytes",
            details={"limit": limit},
        )
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise EdgeError(
            413,
            "body_too_large",
            f"the body may be at most {limit} bytes",
            details={"limit": limit},
        )
    return data


def _parse_body(op: Operation, raw: bytes) -> BaseModel:
    assert op.body is not None
    try:
        return op.body.model_validate_json(raw, strict=True)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise EdgeError(400, "malformed_json", "the body is not valid JSON") from None
        raise EdgeError(
            422,
            "validation_failed",
            "the body does not match the schema",
            details=_validation_details(error, "body"),
        ) from None


def _parse_query(op: Operation, request: web.Request) -> BaseModel | None:
    if op.query is None:
        if request.query:
            raise EdgeError(
                422,
                "validation_failed",
                "this operation takes no query parameters",
                details={"unknown": sorted(request.query.keys())},
            )
        return None
    values: dict[str, str] = {}
    for key, value in request.query.items():
        if key in values:
            raise EdgeError(422, "validation_failed", f"query parameter {key!r} given twice")
        values[key] = value
    try:
        return op.query.model_validate(values)
    except ValidationError as error:
        raise EdgeError(
            422,
            "validation_failed",
            "the query parameters are not valid",
            details=_validation_details(error, "query"),
        ) from None


def _parse_path(op: Operation, request: web.Request) -> BaseModel | None:
    if op.path_params is None:
        return None
    try:
        return op.path_params.model_validate(dict(request.match_info))
    except ValidationError:
        raise EdgeError(404, "not_found", "no such resource") from None


def client_address(request: web.Request) -> str:
    """The caller's address; behind a trusted reverse proxy, the one it forwarded for.

    X-Forwarded-For is read right to left and the first address that is not a
    trusted proxy wins, so a client cannot pick its own address by sending the header.
    """
    trusted = request.app[appkeys.SETTINGS].trusted_proxies
    peer = request.remote or "unknown"

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not is_trusted(hop):
            return hop
    return peer


async def _limit(request: web.Request, scope: str, key: str, limit: Limit) -> None:
    app = request.app
    decision = await app[appkeys.RATE_LIMITER].hit(
        f"{scope}:{key}", limit, app[appkeys.CLOCK].now().timestamp()
    )
    if not decision.allowed:
        app[appkeys.HTTP_METRICS].rate_limited.labels(scope).inc()
        raise RateLimited(
            "too many requests; slow down",
            retry_after=decision.retry_after,
            details={"scope": scope},
        )


def _authenticate(op: Operation, request: web.Request) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if op.public:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <access token>'")
    app = request.app
    principal = app[appkeys.TOKENS].verify(token.strip(), app[appkeys.CLOCK].now())
    if principal.kind not in op.kinds or (op.roles and not principal.has_any(op.roles)):
        raise Forbidden("you may not do this", details={"needs_roles": sorted(op.roles)})
    return principal


def _render(op: Operation, reply: Reply | web.StreamResponse) -> web.StreamResponse:
    if isinstance(reply, web.StreamResponse):
        return reply
    if reply.model is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.Response(
        status=reply.status,
        body=reply.model.model_dump_json().encode(),
        content_type=JSON,
        headers=reply.headers,
    )


def _wrap(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[appkeys.SETTINGS]
        if op.rate_limited:
            await _limit(
                request,
                "address",
                client_address(request),
                Limit.per_minute(settings.rate_limit_per_address),
            )
        principal = _authenticate(op, request)
        if op.rate_limited and principal is not None:
            await _limit(
                request,
                "principal",
                principal.subject,
                Limit.per_minute(settings.rate_limit_per_principal),
            )
        path = _parse_path(op, request)
        query = _parse_query(op, request)
        raw = b""
        body = None
        if op.body is not None:
            if request.content_type not in JSON_TYPES:
                raise EdgeError(415, "unsupported_media_type", "send the body as application/json")
            raw = await _read_body(request, settings.max_body_bytes)
            body = _parse_body(op, raw)
        call = Call(request=request, principal=principal, path=path, query=query, body=body)

        used: list[Grant] = []

        async def run() -> web.StreamResponse:
            if op.data is not DataClass.CLIENT:
                return _render(op, await op.handler(call))
            with tracking() as grants:
                response = _render(op, await op.handler(call))
                empty = found_nothing()  # an empty search result discloses no client
            if response.status < 400 and not grants and not empty:
                # Fail closed: client data must not leave without a grant (and its audit entry).
                log.error("client_data_without_grant", operation=op.operation_id)
                raise RuntimeError(f"{op.operation_id} answered with client data but no grant")
            used.extend(grants)
            return response

        key = request.headers.get("Idempotency-Key")
        if op.takes_idempotency_key and key is not None:
            owner = principal.subject if principal else f"address:{client_address(request)}"
            if op.data is not DataClass.CLIENT:
                return await run_idempotent(request, owner, key, raw, run)

            def touched() -> list[list[str]]:
                return [[str(grant.client_id), grant.category.value] for grant in used]

            async def before_replay(clients: list[list[str]]) -> None:
                guard = request.app.get(REPLAY_GUARD)
                if guard is None or principal is None:
                    raise RuntimeError(f"{op.operation_id}: no way to re-authorize a replay")
                await guard(principal, [(UUID(c), Category(k)) for c, k in clients])

            return await run_idempotent(
                request, owner, key, raw, run, touched=touched, before_replay=before_replay
            )
        return await run()

    return handle


def register(app: web.Application, operations: Sequence[Operation]) -> None:
    """Add every operation to the app's router, refusing duplicates and undeclared data.

    The first call also arranges a start-up check: a route that reached the router
    any other way (``app.router.add_get``) stops the app from starting, so no route
    escapes validation, authorization and the data-class declaration.
    """
    known = app.get(OPERATION, ())
    seen = {(op.method, op.path) for op in known}
    for op in operations:
        if (op.method, op.path) in seen:
            raise ValueError(f"{op.method} {op.path} is declared twice")
        if not isinstance(op.data, DataClass):
            raise ValueError(f"{op.method} {op.path} does not declare the data it touches")
        seen.add((op.method, op.path))
        app.router.add_route(op.method, op.path, _wrap(op), name=op.operation_id)
    if not known:
        app.on_startup.append(_refuse_undeclared_routes)
    app[OPERATION] = (*known, *operations)


async def _refuse_undeclared_routes(app: web.Application) -> None:
    declared = {(op.method, op.template) for op in app[OPERATION]}
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        if (route.method, resource.canonical) not in declared:
            raise RuntimeError(
                f"route {route.method} {resource.canonical} is not declared as an Operation "
                "(beeldbel.api.routing.register); it would bypass validation, authorization "
                "and the data-class declaration"
            )


def json_reply(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(), content_type=JSON)
