"""The application factory: ``create_app(settings)`` builds everything; nothing is global."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from beeldbel.api import (
    agenda,
    appkeys,
    audit,
    auth,
    calls,
    clients,
    contactlog,
    notes,
    retention,
    teams,
)
from beeldbel.api import web as web_shell
from beeldbel.api.errors import error_middleware
from beeldbel.api.idempotency import prune_expired
from beeldbel.api.middleware import request_context_middleware
from beeldbel.api.routing import Operation, register
from beeldbel.api.security import security_middleware
from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock, SystemClock
from beeldbel.db.engine import Database
from beeldbel.db.migrate import head_revisions
from beeldbel.identity.keys import Keyring
from beeldbel.identity.tokens import TokenService
from beeldbel.ops import health
from beeldbel.ops.metrics import HttpMetrics
from beeldbel.ops.tasks import BackgroundTasks
from beeldbel.organisation.service import TeamService
from beeldbel.ratelimit.stores import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from beeldbel.settings import Settings

__all__ = ["OPERATIONS", "create_app"]

# Each capability's HTTP module offers its operations and the resources it owns.
MODULES = (
    health,
    teams,
    auth,
    clients,
    contactlog,
    notes,
    retention,
    agenda,
    calls,
    audit,
    web_shell,
)
OPERATIONS: tuple[Operation, ...] = tuple(op for module in MODULES for op in module.OPERATIONS)

PRUNE_EVERY_SECONDS = 600.0


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = Database.from_settings(app[appkeys.SETTINGS])
    app[appkeys.DATABASE] = db
    app[appkeys.TEAMS] = TeamService(db, app[appkeys.CLOCK])
    app[appkeys.AUDIT] = AuditLog(db, app[appkeys.CLOCK])
    yield
    await db.dispose()


async def _rate_limiter(app: web.Application) -> AsyncIterator[None]:
    url = app[appkeys.SETTINGS].redis_url
    limiter: RateLimiter = RedisRateLimiter.from_url(url) if url else MemoryRateLimiter()
    app[appkeys.RATE_LIMITER] = limiter
    yield
    await limiter.close()


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    tasks = app[appkeys.TASKS]
    db, clock = app[appkeys.DATABASE], app[appkeys.CLOCK]
    tasks.every(
        "prune_idempotency_keys", PRUNE_EVERY_SECONDS, lambda: prune_expired(db, clock.now())
    )
    yield
    await tasks.close()


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[request_context_middleware, security_middleware, error_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or SystemClock()
    keyring = Keyring.load_or_create(settings.keys_dir)
    app[appkeys.TOKENS] = TokenService(
        keyring,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        lifetime=settings.token_lifetime,
    )
    registry = CollectorRegistry(auto_describe=True)
    app[appkeys.REGISTRY] = registry
    app[appkeys.HTTP_METRICS] = HttpMetrics(registry)
    app[appkeys.HEAD_REVISIONS] = head_revisions()
    # Made here, not in _background_tasks, so a module's context can start its own tasks;
    # _background_tasks (the last context) still stops them all first on shutdown.
    app[appkeys.TASKS] = BackgroundTasks()
    # Order matters: background tasks use the database, so they are torn down first.
    app.cleanup_ctx.extend(
        [
            _database,
            _rate_limiter,
            *(context for module in MODULES for context in module.CONTEXTS),
            _background_tasks,
        ]
    )
    register(app, OPERATIONS)
    return app
