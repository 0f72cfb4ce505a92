"""``python -m beeldbel.linkemu``: run the link emulator relay on loopback.

    python -m beeldbel.linkemu --listen 127.0.0.1:9000 --target 127.0.0.1:9001 --profile rural
    python -m beeldbel.linkemu --listen 127.0.0.1:9000 --target 127.0.0.1:9001 \\
        --rate-down 384 --rate-up 128 --delay 150 --jitter 25 --loss 0.02 --burst 2 --queue 50
    python -m beeldbel.linkemu ... --schedule 4g:60,rural:60,blackout:10,4g

Prints one JSON line when listening (``{"listening": [host, port], "upstream": [host,
port], "started_at": seconds of time.monotonic(), ...}``: where the target hears the client
from, and when the schedule started) and one with the per-direction counters on exit
(SIGINT, SIGTERM or ``--duration``); with ``--stream-target`` it also carries TCP
connections over the same link (``"stream": [host, port]`` in the ready line); with
``--stats-file`` it also rewrites that file with
the counters every ``--stats-interval`` seconds. Custom flags override the named profile
(``lan`` by default) in both directions, except the rates, which are per direction.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

from beeldbel.linkemu.model import (
    PROFILES,
    LinkProfile,
    Schedule,
    Segment,
    named_schedule,
    parse_schedule,
)
from beeldbel.linkemu.relay import Address, Relay, require_loopback


def address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return host, int(port)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m beeldbel.linkemu", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--listen", type=address, required=True, help="HOST:PORT (loopback; port 0 picks one)"
    )
    p.add_argument("--target", type=address, required=True, help="HOST:PORT (loopback)")
    p.add_argument("--profile", choices=sorted(PROFILES), help="a named profile (DESIGN.md)")
    p.add_argument("--schedule", help="e.g. 4g:60,rural:60,blackout:10,4g")
    p.add_argument("--rate-down", type=float, help="kbit/s towards the client")
    p.add_argument("--rate-up", type=float, help="kbit/s from the client")
    p.add_argument("--delay", type=float, help="one-way delay in ms, each direction")
    p.add_argument("--jitter", type=float, help="± ms (uniform), each direction")
    p.add_argument("--loss", type=float, help="mean loss, a fraction (0.02 is 2 %%)")
    p.add_argument(
        "--burst", type=float, help="mean loss-burst length in packets (Gilbert-Elliott)"
    )
    p.add_argument("--queue", type=int, help="queue depth in packets")
    p.add_argument("--queue-bytes", type=int, help="queue depth in bytes")
    p.add_argument("--reorder", action="store_true", help="let jitter reorder packets")
    p.add_argument(
        "--stream-target",
        type=address,
        help="HOST:PORT (loopback): also carry TCP connections to it over the same link "
        "(a client's signaling); they are taken at the ready line's \"stream\" address",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, help="exit after this many seconds")
    p.add_argument("--stats-file", type=Path)
    p.add_argument("--stats-interval", type=float, default=1.0)
    return p


CUSTOM = {
    "delay": "delay_ms",
    "jitter": "jitter_ms",
    "loss": "loss",
    "burst": "burst",
    "queue": "queue_packets",
    "queue_bytes": "queue_bytes",
}


def schedule_from(args: argparse.Namespace) -> Schedule:
    if args.schedule:
        return parse_schedule(args.schedule)
    base = named_schedule(args.profile or "lan")
    custom = {field: getattr(args, flag) for flag, field in CUSTOM.items()}
    custom = {k: v for k, v in custom.items() if v is not None}
    if args.reorder:
        custom["reorder"] = True
    if not custom and args.rate_down is None and args.rate_up is None:
        return base
    link = base.segments[0].profile
    assert link is not None
    down = dataclasses.replace(link.down, **custom)
    up = dataclasses.replace(link.up, **custom)
    if args.rate_down is not None:
        down = dataclasses.replace(down, rate_kbps=args.rate_down)
    if args.rate_up is not None:
        up = dataclasses.replace(up, rate_kbps=args.rate_up)
    return Schedule("custom", (Segment(LinkProfile("custom", down, up)),))


def emit(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace, schedule: Schedule) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if args.duration is not None:
        loop.call_later(args.duration, stop.set)
    relay = Relay(
        args.listen, args.target, schedule, seed=args.seed, stream_target=args.stream_target
    )
    async with relay:
        stream = relay.stream_address
        emit(
            {
                "listening": list(relay.listen_address),
                "upstream": list(relay.upstream_address),
                "started_at": relay.started_at,  # time.monotonic(), as every process sees it
                "schedule": schedule.as_dict(),
                **({} if stream is None else {"stream": list(stream)}),
            }
        )
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.stats_interval)
            if args.stats_file is not None:
                args.stats_file.write_text(json.dumps(relay.counters()) + "\n")
        counters = relay.counters()
    if args.stats_file is not None:
        args.stats_file.write_text(json.dumps(counters) + "\n")
    return counters


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        schedule = schedule_from(args)
        require_loopback(args.listen)
        require_loopback(args.target)
        if args.stream_target is not None:
            require_loopback(args.stream_target)
    except ValueError as error:
        sys.stderr.write(f"linkemu: {error}\n")
        return 2
    emit(asyncio.run(run(args, schedule)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
