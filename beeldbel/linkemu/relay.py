"""The only I/O of the link emulator: a UDP relay on loopback, one ``Direction`` each way.

A client sends to the relay's listening address; the relay forwards to the target from
its own upstream socket and sends the target's answers back to the client (the last
address it heard from). Each packet is put through the model with ``loop.time()`` and
sent when the model says, or not at all. One client at a time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from typing import Any

from beeldbel.linkemu.model import Schedule
from beeldbel.linkemu.state import Direction

__all__ = ["Relay", "require_loopback"]

Address = tuple[str, int]


def require_loopback(address: Address) -> Address:
    """Refuse anything but loopback: only loopback is a legal place to emulate links here."""
    if not ipaddress.ip_address(address[0]).is_loopback:
        raise ValueError(f"{address[0]} is not a loopback address")
    return address


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_packet: Any) -> None:
        self.on_packet = on_packet

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Bursts at LAN speed overflow the default buffer before the loop gets to them.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_packet(data, addr)


class Relay:
    """``async with Relay(...) as relay``: listens on ``relay.listen_address``."""

    def __init__(self, listen: Address, target: Address, schedule: Schedule, seed: int = 1) -> None:
        self.listen = require_loopback(listen)
        self.target = require_loopback(target)
        self.schedule = schedule
        self.seed = seed
        self.up: Direction | None = None
        self.down: Direction | None = None
        self.sent = {"down": 0, "up": 0}
        self._client: Address | None = None
        self._listen_transport: asyncio.DatagramTransport | None = None
        self._upstream_transport: asyncio.DatagramTransport | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    @property
    def listen_address(self) -> Address:
        assert self._listen_transport is not None
        host, port = self._listen_transport.get_extra_info("sockname")[:2]
        return host, port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        rng = random.Random(self.seed)  # noqa: S311 (emulation, not security)
        # One generator per direction, each seeded from the first: the two directions'
        # losses do not depend on how their packets interleave.
        self.down = Direction(self.schedule, "down", random.Random(rng.getrandbits(64)), now)  # noqa: S311
        self.up = Direction(self.schedule, "up", random.Random(rng.getrandbits(64)), now)  # noqa: S311
        self._listen_transport, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=self.listen
        )
        self._upstream_transport, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_target), remote_addr=self.target
        )

    def _from_client(self, data: bytes, addr: Address) -> None:
        self._client = addr
        assert self.up is not None
        assert self._upstream_transport is not None
        self._forward(self.up, "up", data, self._upstream_transport, None)

    def _from_target(self, data: bytes, addr: Address) -> None:
        if self._client is None:
            return  # nobody to deliver to yet
        assert self.down is not None
        assert self._listen_transport is not None
        self._forward(self.down, "down", data, self._listen_transport, self._client)

    def _forward(
        self,
        direction: Direction,
        name: str,
        data: bytes,
        transport: asyncio.DatagramTransport,
        addr: Address | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        fate = direction.offer(loop.time(), len(data))
        if fate.deliver_at is None:
            return

        def send() -> None:
            self._timers.discard(handle)
            if not transport.is_closing():
                transport.sendto(data, addr)
                self.sent[name] += 1

        handle = loop.call_at(fate.deliver_at, send)
        self._timers.add(handle)

    def counters(self) -> dict[str, Any]:
        """Per direction: the model's counters plus ``sent`` (delivered and already sent)."""
        result: dict[str, Any] = {"profile": self.schedule.name}
        for name, direction in (("down", self.down), ("up", self.up)):
            if direction is not None:
                result[name] = {**direction.counters.as_dict(), "sent": self.sent[name]}
        return result

    async def close(self) -> None:
        """Stops listening and drops packets still in flight. Safe to call twice."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for transport in (self._listen_transport, self._upstream_transport):
            if transport is not None:
                transport.close()

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
