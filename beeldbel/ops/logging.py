"""Structured logs: one JSON object per line on stdout, with the request id bound."""

from __future__ import annotations

import logging
import sys

import structlog

from beeldbel.settings import LogFormat, Settings

__all__ = ["configure_logging"]


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (aiohttp, SQLAlchemy, Alembic) to one output."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format is LogFormat.JSON
        # Plain tracebacks: the rich default prints local variables, which may hold secrets.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # aiohttp's own access log would duplicate ours (and log query strings).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Alembic announces its dialect on every readiness check; the CLI logs migrations itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
