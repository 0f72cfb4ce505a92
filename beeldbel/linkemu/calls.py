"""The call-quality harness for aiortc: two peers in this process, the emulator between them.

``await aiortc_call(schedule, duration_s)`` sets up a call between a *worker* (the office,
not shaped) and a *client* (at the end of the emulated link) and reports what each of
them received (``quality.Reception``), whether the call held, and whether the link was
what the schedule says (the self-check of ``rules.call_measurement``).

**The path.** Both peers gather only a 127.0.0.1 host candidate (``loopback_ice``: aioice
skips loopback unless told otherwise). The worker offers; the emulator (``python -m
beeldbel.linkemu``, in a process of its own: ``relay_process``) listens on loopback with the
worker's candidate as its target; the client gets the offer with the candidate pointing at
the relay's listening address, and the worker gets the answer with the client's candidate
pointing at the relay's upstream address. With one candidate on each side there is one
candidate pair, so every packet (ICE, DTLS, RTP, RTCP) crosses the relay: "down" reaches
the client, "up" comes from it. A ``new_address`` segment (the ``handover`` profile) moves
the relay's upstream address, which is what a far end sees when a client moves from Wi-Fi
to mobile.

**Media.** Each peer sends ``media.SpeechTrack`` and ``media.TalkingHeadTrack``. Stock
aiortc sends Opus at 96 kbit/s and keeps VP8 between 250 kbit/s and 1.5 Mbit/s, more than
a rural uplink carries (DESIGN.md: 128 kbit/s); ``low_rate_codecs`` sets Opus to 24 kbit/s
and lets VP8 start at 50 kbit/s, its new floor, and rise to 500 kbit/s on the receiver's
estimate (module constants of ``aiortc.codecs``, restored on exit). That is the whole of
it: no FEC, no DTX, no consent fix — that is the hardened media layer's job, later. (Known
from these runs: aiortc's audio jitter buffer holds 16 packets and lets one frame out per
packet in, so the backlog a loss builds up never drains, and audio that queued behind a
keyframe on a slow uplink stays late; continuity shows both.)

**Consent.** aioice closes a connection after six missed consent checks, one every 4-6 s,
each waiting 0.5 s: about 30 s at round trips above 500 ms. Runs here are shorter than
that, so they cannot see it; ``held`` would catch it in a longer run.

**Recovery** (``recovery_s``) is measured after the schedule's first disruption: the end
of its first blackout, or its first handover.

**Held.** Both peers reached ``connected`` and stayed there to the end, and each still
decoded audio in the last ``HELD_TAIL_S`` seconds, in time or not (a connection that is
up but carries nothing has not held; audio that comes too late shows in continuity).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import opus, vpx
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from beeldbel.linkemu.media import SAMPLE_RATE, SpeechTrack, TalkingHeadTrack
from beeldbel.linkemu.model import PROFILES, LinkProfile, Schedule, parse_schedule
from beeldbel.linkemu.quality import (
    AudioFrameSeen,
    Reception,
    audio_playout,
    recovery_s,
    unwrap,
    video_timeline,
)
from beeldbel.linkemu.relay import Address
from beeldbel.linkemu.rules import call_measurement

__all__ = [
    "HELD_TAIL_S",
    "CodecRates",
    "aiortc_call",
    "link_profile_of",
    "loopback_ice",
    "low_rate_codecs",
    "point_candidates_at",
    "relay_arguments",
    "relay_process",
    "self_check",
]

HELD_TAIL_S = 2.0
CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class CodecRates:
    """What ``low_rate_codecs`` sets, in bit/s."""

    opus: int = 24_000
    vp8_start: int = 50_000
    vp8_min: int = 50_000
    vp8_max: int = 500_000

    def as_dict(self) -> dict[str, int]:
        return {
            "opus_bps": self.opus,
            "vp8_start_bps": self.vp8_start,
            "vp8_min_bps": self.vp8_min,
            "vp8_max_bps": self.vp8_max,
        }


@contextlib.contextmanager
def low_rate_codecs(rates: CodecRates | None = None) -> Iterator[CodecRates]:
    """Opus and VP8 rates for encoders made while this is active (restored on exit)."""
    rates = rates or CodecRates()
    saved = (vpx.DEFAULT_BITRATE, vpx.MIN_BITRATE, vpx.MAX_BITRATE, opus.OpusEncoder.__init__)
    original_init = opus.OpusEncoder.__init__

    def opus_init(self: opus.OpusEncoder) -> None:
        original_init(self)
        self.codec.bit_rate = rates.opus

    vpx.DEFAULT_BITRATE, vpx.MIN_BITRATE, vpx.MAX_BITRATE = (
        rates.vp8_start,
        rates.vp8_min,
        rates.vp8_max,
    )
    opus.OpusEncoder.__init__ = opus_init  # type: ignore[method-assign]
    try:
        yield rates
    finally:
        vpx.DEFAULT_BITRATE, vpx.MIN_BITRATE, vpx.MAX_BITRATE, init = saved
        opus.OpusEncoder.__init__ = init  # type: ignore[method-assign]


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """ICE gathers exactly one host address, 127.0.0.1, while this is active."""
    original = aioice.ice.get_host_addresses

    def loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ udp \d+) (\S+) (\d+) (typ .*)$", re.IGNORECASE)


def candidate_address(sdp: str) -> Address:
    """The (only) UDP candidate's address in ``sdp``."""
    found = {(m[2], int(m[3])) for line in sdp.splitlines() if (m := _CANDIDATE.match(line))}
    if len(found) != 1:
        raise ValueError(f"expected one UDP candidate address, found {sorted(found)}")
    return found.pop()


def point_candidates_at(sdp: str, address: Address) -> str:
    """``sdp`` with every UDP candidate (and the connection line) moved to ``address``."""
    host, port = address
    lines = []
    for line in sdp.splitlines():
        if match := _CANDIDATE.match(line):
            line = f"{match[1]} {host} {port} {match[4]}"
        elif line.startswith("c=IN IP4 "):
            line = f"c=IN IP4 {host}"
        elif line.startswith("m="):
            kind, _, rest = line.partition(" ")
            line = f"{kind} {port} {rest.partition(' ')[2]}"
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def link_profile_of(schedule: Schedule) -> LinkProfile | None:
    """The one link profile a schedule runs outside blackouts; None if it mixes several."""
    profiles = {s.profile for s in schedule.segments if s.profile is not None}
    return profiles.pop() if len(profiles) == 1 else None


@dataclass
class _Peer:
    name: str
    pc: RTCPeerConnection
    audio: list[tuple[int, float]] = field(default_factory=list)  # (RTP timestamp, arrival)
    video: list[tuple[int, float]] = field(default_factory=list)
    states: list[tuple[float, str]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sending: list[MediaStreamTrack] = field(default_factory=list)

    def watch(self) -> None:
        loop = asyncio.get_running_loop()

        @self.pc.on("connectionstatechange")
        def changed() -> None:
            self.states.append((loop.time(), self.pc.connectionState))
            if self.pc.connectionState == "connected":
                self.connected.set()

        @self.pc.on("track")
        def track(incoming: MediaStreamTrack) -> None:
            into = self.audio if incoming.kind == "audio" else self.video
            self.tasks.append(loop.create_task(_consume(incoming, into)))

    def send_media(self) -> None:
        self.sending = [SpeechTrack(), TalkingHeadTrack()]
        for track in self.sending:
            self.pc.addTrack(track)

    def held_until(self, end: float) -> bool:
        """Reached ``connected`` and never left it before ``end``."""
        before = [state for at, state in self.states if at <= end]
        return "connected" in before and before[-1] == "connected"

    async def close(self) -> None:
        await self.pc.close()
        for track in self.sending:
            track.stop()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _consume(track: MediaStreamTrack, into: list[tuple[int, float]]) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if frame.pts is not None:
                into.append((int(frame.pts), loop.time()))


def _audio_frames(received: list[tuple[int, float]]) -> list[AudioFrameSeen]:
    stamps = unwrap(ts for ts, _ in received)
    return [
        AudioFrameSeen(stamp / SAMPLE_RATE, arrival)
        for stamp, (_, arrival) in zip(stamps, received, strict=True)
    ]


def _transport_bytes(report: Any) -> tuple[int, int]:
    sent = received = 0
    for stats in report.values():
        if getattr(stats, "type", None) == "transport":
            sent += stats.bytesSent
            received += stats.bytesReceived
    return sent, received


def _reception(
    peer: _Peer, start: float, end: float, link_return: float | None, stats: Any
) -> Reception:
    frames = _audio_frames(peer.audio)
    playout = audio_playout(frames, end)
    video = video_timeline((arrival for _, arrival in peer.video), start, end)
    sent, received = _transport_bytes(stats)
    return Reception(
        audio_continuity=playout.continuity,
        audio_jitter_buffer_p95_ms=None,  # aiortc's jitter buffer has no such counter
        audio_largest_gap_s=playout.largest_gap_s,
        video_fps=video.fps,
        video_frames=video.frames,
        freeze_count=video.freeze_count,
        freeze_s=video.freeze_s,
        largest_gap_s=video.largest_gap_s,
        first_picture_s=video.first_picture_s,
        bytes_sent=sent,
        bytes_received=received,
        recovery_s=None if link_return is None else recovery_s(frames, link_return),
    )


def self_check(schedule: Schedule, counters: dict[str, Any]) -> dict[str, Any]:
    link = link_profile_of(schedule)
    if link is None:
        return {"valid": False, "reasons": ["the schedule mixes profiles: nothing to check"]}
    result: dict[str, Any] = {"valid": True}
    for name in ("down", "up"):
        measured = call_measurement(counters[name])
        verdict = measured.verdict(getattr(link, name))
        result["valid"] = result["valid"] and verdict.valid
        m = measured.measurement
        result[name] = {
            "valid": verdict.valid,
            "reasons": list(verdict.reasons),
            "unchecked": list(verdict.unchecked),
            "rate_kbps": None if m.rate_kbps is None else round(m.rate_kbps, 1),
            "delay_ms": round(m.delay_ms, 1),
            "loss": round(m.loss, 4),
            "loss_samples": measured.loss_samples,
            "queue_mean_ms": _round(measured.queue_mean_ms),
            "hold_mean_ms": _round(measured.hold_mean_ms),
        }
    return result


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def relay_arguments(schedule: Schedule) -> list[str]:
    """What makes ``python -m beeldbel.linkemu`` run ``schedule``: a named profile or its text."""
    if PROFILES.get(schedule.name) == schedule:
        return ["--profile", schedule.name]
    with contextlib.suppress(ValueError):
        if parse_schedule(schedule.name) == schedule:
            return ["--schedule", schedule.name]
    raise ValueError(f"schedule {schedule.name!r} is neither a named profile nor schedule text")


@dataclass
class RelayProcess:
    """A relay running as its own process; ``counters`` are filled in when it has stopped."""

    listen: Address
    upstream: Address
    started_at: float  # time.monotonic(), which is also this process's loop.time()
    counters: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def relay_process(
    schedule: Schedule, target: Address, seed: int
) -> AsyncIterator[RelayProcess]:
    """``python -m beeldbel.linkemu`` in front of ``target`` (SIGINT and its counters at exit).

    Its own process, so the peers' encoding and decoding in this one cannot make its timers
    late (which the self-check would then, rightly, hold against the run).
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "beeldbel.linkemu", "--listen", "127.0.0.1:0",
        "--target", f"{target[0]}:{target[1]}", *relay_arguments(schedule), "--seed", str(seed),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
        host, port = ready["listening"]
        up_host, up_port = ready["upstream"]
        relay = RelayProcess((host, port), (up_host, up_port), float(ready["started_at"]))
        yield relay
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 15)
        except TimeoutError:
            process.kill()
            out, _ = await process.communicate()
    lines = out.decode().strip().splitlines()
    relay.counters.update(json.loads(lines[-1]))


def _disruptions(schedule: Schedule, origin: float) -> list[tuple[str, float, float | None]]:
    """(kind, from, back) on the loop clock: blackouts, and handovers (back at once)."""
    found: list[tuple[str, float, float | None]] = []
    for start, segment in zip(schedule.starts, schedule.segments, strict=True):
        if segment.new_address:
            found.append(("handover", origin + start, origin + start))
        if segment.profile is None:
            back = None if segment.duration_s is None else origin + start + segment.duration_s
            found.append(("blackout", origin + start, back))
    return found


async def aiortc_call(
    schedule: Schedule,
    duration_s: float,
    *,
    seed: int = 1,
    rates: CodecRates | None = None,
) -> dict[str, Any]:
    """One call over ``schedule`` for ``duration_s`` seconds after it connected.

    The schedule's clock starts when the relay starts, just before ICE; blackouts and
    handovers are placed on that clock. Returns a JSON-ready report (see the module's
    docstring and ``quality.Reception``).
    """
    loop = asyncio.get_running_loop()
    # No STUN (nothing leaves the machine); one transport for audio and video.
    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    worker = _Peer("worker", RTCPeerConnection(config))
    client = _Peer("client", RTCPeerConnection(config))
    with low_rate_codecs(rates) as codecs, loopback_ice():
        try:
            for peer in (worker, client):
                peer.watch()
                peer.send_media()
            await worker.pc.setLocalDescription(await worker.pc.createOffer())
            offer = worker.pc.localDescription.sdp
            async with relay_process(schedule, candidate_address(offer), seed) as relay:
                offer = point_candidates_at(offer, relay.listen)
                await client.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
                await client.pc.setLocalDescription(await client.pc.createAnswer())
                answer = point_candidates_at(client.pc.localDescription.sdp, relay.upstream)
                await worker.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                connected = True
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):
                        await asyncio.gather(worker.connected.wait(), client.connected.wait())
                except TimeoutError:
                    connected = False
                start = loop.time()
                if connected:
                    await asyncio.sleep(duration_s)
                end = loop.time()
                stats = {peer.name: await peer.pc.getStats() for peer in (worker, client)}
                for peer in (worker, client):
                    await peer.close()
        finally:
            for peer in (worker, client):
                await peer.close()
    counters = relay.counters
    origin = relay.started_at

    disruptions = _disruptions(schedule, origin)
    link_return = next((b for _, _, b in disruptions if b is not None and b < end), None)
    receptions = {
        peer.name: _reception(peer, start, end, link_return, stats[peer.name]).as_dict()
        for peer in (client, worker)
    }
    held = connected and all(
        peer.held_until(end) and any(at >= end - HELD_TAIL_S for _, at in peer.audio)
        for peer in (client, worker)
    )
    check = self_check(schedule, counters)
    return {
        "variant": "aiortc",
        "profile": schedule.name,
        "schedule": schedule.as_dict(),
        "duration_s": round(end - start, 2),
        "connect_s": round(start - origin, 2),
        "held": held,
        "valid": check["valid"],
        "self_check": check,
        # seconds after the call connected (negative: before it)
        "disruptions": [
            {
                "kind": kind,
                "from_s": round(at - start, 2),
                "to_s": None if back is None else round(back - start, 2),
            }
            for kind, at, back in disruptions
        ],
        "handovers": counters["addresses"] - 1,
        "participants": receptions,
        "codecs": codecs.as_dict(),
        "link": counters,
    }
