"""How an aiortc call fares on each weak link: two peers through the emulator, one profile a run.

Each run is ``beeldbel.linkemu.calls.aiortc_call``: a worker and a client in this process,
the client at the far end of the emulated link, both sending the synthetic talking head
and voice of ``beeldbel.linkemu.media`` with the harness's low codec rates (Opus 24 kbit/s,
VP8 from 50 kbit/s). Per profile it prints whether the call held, whether the link passed
its self-check (``valid``; an invalid run does not count), and what each side received:
audio continuity at a fixed 250 ms playout deadline, video rate, freezes, the largest
gaps, bytes, and the time to recover after a blackout or a handover. Runs go one after
the other, so they do not share the two cores.

Usage: python -m bench.linkemu_calls --json [--duration 20] [--profiles rural,edge,worst]
       [--schedule rural:6,blackout:3,rural] [--seed 1] [--relay-counters]
(``outage`` and ``handover`` work too: their disruption falls 5 s after the link starts.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from beeldbel.linkemu.calls import aiortc_call
from beeldbel.linkemu.model import named_schedule, parse_schedule

SUMMARY = ("held", "valid", "duration_s", "connect_s", "disruptions", "handovers")


async def bench(names: list[str], duration: float, seed: int, counters: bool) -> dict[str, Any]:
    started = time.monotonic()
    runs: dict[str, Any] = {}
    for name in names:
        schedule = parse_schedule(name) if "," in name else named_schedule(name)
        report = await aiortc_call(schedule, duration, seed=seed)
        run = {key: report[key] for key in SUMMARY}
        run["participants"] = report["participants"]
        run["self_check"] = report["self_check"]
        if counters:
            run["link"] = report["link"]
        runs[name] = run
    return {
        "runs": runs,
        "codecs": report["codecs"] if names else None,
        "duration_s": duration,
        "seed": seed,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--profiles", default="rural,edge,worst", help="named profiles")
    parser.add_argument(
        "--schedule", help="one more run on a schedule, e.g. rural:6,blackout:3,rural"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--relay-counters", action="store_true", help="include relay counters")
    args = parser.parse_args()
    names = [name for name in args.profiles.split(",") if name]
    if args.schedule:
        names.append(args.schedule)
    print(
        json.dumps(
            asyncio.run(bench(names, args.duration, args.seed, args.relay_counters)), indent=2
        )
    )


if __name__ == "__main__":
    main()
