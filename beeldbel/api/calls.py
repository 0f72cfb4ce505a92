"""Calls on the HTTP side: the Socket.IO endpoint of the ``/call`` namespace, and the jobs
that let calls' time pass.

``GET /socket.io/`` is a declared operation like every route: WebSocket transport only (no
long-polling), public (the namespace authenticates each connection from its auth payload,
never from the URL), rate-limited per address. Socket.IO's own Origin check keeps other
sites' pages out (only Beeldbel's own origin and ``BEELDBEL_ALLOWED_ORIGINS``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Literal

import socketio
from aiohttp import web
from pydantic import Field

from beeldbel.api import appkeys
from beeldbel.api.routing import Call, CleanupContext, DataClass, Operation
from beeldbel.api.schemas import Request
from beeldbel.calls.model import MAX_MESSAGE_BYTES
from beeldbel.calls.service import CallService
from beeldbel.signaling.hub import CallHub, CallNamespace, IceConfig

__all__ = ["CALLS", "CONTEXTS", "HUB", "OPERATIONS", "SOCKETIO"]

CALLS = web.AppKey("calls", CallService)
HUB = web.AppKey("call_hub", CallHub)
SOCKETIO: web.AppKey[socketio.AsyncServer] = web.AppKey("socketio")
TICK_SECONDS = 2.0
QUALITY_TICK_SECONDS = 1.0  # the quality controller must hear time pass once a second
CLOSE_UNJOINED_SECONDS = 60.0


async def _calls(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    db, clock = app[appkeys.DATABASE], app[appkeys.CLOCK]
    service = CallService(
        db,
        clock,
        app[appkeys.AUDIT],
        grace=timedelta(seconds=settings.call_grace_seconds),
        auto_admit_client=settings.auto_admit_client,
    )
    manager = None
    if settings.redis_url:
        # Several processes: rooms and emits reach sockets on every process.
        manager = socketio.AsyncRedisManager(settings.redis_url, channel="beeldbel-call")
    sio = socketio.AsyncServer(
        client_manager=manager,
        async_mode="aiohttp",
        transports=["websocket"],
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        cors_allowed_origins=settings.allowed_origins or None,
        ping_interval=10,  # a dead link is noticed within half a minute
        ping_timeout=15,
        # One connection's messages are handled one after the other, in the order they were
        # sent: an answer reaches its peer before the ICE candidates sent after it. (By
        # default every message is a task of its own, and relaying one waits for a read of
        # the call, so a candidate could overtake its description.)
        async_handlers=False,
    )
    hub = CallHub(
        sio,
        db,
        clock,
        app[appkeys.TOKENS],
        service,
        IceConfig.from_settings(settings),
        app[appkeys.REGISTRY],
        quality_control=settings.quality_control,
    )
    sio.register_namespace(CallNamespace(hub))
    app[CALLS], app[HUB], app[SOCKETIO] = service, hub, sio
    tasks = app[appkeys.TASKS]
    tasks.every("tick_calls", TICK_SECONDS, hub.tick)
    tasks.every("tick_call_quality", QUALITY_TICK_SECONDS, hub.tick_quality)
    tasks.every("close_unjoined_calls", CLOSE_UNJOINED_SECONDS, service.close_unjoined)
    yield
    await sio.shutdown()


CONTEXTS: tuple[CleanupContext, ...] = (_calls,)


class EngineQuery(Request):
    EIO: Literal["4"]
    transport: Literal["websocket"]
    sid: str | None = Field(None, max_length=64)
    t: str | None = Field(None, max_length=32)


async def socketio_endpoint(call: Call) -> web.StreamResponse:
    response = await call.app[SOCKETIO].handle_request(call.request)
    assert isinstance(response, web.StreamResponse)
    return response


OPERATIONS = (
    Operation(
        "GET",
        "/socket.io/",
        socketio_endpoint,
        "callSignaling",
        "Call signaling (Socket.IO over WebSocket, namespace /call)",
        "calls",
        DataClass.OPERATIONAL,
        query=EngineQuery,
        public=True,
        description="Connect with auth `{appointment_id, join_token}` or "
        "`{appointment_id, access_token}`. See beeldbel/signaling/hub.py for the messages.",
    ),
)
