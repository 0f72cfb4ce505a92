"""The only I/O of the link emulator: a UDP relay on loopback, one ``Direction`` each way.

A client sends to the relay's listening address; the relay forwards to the target from
its own upstream socket and sends the target's answers back to the client (the last
address it heard from). Each packet is put through the model with ``loop.time()`` and
sent when the model says, or not at all. One client at a time.

With a ``stream_target`` the relay also carries TCP connections to it over the same link
(a client's signaling shares its media's link, and its queue): what either end writes goes
through the same ``Direction`` in pieces of up to :data:`STREAM_PIECE` bytes, in order. A
piece the model drops is offered again after a retransmission timeout (a round trip plus
200 ms, doubling while they keep being dropped, as TCP backs off), and those after it
wait: a lost piece holds up the stream as it does in TCP. Acknowledgements are not
emulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
from collections import deque
from typing import Any

from beeldbel.linkemu.model import Schedule
from beeldbel.linkemu.state import Direction, Fate, Sends

__all__ = ["STREAM_PIECE", "Relay", "require_loopback"]

Address = tuple[str, int]
To = Address | asyncio.StreamWriter | None  # where a packet goes: a stream's, for a stream

STREAM_PIECE = 1200  # bytes: one packet of a stream
RETRANSMIT_MIN_S = 0.2  # Linux's minimum retransmission timeout, on top of the round trip
RETRANSMIT_MAX_S = 6.4  # backing off from 0.2 s, the fifth retry waits this long


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

    def __init__(
        self,
        listen: Address,
        target: Address,
        schedule: Schedule,
        seed: int = 1,
        stream_target: Address | None = None,
    ) -> None:
        self.listen = require_loopback(listen)
        self.target = require_loopback(target)
        self.stream_target = None if stream_target is None else require_loopback(stream_target)
        self._stream_server: asyncio.Server | None = None
        self.streams = 0  # TCP connections carried
        self.resent = {"down": 0, "up": 0}  # stream pieces offered again after a drop
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
        self._pending: dict[str, deque[tuple[Fate, bytes, To]]] = {
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
    def stream_address(self) -> Address | None:
        """Where TCP connections to ``stream_target`` are taken (None without one)."""
        if self._stream_server is None:
            return None
        host, port = self._stream_server.sockets[0].getsockname()[:2]
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
        if self.stream_target is not None:
            self._stream_server = await asyncio.start_server(self._stream, self.listen[0], 0)
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

    def _forward(
        self,
        direction: Direction,
        name: str,
        data: bytes,
        addr: To,
        in_order: bool = False,
    ) -> Fate:
        loop = asyncio.get_running_loop()
        now = loop.time()
        fate = direction.offer(now, len(data))
        if fate.deliver_at is None:
            return fate
        profile = direction.profile_at(now)
        reorder = not in_order and profile is not None and profile.reorder
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
        return fate

    def _send(self, name: str, data: bytes, addr: To, fate: Fate) -> None:
        if isinstance(addr, asyncio.StreamWriter):
            if not addr.is_closing():
                addr.write(data)
                self.sends[name].record(asyncio.get_running_loop().time(), fate, len(data))
            return
        # Up: from the upstream address in force when the packet is sent.
        transport = self._listen_transport if name == "down" else self._upstream_transport
        if transport is not None and not transport.is_closing():
            transport.sendto(data, addr)
            self.sends[name].record(asyncio.get_running_loop().time(), fate, len(data))

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        this = asyncio.current_task()
        if this is not None:  # close() ends it
            self._tasks.add(this)
            this.add_done_callback(self._tasks.discard)
        # Ended by close(): as asyncio's server sees it, the connection simply ends (it logs
        # a cancelled handler as an error).
        with contextlib.suppress(asyncio.CancelledError):
            await self._carry(reader, writer)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.stream_target is not None
        try:
            far_reader, far_writer = await asyncio.open_connection(*self.stream_target)
        except (OSError, asyncio.CancelledError):
            writer.close()
            return
        self.streams += 1
        pumps = [
            asyncio.create_task(self._pump(reader, "up", far_writer)),
            asyncio.create_task(self._pump(far_reader, "down", writer)),
        ]
        for task in pumps:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            # Either end closing (or failing) ends the connection, once what it sent is in.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for end in (writer, far_writer):
                end.close()
            for end in (writer, far_writer):
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await end.wait_closed()

    async def _pump(
        self, reader: asyncio.StreamReader, name: str, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        direction = self.up if name == "up" else self.down
        assert direction is not None
        arrives = loop.time()
        while data := await reader.read(STREAM_PIECE):
            wait: float | None = None
            while (
                fate := self._forward(direction, name, data, writer, in_order=True)
            ).deliver_at is None:
                self.resent[name] += 1
                if wait is None:
                    profile = direction.profile_at(loop.time())
                    rtt = 0.0 if profile is None else 2 * profile.delay_ms / 1000
                    wait = rtt + RETRANSMIT_MIN_S
                else:
                    wait = min(2 * wait, RETRANSMIT_MAX_S)
                await asyncio.sleep(wait)
            arrives = max(arrives, fate.deliver_at)
        await asyncio.sleep(max(0.0, arrives - loop.time()))  # the last pieces are in

    def counters(self) -> dict[str, Any]:
        """Per direction: the model's counters plus what the relay sent (``Sends``)."""
        result: dict[str, Any] = {
            "profile": self.schedule.name,
            "dropped_old_address": self.dropped_old_address,
            "addresses": len(self.addresses),
            "clients": len(self.clients),
        }
        if self.stream_target is not None:
            result["streams"] = self.streams
            result["stream_resent"] = dict(self.resent)
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
        if self._stream_server is not None:
            self._stream_server.close()  # no new connections; those open end below
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
