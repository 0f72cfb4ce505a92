"""A participant's Socket.IO connection for the signaling tests (``peers`` fixture in conftest)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio

from tests.clients_support import World

WAIT = 5.0


class Peer:
    """A participant's Socket.IO connection and everything it heard."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.heard: dict[str, list[Any]] = defaultdict(list)
        self.arrived = asyncio.Event()
        for event in (
            "welcome",
            "call",
            "cue",
            "signal",
            "chat",
            "media",
            "notice",
            "mode",
            "quality",
            "hint",
            "phone",
            "connect_error",
        ):
            self.sio.on(event, self._hearing(event), namespace="/call")
        self.refusal: Any = None

    def _hearing(self, event: str) -> Any:
        async def heard(data: Any) -> None:
            self.heard[event].append(data)
            self.arrived.set()

        return heard

    async def connect(self, world: World, auth: dict[str, Any]) -> None:
        url = str(world.http.make_url("/"))
        await self.sio.connect(
            url, auth=auth, transports=["websocket"], namespaces=["/call"], wait_timeout=WAIT
        )
        await self.wait_for("welcome")

    async def send(self, event: str, payload: Any) -> Any:
        return await self.sio.call(event, payload, namespace="/call", timeout=WAIT)

    async def wait_for(self, event: str, where: Any = None) -> Any:
        async def found() -> Any:
            while True:
                for item in self.heard[event]:
                    if where is None or where(item):
                        return item
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(found(), WAIT)

    def seat(self, participant_id: str) -> str | None:
        calls = self.heard["call"]
        if not calls:
            return None
        seats = {s["participant_id"]: s["status"] for s in calls[-1]["seats"]}
        return seats.get(participant_id)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
