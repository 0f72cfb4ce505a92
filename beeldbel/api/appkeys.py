"""Typed keys for what the application shares between requests. No globals."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from beeldbel.audit.service import AuditLog
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.identity.tokens import TokenService
from beeldbel.ops.metrics import HttpMetrics
from beeldbel.ops.tasks import BackgroundTasks
from beeldbel.organisation.service import TeamService
from beeldbel.ratelimit.stores import RateLimiter
from beeldbel.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
DATABASE = web.AppKey("database", Database)
TOKENS = web.AppKey("tokens", TokenService)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)
TASKS = web.AppKey("background_tasks", BackgroundTasks)
TEAMS = web.AppKey("teams", TeamService)
AUDIT = web.AppKey("audit", AuditLog)
HEAD_REVISIONS = web.AppKey("head_revisions", frozenset)
