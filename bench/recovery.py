"""How fast a call's audio comes back: after a 10 s outage, and after an address change.

The rig of ``bench.call_setup`` (two warm Chromiums, a coturn, the service relay-only), with
the client's TURN leg through the link emulator (``python -m beeldbel.linkemu``, one per
run, started at admission, as in ``tests/browser/test_call_handover.py``):

* ``outage``: ``4g:S,blackout:10,4g``; recovery counts from the link's return (S + 10 s
  after the emulator started, on its own clock: ``started_at`` is ``time.monotonic()``).
* ``handover``: ``4g:S,@4g``: coturn hears the client from a new address S s in;
  recovery counts from that change.

Nobody touches the pages after admission: the page restarts ICE by itself (``web/call.js``).
Both pages sample their inbound audio every 50 ms (``getStats``: received samples less
concealed ones: real sound). Audio is back on one side when, over a window of about 200 ms
that starts after the reference time, real samples grew by at least three quarters of what
the same window held before the disruption; a run's figure is the later of the two sides
(both hear each other again). A run in which media did not flow before the disruption does
not count (``invalid``). Targets (issue 7, acceptance 8; reported, not asserted):
``outage_recovery_p95_s`` ≤ 3 and ``handover_recovery_p95_s`` ≤ 10.

Usage: python -m bench.recovery --json [--runs 10] [--kinds outage,handover]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from bench.call_setup import Rig, log, p, rig
from tests.browser.test_call_handover import emulator

BEFORE_S = 15.0  # admission to flowing media takes a few seconds on a busy machine
OUTAGE_S = 10.0
GUARD_S = 60.0  # a hang guard after the reference time, not a target
SAMPLE_MS = 50
WINDOW_S = 0.2
SHARE = 0.75

SCHEDULES = {
    "outage": (f"4g:{BEFORE_S:g},blackout:{OUTAGE_S:g},4g", BEFORE_S + OUTAGE_S),
    "handover": (f"4g:{BEFORE_S:g},@4g", BEFORE_S),
}


def back_after(
    samples: Sequence[Sequence[float]], disrupted_s: float, reference_s: float
) -> float | None:
    """Seconds from ``reference_s`` until real audio flows again (see the module's docstring).

    ``samples``: ``[t (s), total, real]`` on one clock with the two times.
    """
    before = [s for s in samples if disrupted_s - 3.0 <= s[0] <= disrupted_s - 0.1]
    if len(before) < 2 or before[-1][0] <= before[0][0]:
        return None
    rate = (before[-1][2] - before[0][2]) / (before[-1][0] - before[0][0])
    if rate <= 0:
        return None
    after = [s for s in samples if s[0] >= reference_s + 0.05]
    for i, end in enumerate(after):
        start = next((s for s in reversed(after[:i]) if s[0] <= end[0] - WINDOW_S), None)
        if start is None:
            continue
        if end[2] - start[2] >= SHARE * rate * (end[0] - start[0]):
            return end[0] - reference_s
    return None


def one_run(r: Rig, kind: str, seed: int) -> dict[str, Any]:
    schedule, reference_after = SCHEDULES[kind]
    r.waiting()
    with emulator(r.coturn.port, schedule, r.home / "link.json", seed=seed) as (ready, link):
        started = float(ready["started_at"])  # time.monotonic() in the emulator
        wall = time.time() - time.monotonic()  # Date.now() in the pages, in seconds
        r.via_emulator(int(ready["listening"][1]))
        r.admit()
        flowing = r.first_frames() - wall  # monotonic
        for page in (r.worker, r.client):
            page.evaluate(f"window.__bench.sampleAudio({SAMPLE_MS})")
        disrupted = started + BEFORE_S
        reference = started + reference_after
        valid = flowing < disrupted - 3.0
        results: dict[str, float | None] = {"worker": None, "client": None}
        deadline = reference + GUARD_S
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if time.monotonic() < reference + 1.0:
                continue
            for name, page in (("worker", r.worker), ("client", r.client)):
                if results[name] is None:
                    found = [
                        [t / 1000 - wall, total, real]
                        for t, total, real in page.evaluate("window.__bench.samples")
                    ]
                    results[name] = back_after(found, disrupted, reference)
            if all(v is not None for v in results.values()):
                break
        for page in (r.worker, r.client):
            page.evaluate("window.__bench.stopAudio()")
        r.end()
    sides = [v for v in results.values()]
    recovered = None if None in sides else max(v for v in sides if v is not None)
    return {
        "kind": kind,
        "valid": valid,
        "recovery_s": None if recovered is None else round(recovered, 3),
        "sides_s": {k: None if v is None else round(v, 3) for k, v in results.items()},
        "flowing_before_s": round(disrupted - flowing, 1),
        "link": {k: link.get(k) for k in ("addresses", "clients", "dropped_old_address")},
    }


def bench(runs: int, kinds: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with rig() as r:
        r.use(relay_only_calls="true")
        for i in range(runs):
            for kind in kinds:
                run = one_run(r, kind, seed=i + 1)
                found[kind].append(run)
                log(f"{kind} run {i + 1}/{runs}: {json.dumps(run)}")
    figures = {
        kind: [
            float(run["recovery_s"]) if run["recovery_s"] is not None else float("inf")
            for run in runs_
            if run["valid"]
        ]
        for kind, runs_ in found.items()
    }

    def p95(kind: str) -> float | None:
        values = figures.get(kind, [])
        value = p(values, 0.95) if values else None
        return None if value is None or value == float("inf") else value

    outage, handover = p95("outage"), p95("handover")
    return {
        "outage_recovery_p95_s": outage,
        "handover_recovery_p95_s": handover,
        "runs": runs,
        "targets": {
            "outage_recovery_p95_s<=3": outage is not None and outage <= 3.0,
            "handover_recovery_p95_s<=10": handover is not None and handover <= 10.0,
        },
        "not_recovered_within_guard": {
            kind: sum(1 for v in values if v == float("inf")) for kind, values in figures.items()
        },
        "invalid_runs": {kind: sum(not r["valid"] for r in rs) for kind, rs in found.items()},
        "samples_s": {kind: [r["recovery_s"] for r in rs] for kind, rs in found.items()},
        "sides_s": {kind: [r["sides_s"] for r in rs] for kind, rs in found.items()},
        "schedules": {kind: SCHEDULES[kind][0] for kind in kinds},
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--runs", type=int, default=10, help="runs of each kind (default 10)")
    parser.add_argument("--kinds", default="outage,handover")
    args = parser.parse_args()
    result = bench(args.runs, [k for k in args.kinds.split(",") if k])
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
