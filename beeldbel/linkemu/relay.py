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
from collections import deque
from typing import Any

from beeldbel.linkemu.model import Schedule
from beeldbel.linkemu.state import Direction, Fate, Sends

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
    """``async with Relay(...) as relay``: listens on ``relay.listen_address``.

    Towards the target the relay sends from ``relay.upstream_address``, which is the
    client's address as the target sees it. A schedule segment with ``new_address``
    moves it to a new port when the segment begins (a handover); what the target still
    sends to the old one is counted as ``dropped_old_address`` and goes no further.
    """

    def __init__(self, listen: Address, target: Address, schedule: Schedule, seed: int = 1) -> None:
        self.listen = require_loopback(listen)
        self.target = require_loopback(target)
        self.schedule = schedule
        self.seed = seed
        self.up: Direction | None = None
        self.down: Direction | None = None
        self.started_at: float | None = None  # loop.time() when the schedule started
        self.sends = {"down": Sends(), "up": Sends()}
        self.dropped_old_address = 0
        self.addresses: list[Address] = []  # upstream addresses, the current one last
        self._client: Address | None = None
        self.clients: set[Address] = set()  # every address the client was heard from
        self._listen_transport: asyncio.DatagramTransport | None = None
        self._upstream_transport: asyncio.DatagramTransport | None = None
        self._old_upstream: list[asyncio.DatagramTransport] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._pending: dict[str, deque[tuple[Fate, bytes, Address | None]]] = {
            "down": deque(),
            "up": deque(),
        }
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listen_address(self) -> Address:
        assert self._listen_transport is not None
        host, port = self._listen_transport.get_extra_info("sockname")[:2]
        return host, port

    @property
    def upstream_address(self) -> Address:
        """The address the target hears the client from (changes with ``new_address``)."""
        assert self._upstream_transport is not None
        host, port = self._upstream_transport.get_extra_info("sockname")[:2]
        return host, port

    @property
    def sent(self) -> dict[str, int]:
        return {name: sends.sent for name, sends in self.sends.items()}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.started_at = now
        rng = random.Random(self.seed)  # noqa: S311 (emulation, not security)
        # One generator per direction, each seeded from the first: the two directions'
        # losses do not depend on how their packets interleave.
        self.down = Direction(self.schedule, "down", random.Random(rng.getrandbits(64)), now)  # noqa: S311
        self.up = Direction(self.schedule, "up", random.Random(rng.getrandbits(64)), now)  # noqa: S311
        self._listen_transport, _ = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=self.listen
        )
        await self._open_upstream()
        for start, segment in zip(self.schedule.starts, self.schedule.segments, strict=True):
            if segment.new_address:
                handle = loop.call_at(now + start, self._readdress)
                self._timers.add(handle)

    async def _open_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        transport: asyncio.DatagramTransport | None = None

        def from_target(data: bytes, addr: Address) -> None:
            if transport is self._upstream_transport:
                self._from_target(data, addr)
            else:
                self.dropped_old_address += 1

        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Side(from_target), remote_addr=self.target
        )
        if self._upstream_transport is not None:
            self._old_upstream.append(self._upstream_transport)
        self._upstream_transport = transport
        self.addresses.append(self.upstream_address)

    def _readdress(self) -> None:
        task = asyncio.get_running_loop().create_task(self._open_upstream())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _from_client(self, data: bytes, addr: Address) -> None:
        self._client = addr
        self.clients.add(addr)
        assert self.up is not None
        self._forward(self.up, "up", data, None)

    def _from_target(self, data: bytes, addr: Address) -> None:
        if self._client is None:
            return  # nobody to deliver to yet
        assert self.down is not None
        self._forward(self.down, "down", data, self._client)

    def _forward(self, direction: Direction, name: str, data: bytes, addr: Address | None) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        fate = direction.offer(now, len(data))
        if fate.deliver_at is None:
            return
        profile = direction.profile_at(now)
        reorder = profile is not None and profile.reorder
        if not reorder:
            self._pending[name].append((fate, data, addr))
        until = fate.deliver_at

        def due() -> None:
            self._timers.discard(handle)
            if reorder:
                self._send(name, data, addr, fate)
                return
            # Packets that must not overtake each other often share a delivery time, and
            # asyncio does not run timers of equal time in the order they were set: each
            # timer sends everything due up to its time, first in, first out.
            pending = self._pending[name]
            while pending and (pending[0][0].deliver_at or 0.0) <= until:
                first, first_data, first_addr = pending.popleft()
                self._send(name, first_data, first_addr, first)

        handle = loop.call_at(until, due)
        self._timers.add(handle)

    def _send(self, name: str, data: bytes, addr: Address | None, fate: Fate) -> None:
        # Up: from the upstream address in force when the packet is sent.
        transport = self._listen_transport if name == "down" else self._upstream_transport
        if transport is not None and not transport.is_closing():
            transport.sendto(data, addr)
            self.sends[name].record(asyncio.get_running_loop().time(), fate, len(data))

    def counters(self) -> dict[str, Any]:
        """Per direction: the model's counters plus what the relay sent (``Sends``)."""
        result: dict[str, Any] = {
            "profile": self.schedule.name,
            "dropped_old_address": self.dropped_old_address,
            "addresses": len(self.addresses),
            "clients": len(self.clients),
        }
        for name, direction in (("down", self.down), ("up", self.up)):
            if direction is not None:
                result[name] = {**direction.counters.as_dict(), **self.sends[name].as_dict()}
        return result

    async def close(self) -> None:
        """Stops listening and drops packets still in flight. Safe to call twice."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for pending in self._pending.values():
            pending.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for transport in (self._listen_transport, self._upstream_transport, *self._old_upstream):
            if transport is not None:
                transport.close()
        self._old_upstream.clear()

    async def __aenter__(self) -> Relay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
