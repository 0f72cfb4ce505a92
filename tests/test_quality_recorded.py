"""The quality controller on a recorded trace: what a real Chromium's page reported during a
call on the emulator's ``worst`` profile (``tests/data/quality_worst_chromium.json``).

Replayed open-loop (the reports are what they were, whatever the controller decides now),
with a tick every second in between, as the service's task gives. Asserted: the step down
comes within 3 s of the first report showing the drop; no step up without a probe that
passed; on this steady (if bad) link at most one change per 15 s unless stepping down; the
phone is never advised while audio gets through; the call ends in ``stills`` or ``audio``.
"""

from __future__ import annotations

import json
from pathlib import Path

from beeldbel.quality.model import (
    SPECS,
    Mode,
    Reason,
    Received,
    RecommendPhone,
    Report,
    SetMode,
    Tick,
    new_quality,
    rank,
    step,
)

TRACE = Path(__file__).parent / "data" / "quality_worst_chromium.json"
CLIENT, WORKER = "client", "worker"


def replay() -> tuple[list[tuple[float, SetMode]], list[RecommendPhone], Mode, float]:
    rows = json.loads(TRACE.read_text())["reports"]
    quality = new_quality([CLIENT, WORKER], 0.0)
    changes: list[tuple[float, SetMode]] = []
    phone: list[RecommendPhone] = []
    drop_seen_at = None
    now = 0.0
    for row in rows:
        at = float(row["t"])
        while now + 1.0 < at:
            now += 1.0
            quality, commands = step(quality, Tick(), now)
            changes += [(now, c) for c in commands if isinstance(c, SetMode) and c.sender == CLIENT]
        now = at
        r = row["report"]
        report = Report(
            sender=CLIENT,
            interval_s=r["i"],
            available_kbps=r.get("bw"),
            rtt_ms=r.get("rtt"),
            loss=r["loss"],
            jitter_ms=r["jit"],
            frames_sent=r["fs"],
            received=Received(WORKER, r["fd"], min(r["frz"], r["i"]), r["cc"]),
        )
        if drop_seen_at is None and r.get("bw") is not None and r["bw"] < SPECS[Mode.SD].need_kbps:
            drop_seen_at = now
        # The worker's own reports are not in the recording: a steady good link stands in.
        quality, _ = step(
            quality,
            Report(WORKER, 1.0, available_kbps=300.0, rtt_ms=800.0, frames_sent=15),
            now,
        )
        quality, commands = step(quality, report, now)
        changes += [(now, c) for c in commands if isinstance(c, SetMode) and c.sender == CLIENT]
        phone += [c for c in commands if isinstance(c, RecommendPhone) and c.sender == CLIENT]
    assert drop_seen_at is not None
    return changes, phone, quality.link(CLIENT).mode, drop_seen_at


def test_a_recorded_worst_link_steps_down_in_time_and_up_only_by_probe() -> None:
    changes, phone, final, drop_seen_at = replay()
    first_down = next(at for at, c in changes if rank(c.mode) < rank(Mode.SD))
    assert first_down - drop_seen_at <= 3.0, (drop_seen_at, changes)
    previous = Mode.SD
    last_change = None
    for at, change in changes:
        up = rank(change.mode) > rank(previous)
        if up:
            assert change.reason is Reason.PROBE_OK, changes
        if last_change is not None and at - last_change < 15.0:
            assert not up, changes  # only a step down may come sooner
        if change.mode != previous:
            last_change = at
        previous = change.mode
    assert not phone  # audio got through: no advice to phone
    assert final in (Mode.STILLS, Mode.AUDIO)
