"""Does the link emulator deliver its profiles? A reference UDP stream through the real relay.

For each named profile a relay runs as its own process (``python -m beeldbel.linkemu``) on
loopback, and this process plays both ends:

- down (target → client): a stream offered at 1.5 times the bottleneck rate or more
  (2,000 to 4,000 packets a second, so the loss figure rests on tens of thousands of packets;
  each large enough that the bottleneck's queue holds a quarter second of them, see
  ``busy_size``).
  Rate: delivered payload bytes over the inter-arrival time, gaps over a second left
  out (a blackout carries nothing). Loss: ``rules.measured_loss`` — the relay's queue
  and blackout drops are subtracted, since the stream cannot tell them from loss.
- up (client → target): a light probe of small packets, spaced at least twice the
  jitter apart; delay is the median one-way delay (one clock: both ends are here).

``rules.verify`` then judges rate (down), delay (up) and loss (down) within ±10 %.
Profiles run in waves (the slow ones with ``outage``, each other fast one alone); a wave
runs ``--duration`` plus the longest blackout in it, so ``outage`` measures as long as
the others outside its blackout. Loss figures depend only on the seed and the number of
packets (see ``beeldbel.linkemu.state``), so a run with the same seed repeats them;
``samples.loss_stderr`` says how far another seed may move them.

Usage: python -m bench.linkemu --json [--duration 20] [--profiles rural,edge] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import math
import signal
import socket
import statistics
import struct
import sys
import time
from typing import Any

from beeldbel.linkemu.model import PROFILES, DirectionProfile, Schedule
from beeldbel.linkemu.rules import Measurement, loss_stderr, measured_loss, verify

HEADER = struct.Struct("!Id")  # sequence number, send time (time.monotonic)
PROBE_BYTES = 32
PACKETS_PER_SECOND = 4000
MIN_PACKETS_PER_SECOND = 2000
# The fast links are measured one at a time: together they would load this process's
# event loop enough to add milliseconds to the delays it times.
WAVES = [["outage", "rural", "edge", "worst"], ["4g"], ["handover"], ["lan"]]
GAP_S = 1.0
QUEUE_HOLD_S = 0.25


class Endpoint(asyncio.DatagramProtocol):
    """Records (arrival time, size, sequence, send time) and the sender's address."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int, int, float]] = []
        self.peer: tuple[str, int] | None = None
        self.heard = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic()
        self.peer = addr
        self.heard.set()
        seq, sent = HEADER.unpack_from(data)
        self.arrivals.append((now, len(data), seq, sent))


def link_of(schedule: Schedule) -> tuple[DirectionProfile, DirectionProfile]:
    """The profile measured: the first segment that is not a blackout."""
    for segment in schedule.segments:
        if segment.profile is not None:
            return segment.profile.down, segment.profile.up
    raise ValueError("a schedule of blackouts only")


def delivered_rate_kbps(arrivals: list[tuple[float, int, int, float]]) -> float | None:
    busy, carried = 0.0, 0
    for (before, _, _, _), (now, size, _, _) in itertools.pairwise(arrivals):
        if now - before < GAP_S:
            busy += now - before
            carried += size
    return carried * 8 / busy / 1000 if busy > 0 else None


def busy_size(down: DirectionProfile) -> int:
    """The packet size that fills the bottleneck's queue for :data:`QUEUE_HOLD_S` or more.

    The queue counts packets: of 64 bytes, 30 of them were 40 ms at 384 kbit/s, and a
    moment longer than that in which either process was not scheduled (the sender's, or
    the relay's, which reads a packet late and so queues it late) left the bottleneck idle,
    time the rate then counted as the link's: 322 kbit/s measured on a 384 kbit/s link, in a
    full test run. Larger packets leave the count of packets (the loss figure) as it was.
    """
    if down.rate_kbps is None or down.queue_packets is None:
        return 64
    bytes_per_s = down.rate_kbps * 1000 / 8
    return max(64, min(1200, math.ceil(bytes_per_s * QUEUE_HOLD_S / down.queue_packets)))


def largest_gap_s(arrivals: list[tuple[float, int, int, float]]) -> float:
    times = [a[0] for a in arrivals]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


async def start_relay(args: list[str]) -> tuple[asyncio.subprocess.Process, tuple[str, int]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "beeldbel.linkemu", *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    ready = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
    host, port = ready["listening"]
    return process, (host, port)


async def stop_relay(process: asyncio.subprocess.Process) -> dict[str, Any]:
    process.send_signal(signal.SIGINT)
    assert process.stdout is not None
    out = await asyncio.wait_for(process.stdout.read(), 10)
    await process.wait()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def paced(send: Any, count: int, per_second: float) -> None:
    """Sends ``count`` packets, ``per_second`` of them a second, in 5 ms batches."""
    started = time.monotonic()
    done = 0
    while done < count:
        due = min(count, int((time.monotonic() - started) * per_second) + 1)
        while done < due:
            send(done)
            done += 1
        await asyncio.sleep(0.005)


async def reference_run(
    relay_args: list[str], schedule: Schedule, duration: float
) -> dict[str, Any]:
    """Runs the reference stream through one relay started with ``relay_args``."""
    loop = asyncio.get_running_loop()
    down, up = link_of(schedule)
    target_transport, target = await loop.create_datagram_endpoint(
        Endpoint, local_addr=("127.0.0.1", 0)
    )
    target_address = target_transport.get_extra_info("sockname")[:2]
    process, listen = await start_relay(
        [
            "--listen",
            "127.0.0.1:0",
            "--target",
            f"{target_address[0]}:{target_address[1]}",
            *relay_args,
        ]
    )
    client_transport, client = await loop.create_datagram_endpoint(Endpoint, remote_addr=listen)
    probing: asyncio.Task[None] | None = None
    try:
        # up: the light probe
        interval = max(0.02, 2.5 * up.jitter_ms / 1000)
        if up.rate_kbps is not None:  # at most a quarter of the up rate
            interval = max(interval, PROBE_BYTES * 8 / (up.rate_kbps * 1000) * 4)
        probe_count = int(duration / interval)
        padding = b"\0" * (PROBE_BYTES - HEADER.size)

        def probe(seq: int) -> None:
            client_transport.sendto(HEADER.pack(seq, time.monotonic()) + padding)

        # down: the saturating stream (lan has no rate: 8 Mbit/s is offered)
        offered = 1.5 * (down.rate_kbps if down.rate_kbps is not None else 8000) * 1000 / 8
        size = max(64, min(1200, int(offered / PACKETS_PER_SECOND)))
        # Slow links get more packets than their rate needs: the loss figure rests on the
        # number of packets, and at least MIN_PACKETS_PER_SECOND keeps its error small.
        per_second = max(offered / size, MIN_PACKETS_PER_SECOND)
        size = max(size, busy_size(down))
        count = int(per_second * duration)
        payload = b"\0" * (size - HEADER.size)

        def push(seq: int) -> None:
            assert target.peer is not None
            target_transport.sendto(HEADER.pack(seq, time.monotonic()) + payload, target.peer)

        probing = asyncio.create_task(paced(probe, probe_count, 1 / interval))
        await asyncio.wait_for(target.heard.wait(), 5)  # the relay's upstream address
        await paced(push, count, per_second)
        await probing
        queue = (down.queue_packets or 50) * size * 8 / (down.rate_kbps or math.inf) / 1000
        await asyncio.sleep(queue + (max(down.delay_ms, up.delay_ms) + down.jitter_ms) / 1000 + 0.5)
    finally:
        if probing is not None and not probing.done():
            probing.cancel()
        client_transport.close()
        target_transport.close()
        counters = await stop_relay(process)

    delays = [(now - sent) * 1000 for now, _, _, sent in target.arrivals]
    measurement = Measurement(
        rate_kbps=delivered_rate_kbps(client.arrivals),
        delay_ms=statistics.median(delays) if delays else math.inf,
        # What the target sent to the client's old address after a handover never
        # reached the model: like a blackout's, those packets were not exposed to loss.
        loss=measured_loss(
            count,
            len(client.arrivals),
            counters["down"]["dropped_queue"],
            counters["down"]["dropped_blackout"] + counters["dropped_old_address"],
        ),
    )
    configured = dataclasses.replace(down, delay_ms=up.delay_ms)
    verdict = verify(configured, measurement)
    return {
        "valid": verdict.valid,
        "reasons": list(verdict.reasons),
        "rate_kbps": None if measurement.rate_kbps is None else round(measurement.rate_kbps, 1),
        "delay_ms": round(measurement.delay_ms, 1),
        "loss": round(measurement.loss, 4),
        "configured": {
            "rate_kbps": down.rate_kbps,
            "delay_ms": up.delay_ms,
            "jitter_ms": up.jitter_ms,
            "loss": down.loss,
            "burst": down.burst,
            "note": schedule.note,
        },
        "samples": {
            "down_sent": count,
            "down_packet_bytes": size,
            "down_delivered": len(client.arrivals),
            "up_probes": probe_count,
            "up_delivered": len(delays),
            "loss_stderr": round(loss_stderr(down, count), 5),
        },
        "largest_gap_s": round(largest_gap_s(client.arrivals), 2),
        "relay": counters,
    }


async def bench(names: list[str], duration: float, seed: int) -> dict[str, Any]:
    def blackouts(name: str) -> float:
        return sum(s.duration_s or 0 for s in PROFILES[name].segments if s.profile is None)

    async def one(name: str, seconds: float) -> dict[str, Any]:
        schedule = PROFILES[name]
        result = await reference_run(["--profile", name, "--seed", str(seed)], schedule, seconds)
        if name == "outage":  # the blackout must show as a gap of its length
            blackout = next(s.duration_s for s in schedule.segments if s.profile is None)
            assert blackout is not None
            result["blackout_s"] = result["largest_gap_s"]
            if abs(result["largest_gap_s"] - blackout) > 0.1 * blackout:
                result["valid"] = False
                result["reasons"].append(f"gap {result['largest_gap_s']} s, blackout {blackout} s")
        return result

    started = time.monotonic()
    profiles: dict[str, Any] = {}
    waves = [[n for n in wave if n in names] for wave in WAVES]
    waves.append([n for n in names if not any(n in wave for wave in WAVES)])
    for wave in waves:
        # a wave lasts as long as its longest run; the others use the time for more packets
        seconds = duration + max((blackouts(name) for name in wave), default=0.0)
        results = await asyncio.gather(*(one(name, seconds) for name in wave))
        profiles.update(zip(wave, results, strict=True))
    return {
        "profiles": {name: profiles[name] for name in names},
        "duration_s": duration,
        "seed": seed,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--relay-counters", action="store_true", help="include relay counters")
    args = parser.parse_args()
    result = asyncio.run(bench(args.profiles.split(","), args.duration, args.seed))
    if not args.relay_counters:
        for profile in result["profiles"].values():
            profile.pop("relay")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
