"""The fallback ladder against the browsers' own adaptation: 1:1 calls of three minutes with
the client's leg on weak links, with Beeldbel's quality controller on and off.

The rig of ``bench.call_setup`` and ``bench.recovery``: two warm Chromiums (worker and
client), a coturn on loopback, the service relay-only, and the client's TURN leg through the
link emulator (``python -m beeldbel.linkemu``), started at admission. The client's signaling
goes through the same emulated link (``--stream-target``: its WebSocket reconnects through
the emulator before the client is let in), so its reports and the service's answers wait in
the same queue as its media, as they do on a real weak link. Each profile runs
twice in the same bench: ``on`` (``BEELDBEL_QUALITY_CONTROL=true``: the browsers report,
the server sets modes) and ``off`` (``false``: the stats are acknowledged and nothing is
decided; only the browsers' congestion control adapts). Nobody touches the pages during a
call. Profiles: ``rural``, ``edge``, ``worst`` (``beeldbel/linkemu/model.py``) and
``schedule``: ``4g`` 40 s → ``rural`` 40 s → ``worst`` 40 s → a 10 s outage → ``4g``.

Both pages sample their inbound media every 500 ms (``getStats``), and the figures are:

* ``held``: the call was still on for both at the end, and both had received real (not
  concealed) audio in the last 10 s;
* ``audio_continuity``: real audio samples / samples played out (concealment is what the
  jitter buffer makes up for lost or late packets), the worse of the two directions;
* ``audio_jitter_buffer_p95_ms``: the 95th percentile of the jitter buffer's delay per
  500 ms sample (``jitterBufferDelay`` / ``jitterBufferEmittedCount``), the worse side;
* ``video_fps``: decoded frames per second of the client's picture at the worker (the
  emulated uplink, the hard direction) over the call, its setup included;
  ``video_fps_from_first_frame`` the same from the first decoded frame on;
  ``video_fps_to_client`` the other direction;
* ``max_picture_gap_s``: the longest time the worker saw no new picture of the client;
* ``mode_changes``: committed mode changes of both directions (from the call's outcome;
  0 when the controller is off);
* ``recovery_s`` (schedule only): from the link's return after the outage until both hear
  each other again (``bench.recovery.back_after``);
* ``stale_voice_drops``: per page, how often it dropped the voice waiting in its jitter
  buffer after a queue (``dropStaleVoice`` in ``web/call.js``; 0 when the controller is off);
* ``end_seen``: the client's page showed the end the worker made (``null``: the call had not
  held to the end);
* ``valid``: the emulator's self-check (``beeldbel.linkemu.calls.self_check``: delay, loss
  and rate within ±10 %); ``null`` for the schedule, which mixes profiles.

Targets with the controller on (reported, not asserted): ``rural`` holds, continuity ≥ 0.98,
video ≥ 10 fps; ``edge`` holds, ≥ 0.97, a fresh picture at least every 5 s; ``worst``
holds, ≥ 0.95; jitter buffer p95 ≤ 300 ms everywhere; recovery after the outage ≤ 3 s.

With ``--samples DIR`` each call's raw samples go to ``DIR/<profile>-<variant>.json``: per
page and per 500 ms the counters above and what the page sent (transport and per kind; RTP
headers and padding per kind), its
congestion control's estimate (``bwe``), the round trip, the jitter buffer's target and the
connection's state; and the controller's decisions with their reasons (the service's
``quality_mode`` log lines).

Usage: python -m bench.ladder --json [--profiles rural,edge,worst,schedule] [--seconds 180]
       [--variants on,off] [--samples DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from beeldbel.linkemu.calls import self_check
from beeldbel.linkemu.model import named_schedule
from beeldbel.linkemu.quality import percentile
from bench.call_setup import TOKEN_JS, Rig, log, rig
from bench.recovery import back_after
from tests.browser.test_call_handover import emulator
from tests.browser.test_ladder import DROPS_JS

SAMPLE_MS = 500
SCHEDULE = "4g:40,rural:40,worst:40,blackout:10,4g"
OUTAGE_AT_S, OUTAGE_S = 120.0, 10.0
PROFILES = ("rural", "edge", "worst", "schedule")

SAMPLER_JS = """
(everyMs) => {
  // the page's drops of stale voice (web/call.js dropStaleVoice): its only deaf offers
  const countDrops = COUNT_DROPS;
  const sample = async () => {
    countDrops();
    const row = { t: Date.now(), total: 0, concealed: 0, silent: 0 };
    Object.assign(row, { jbDelay: 0, jbCount: 0, jbTarget: 0, frames: 0 });
    Object.assign(row, { sent: 0, sentAudio: 0, sentVideo: 0, bwe: 0, rtt: 0 });
    Object.assign(row, { headerAudio: 0, headerVideo: 0 });
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      row.state = pc.connectionState;
      // which side made the last offer (its rung's cap holds: web/quality.js reclaims)
      row.remote = pc.remoteDescription ? pc.remoteDescription.type : null;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'transport') row.sent += r.bytesSent || 0;
        if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
          row.bwe = Math.max(row.bwe, r.availableOutgoingBitrate || 0);
          row.rtt = Math.max(row.rtt, r.currentRoundTripTime || 0);
        }
        if (r.type === 'outbound-rtp') {
          if (r.kind === 'audio') row.sentAudio += r.bytesSent || 0;
          else row.sentVideo += r.bytesSent || 0;
          // RTP headers and padding (probes): webrtc-stats count padding here, not in bytesSent
          if (r.kind === 'audio') row.headerAudio += r.headerBytesSent || 0;
          else row.headerVideo += r.headerBytesSent || 0;
        }
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          row.jbTarget += r.jitterBufferTargetDelay || 0;
          row.total += r.totalSamplesReceived || 0;
          row.concealed += r.concealedSamples || 0;
          row.silent += r.silentConcealedSamples || 0;
          row.jbDelay += r.jitterBufferDelay || 0;
          row.jbCount += r.jitterBufferEmittedCount || 0;
        }
        if (r.type === 'inbound-rtp' && r.kind === 'video') row.frames += r.framesDecoded || 0;
      });
    }
    row.drops = window.__drops.length;
    return row;
  };
  window.__ladder = [];
  clearInterval(window.__ladderTimer);
  window.__ladderTimer = setInterval(async () => window.__ladder.push(await sample()), everyMs);
  return true;
}
""".replace("COUNT_DROPS", DROPS_JS.strip())


def figures(rows: list[dict[str, float]]) -> dict[str, Any]:
    """One side's figures from its samples (cumulative counters every 500 ms)."""
    if len(rows) < 4:
        empty: dict[str, Any] = {"continuity": 0.0, "jb_p95_ms": None, "gap_s": None, "real": []}
        return {**empty, "fps": 0.0, "fps_from_first": 0.0}
    first, last = rows[0], rows[-1]
    total = last["total"] - first["total"]
    concealed = (last["concealed"] - first["concealed"]) - (last["silent"] - first["silent"])
    delays = []
    for a, b in itertools.pairwise(rows):
        count = b["jbCount"] - a["jbCount"]
        if count > 0:
            delays.append(1000 * (b["jbDelay"] - a["jbDelay"]) / count)
    seconds = (last["t"] - first["t"]) / 1000
    pictured = next((r for r in rows if r["frames"] > first["frames"]), None)
    since_picture = (last["t"] - pictured["t"]) / 1000 if pictured else 0.0
    gap, since = 0.0, first["t"]
    for a, b in itertools.pairwise(rows):
        if b["frames"] > a["frames"]:
            gap = max(gap, (b["t"] - since) / 1000)
            since = b["t"]
    gap = max(gap, (last["t"] - since) / 1000)
    return {
        "continuity": 0.0 if total <= 0 else max(0.0, 1 - concealed / total),
        "jb_p95_ms": percentile(delays, 0.95) if delays else None,
        "fps": (last["frames"] - first["frames"]) / seconds if seconds > 0 else 0.0,
        "fps_from_first": (last["frames"] - pictured["frames"]) / since_picture
        if pictured and since_picture > 0
        else 0.0,
        "gap_s": gap,
        "real": [
            [r["t"] / 1000, r["total"], r["total"] - r["concealed"]] for r in rows
        ],  # for back_after
    }


def outcome_quality(r: Rig, appointment_id: str) -> dict[str, Any] | None:
    assert r.server is not None
    token = r.worker.evaluate(TOKEN_JS)
    request = urllib.request.Request(
        r.server.url(f"/api/v1/appointments/{appointment_id}/outcome"),
        headers={"Authorization": f"Bearer {token}"},
    )
    for _ in range(20):
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                quality = json.loads(answer.read())["quality"]
            return quality if quality is not None else {"directions": []}
        except OSError:
            time.sleep(0.5)
    return None


def one_call(
    r: Rig, profile: str, seconds: float, seed: int, home: Path, samples: Path | None = None
) -> dict[str, Any]:
    schedule = SCHEDULE if profile == "schedule" else profile
    appointment_id, _ = r.waiting()
    assert r.server is not None
    args = (r.coturn.port, schedule, home / f"link-{profile}-{seed}.json")
    service = int(r.server.base_url.rsplit(":", 1)[1])
    with emulator(*args, seed=seed, stream_port=service) as (ready, counters):
        started = float(ready["started_at"])  # monotonic, as this process's
        wall = time.time() - time.monotonic()  # Date.now() in the pages, in seconds
        r.via_emulator(int(ready["listening"][1]))
        r.signaling_via_emulator(int(ready["stream"][1]))
        r.admit()
        for page in (r.worker, r.client):
            page.evaluate(SAMPLER_JS, SAMPLE_MS)
        end_at = started + seconds
        while time.monotonic() < end_at:
            time.sleep(min(5.0, max(0.0, end_at - time.monotonic())))
        rows = {
            name: page.evaluate("window.__ladder")
            for name, page in (("worker", r.worker), ("client", r.client))
        }
        on = {
            "worker": not r.worker.locator("#call-ended").is_visible()
            and r.worker.locator("#end-call").is_visible(),
            "client": r.client.locator("#in-call").is_visible(),
        }
        # Whether the client's page showed the end the worker made (the call's figures are
        # taken above; a page that missed it must not cost the rest of the bench).
        end_seen = None
        if on["worker"]:
            try:
                r.end()
                end_seen = True
            except AssertionError as error:
                end_seen = False
                log(f"{profile}: the client's page did not show the end: {str(error)[:300]}")
    if samples is not None:
        assert r.server is not None
        lines = r.server.log.read_text(errors="replace").splitlines()
        decisions = [line for line in lines if "quality_mode" in line and appointment_id in line]
        tail = lines[-200:] if end_seen is False else []
        samples.write_text(
            json.dumps({"started_at": started + wall, **rows, "decisions": decisions, "log": tail})
        )
    seen = {name: figures(found) for name, found in rows.items()}
    late = {
        name: [row for row in found if row["t"] / 1000 - wall >= end_at - 10]
        for name, found in rows.items()
    }
    recent_audio = all(
        len(found) >= 2
        and found[-1]["total"] - found[-1]["concealed"] > found[0]["total"] - found[0]["concealed"]
        for found in late.values()
    )
    recovery = None
    if profile == "schedule":
        sides = []
        for name in ("worker", "client"):
            samples = [[t - wall, total, real] for t, total, real in seen[name]["real"]]
            sides.append(
                back_after(samples, started + OUTAGE_AT_S, started + OUTAGE_AT_S + OUTAGE_S)
            )
        recovery = None if None in sides else round(max(s for s in sides if s is not None), 2)
    check = None if profile == "schedule" else self_check(named_schedule(profile), counters)
    quality = outcome_quality(r, appointment_id)
    jb = [seen[n]["jb_p95_ms"] for n in seen if seen[n]["jb_p95_ms"] is not None]
    return {
        "held": all(on.values()) and recent_audio,
        "audio_continuity": round(min(seen[n]["continuity"] for n in seen), 4),
        "audio_jitter_buffer_p95_ms": round(max(jb), 1) if jb else None,
        "video_fps": round(seen["worker"]["fps"], 2),
        "video_fps_from_first_frame": round(seen["worker"]["fps_from_first"], 2),
        "video_fps_to_client": round(seen["client"]["fps"], 2),
        "max_picture_gap_s": None
        if seen["worker"]["gap_s"] is None
        else round(seen["worker"]["gap_s"], 1),
        "mode_changes": None
        if quality is None
        else sum(max(0, len(d["modes"]) - 1) for d in quality["directions"]),
        "modes": None
        if quality is None
        else {d["role"]: d["modes"] for d in quality["directions"]},
        "recovery_s": recovery,
        "stale_voice_drops": {
            name: found[-1]["drops"] if found else 0 for name, found in rows.items()
        },
        "end_seen": end_seen,
        "valid": None if check is None else bool(check["valid"]),
        "self_check": check,
        "seconds": seconds,
    }


TARGETS = {
    "rural": lambda v: v["held"] and v["audio_continuity"] >= 0.98 and v["video_fps"] >= 10,
    "edge": lambda v: (
        v["held"] and v["audio_continuity"] >= 0.97 and (v["max_picture_gap_s"] or 99) <= 5
    ),
    "worst": lambda v: v["held"] and v["audio_continuity"] >= 0.95,
    "schedule": lambda v: v["held"] and v["recovery_s"] is not None and v["recovery_s"] <= 3,
}


def bench(
    profiles: list[str], seconds: float, variants: list[str], samples: Path | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {}
    with rig() as r:
        for variant in variants:
            settings = {"quality_control": "true" if variant == "on" else "false"}
            if samples is not None:
                settings["log_level"] = "info"  # the controller's decisions, with reasons
            r.use(relay_only_calls="true", **settings)
            for i, profile in enumerate(profiles):
                dump = None if samples is None else samples / f"{profile}-{variant}.json"
                run = one_call(r, profile, seconds, seed=i + 1, home=r.home, samples=dump)
                result.setdefault(profile, {})[variant] = run
                shown = {k: v for k, v in run.items() if k != "self_check"}
                log(f"{profile} {variant}: {json.dumps(shown)}")
    for profile, found in result.items():
        on = found.get("on")
        if on is not None:
            jb = on["audio_jitter_buffer_p95_ms"]
            found["targets_met_on"] = bool(TARGETS[profile](on)) and jb is not None and jb <= 300
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--seconds", type=float, default=180.0, help="per call (default 180)")
    parser.add_argument("--variants", default="on,off", help="on, off or both (default)")
    parser.add_argument(
        "--samples", type=Path, help="a directory for each call's raw samples (both pages)"
    )
    args = parser.parse_args()
    if args.samples is not None:
        args.samples.mkdir(parents=True, exist_ok=True)
    profiles = [p for p in args.profiles.split(",") if p]
    variants = [v for v in args.variants.split(",") if v in ("on", "off")]
    found = bench(profiles, args.seconds, variants, args.samples)
    print(json.dumps(found, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
