"""A call participant built on aiortc that joins through the same signaling as a browser:
for integration tests and load benchmarks.

It connects to ``/call`` with a join token or an access token, waits, is admitted (or, as a
worker, admits), and negotiates with every other admitted person. Who offers is fixed, so
two participants never offer at once (aiortc cannot roll an offer back): a worker offers to
everyone else; between two people of the same role, the smaller participant id offers.
Browsers follow the same rule. aiortc sends complete descriptions (it gathers before
``setLocalDescription`` returns), so it sends no separate candidates; it takes the
browser's trickled ones.

It counts what it receives: decoded video frames and audio frames per peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import socketio
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp

__all__ = ["Received", "TestParticipant"]

NAMESPACE = "/call"


@dataclass
class Received:
    video_frames: int = 0
    audio_frames: int = 0


@dataclass
class _Peer:
    pc: RTCPeerConnection
    received: Received = field(default_factory=Received)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TestParticipant:
    """``async with TestParticipant(url, auth) as me: await me.joined()``."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        url: str,
        auth: dict[str, str],
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
    ) -> None:
        self.url = url
        self.auth = auth
        self.sio = socketio.AsyncClient(reconnection=False)
        self.participant_id: UUID | None = None
        self.role: str | None = None
        self.ice: dict[str, Any] = {}
        self.call: dict[str, Any] = {}
        self.peers: dict[UUID, _Peer] = {}
        self.events: list[tuple[str, Any]] = []
        self._audio = audio or AudioStreamTrack()
        self._video = video or VideoStreamTrack()
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        for event in ("welcome", "call", "signal", "cue", "notice", "chat", "media"):
            self.sio.on(event, self._on(event), namespace=NAMESPACE)

    async def __aenter__(self) -> TestParticipant:
        await self.sio.connect(
            self.url,
            auth=self.auth,
            transports=["websocket"],
            namespaces=[NAMESPACE],
            wait_timeout=10,
        )
        await self.until(lambda: self.participant_id is not None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        for peer in self.peers.values():
            for task in peer.tasks:
                task.cancel()
            await peer.pc.close()
            for task in peer.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.peers.clear()

    # --- what happens ----------------------------------------------------------------------

    def _on(self, event: str) -> Any:
        async def handle(data: Any) -> None:
            self.events.append((event, data))
            if event == "welcome":
                self.participant_id = UUID(data["participant_id"])
                self.role = data["role"]
                self.ice = data["ice"]
                self.call = data["call"]
            elif event == "call":
                self.call = data
                await self._connect_peers()
            elif event == "signal":
                await self._signal(data)
            self._changed.set()

        return handle

    async def until(self, condition: Any, within: float = 15.0) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)

    def status(self, participant_id: UUID | None = None) -> str | None:
        wanted = str(participant_id or self.participant_id)
        for seat in self.call.get("seats", []):
            if seat["participant_id"] == wanted:
                return str(seat["status"])
        return None

    async def send(self, event: str, **payload: Any) -> dict[str, Any]:
        answer = await self.sio.call(
            event, {"id": f"m{next(self._ids)}", **payload}, namespace=NAMESPACE, timeout=10
        )
        assert isinstance(answer, dict)
        return answer

    async def admit(self, participant_id: UUID | None = None) -> dict[str, Any]:
        return await self.send(
            "admit", participant_id=str(participant_id) if participant_id else None
        )

    # --- negotiation -----------------------------------------------------------------------

    def _offers_to(self, seat: dict[str, Any]) -> bool:
        mine, theirs = self.role == "worker", seat["role"] == "worker"
        if mine != theirs:
            return mine
        return str(self.participant_id) < str(seat["participant_id"])

    def _peer(self, other: UUID) -> _Peer:
        if other in self.peers:
            return self.peers[other]
        servers = [
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in self.ice.get("iceServers", [])
        ]
        config = RTCConfiguration(iceServers=servers or None)
        if self.ice.get("iceTransportPolicy") == "relay":
            config.iceTransportPolicy = RTCIceTransportPolicy.RELAY
        pc = RTCPeerConnection(configuration=config)
        peer = _Peer(pc)
        pc.addTrack(self._audio)
        pc.addTrack(self._video)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            peer.tasks.append(asyncio.create_task(self._count(track, peer.received)))

        self.peers[other] = peer
        return peer

    async def _count(self, track: MediaStreamTrack, received: Received) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                received.video_frames += 1
            else:
                received.audio_frames += 1
            self._changed.set()

    async def _connect_peers(self) -> None:
        if self.status() != "in_call":
            return
        async with self._lock:
            for seat in self.call.get("seats", []):
                other = UUID(seat["participant_id"])
                if other == self.participant_id or seat["status"] != "in_call":
                    continue
                if other in self.peers or not self._offers_to(seat):
                    continue
                peer = self._peer(other)
                await peer.pc.setLocalDescription(await peer.pc.createOffer())
                description = peer.pc.localDescription
                await self.send(
                    "signal",
                    to=str(other),
                    description={"type": description.type, "sdp": description.sdp},
                )

    async def _signal(self, data: dict[str, Any]) -> None:
        other = UUID(data["from"])
        async with self._lock:
            if "description" in data:
                description = data["description"]
                peer = self._peer(other)
                await peer.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=description["sdp"], type=description["type"])
                )
                if description["type"] == "offer":
                    await peer.pc.setLocalDescription(await peer.pc.createAnswer())
                    answer = peer.pc.localDescription
                    await self.send(
                        "signal",
                        to=str(other),
                        description={"type": answer.type, "sdp": answer.sdp},
                    )
            elif "candidate" in data and other in self.peers:
                found = data["candidate"]
                text = found.get("candidate") or ""
                if not text:
                    return  # end of candidates
                candidate = candidate_from_sdp(text.removeprefix("candidate:"))
                candidate.sdpMid = found.get("sdpMid")
                candidate.sdpMLineIndex = found.get("sdpMLineIndex")
                await self.peers[other].pc.addIceCandidate(candidate)

    def received_from(self, other: UUID) -> Received:
        peer = self.peers.get(other)
        return peer.received if peer else Received()
