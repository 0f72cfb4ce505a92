"""The fallback ladder in two real browsers (issue 9, acceptance 2 and 3).

    client's Chromium ─▶ link emulator (rural / worst) ─▶ coturn ◀─ worker's Chromium

The rig of ``test_call_handover.py``: the service relay-only with per-join TURN credentials
for a coturn on loopback, only the client's leg through ``python -m beeldbel.linkemu``,
started when the worker lets the client in: its media, and its signaling too (its WebSocket
reconnects through the emulator's stream before admission, so its reports and the modes it
is sent wait in the same queue as its media). Nobody touches the pages after admission.

* On ``rural`` and on ``worst`` the call holds for two minutes and audio keeps flowing both
  ways: in every 10 s window each side received real (not concealed) audio samples. On
  ``worst`` the client's picture is down to stills or audio: it sends under one frame a
  second over the last 30 s.
* With signaling unreachable (the service stopped with SIGSTOP: the sockets hang, nothing
  answers) while the client's link turns to ``worst``, the client's page drops to audio by
  itself: it stops sending video while its audio still reaches the worker.
* While a connection is down a page stops its senders, and starts them again after.
* After a fall from ``4g`` to ``worst`` the voice that waited in the queue is dropped
  rather than played seconds late: the worker's jitter buffer is back under 200 ms.
* After that fall the client's voice leaves RED on the spot: its page applies the
  description it holds again, marked anew, instead of a round over its flooded link.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    TABLET,
    Browser,
    Coturn,
    Server,
    coturn_with_secret,
    free_port,
    start_server_with_turn,
    stop_server,
)
from tests.browser.test_call import RECORDER_JS, book, open_waiting_room, wait_until, worker_page
from tests.browser.test_call_handover import SIGNALING_VIA_JS, TURN_VIA_JS, audio, emulator

HOLD_S = 120
WINDOW_S = 10
GOOD_FOR_S = 30  # the client's link is 4g this long after admission, then worst


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn_with_secret(tmp_path_factory.mktemp("coturn")) as started:
        yield started


@pytest.fixture
def server(tmp_path: Path, coturn: Coturn) -> Iterator[Server]:
    (tmp_path / "service").mkdir()
    # The service's own origin listed: the client's signaling goes through the emulator (see
    # in_a_call), so its WebSocket's Host is the emulator's while its page keeps its origin.
    port = free_port()
    running = start_server_with_turn(
        tmp_path / "service",
        coturn,
        port,
        relay_only_calls="true",
        allowed_origins=json.dumps([f"http://127.0.0.1:{port}"]),
    )
    try:
        yield running
    finally:
        if running.process.poll() is None:
            os.kill(running.process.pid, signal.SIGCONT)
        stop_server(running)


def frames_sent(page: Page) -> int:
    found: int = page.evaluate(
        """async () => {
          let sent = 0;
          for (const pc of window.__pcs) {
            if (pc.connectionState === 'closed') continue;
            (await pc.getStats()).forEach((r) => {
              if (r.type === 'outbound-rtp' && r.kind === 'video') sent += r.framesSent || 0;
            });
          }
          return sent;
        }"""
    )
    return found


@contextlib.contextmanager
def in_a_call(
    browser: Browser,
    server: Server,
    coturn: Coturn,
    tmp_path: Path,
    schedule: str,
    *,
    signaling_on_link: bool = True,
) -> Iterator[tuple[Page, Page, dict[str, object]]]:
    worker, token = worker_page(browser, server, "anouk")
    booked = book(server, token, "Gerrit Nijhuis", timedelta(minutes=1))
    open_waiting_room(worker, server, booked.id)
    # bypass_csp: the service's connect-src does not name the emulator's port.
    client = browser.page(viewport=TABLET, has_touch=True, bypass_csp=True)
    for script in (RECORDER_JS, TURN_VIA_JS, SIGNALING_VIA_JS):
        client.add_init_script(script)
    client.goto(server.url(booked.links["client"]))
    expect(client.locator("#inside")).to_be_visible()
    client.locator("#check-done").click()
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    service = int(server.base_url.rsplit(":", 1)[1])
    with emulator(coturn.port, schedule, tmp_path / "link.json", stream_port=service) as (
        ready,
        counters,
    ):
        relay_port = int(ready["listening"][1])
        client.evaluate(
            "via => { window.__turnVia = via; }",
            {"from": f"turn:127.0.0.1:{coturn.port}", "to": f"turn:127.0.0.1:{relay_port}"},
        )
        if signaling_on_link:
            # The client's whole leg on the emulated link: its signaling too (its reports and
            # the modes it is sent wait in the same queue as its media). Its WebSocket
            # reconnects through the emulator's stream before admission.
            stream = int(ready["stream"][1])
            client.evaluate("port => window.__signalingVia.move(port)", stream)
            client.wait_for_function("() => window.__signalingVia.welcomed", timeout=30_000)
        worker.locator("#waiting-list button").click()
        expect(client.locator("#in-call")).to_be_visible()
        counters["started_at"] = float(ready["started_at"])  # the emulator's monotonic clock
        yield worker, client, counters


SETTLED_JS = "() => window.__pcs.every((p) => p.signalingState !== 'have-local-offer')"


def how_it_sends(page: Page) -> dict[str, object]:
    """What the page's connection sends with, from the remote description it applied (the
    ladder marks it: the first audio codec, the packet time, the congestion control's cap and
    the video section's bandwidth limit, whether the voice may carry the congestion control's
    probes, whether video is sent at all, and whether the page made the last offer)
    """
    found: dict[str, object] = page.evaluate(
        """() => {
          const pc = window.__pcs.find((p) => p.connectionState !== 'closed');
          const sdp = pc.currentRemoteDescription.sdp;
          const audio = sdp.split(/(?=^m=)/m).find((s) => s.startsWith('m=audio'));
          const first = audio.match(/^m=audio \\S+ \\S+ (\\d+)/m)[1];
          const codec = audio.match(new RegExp(`^a=rtpmap:${first} ([^/]+)`, 'm'))[1];
          const ptime = (audio.match(/^a=ptime:(\\d+)/m) || [])[1] || null;
          const cap = (sdp.match(/x-google-max-bitrate=(\\d+)/) || [])[1] || null;
          const video = sdp.split(/(?=^m=)/m).find((s) => s.startsWith('m=video')) || '';
          // Chrome keeps one bandwidth line of the two we write: b=TIAS (bit/s) if there.
          const tias = (video.match(/^b=TIAS:(\\d+)/m) || [])[1];
          const as = (video.match(/^b=AS:(\\d+)/m) || [])[1];
          const limit = tias ? String(Number(tias) / 1000) : as || null;
          // The congestion control's header extensions on the voice we send.
          const probes = /transport-wide-cc|abs-send-time/.test(audio);
          const camera = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
          // the page made the last offer: the cap above holds only then (Chromium 156)
          const offered = pc.currentRemoteDescription.type === 'answer';
          return { codec, ptime, cap, limit, probes, video: camera.currentDirection, offered };
        }"""
    )
    return found


def client_mode(worker: Page) -> tuple[str, bool]:
    """The client's direction as the worker's screen shows it: the mode, and whether it is
    a probe (a trial of one rung up) rather than a committed mode."""
    item = worker.locator("#quality li[id^='mode-']:not(#mode-me)")
    return str(item.get_attribute("data-mode")), item.get_attribute("data-probe") == "true"


def real_audio_in_window(page: Page, seconds: float) -> int:
    before = audio(page)[1]
    time.sleep(seconds)
    return audio(page)[1] - before


@pytest.mark.parametrize("profile", ["rural", "worst"])
def test_the_call_holds_two_minutes_with_audio_flowing_on_a_weak_link(
    profile: str, server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    started = time.monotonic()
    with in_a_call(browser, server, coturn, tmp_path, profile) as (worker, client, link):
        wait_until("audio from the client", lambda w=worker: audio(w)[1] > 0, timeout_s=60)
        wait_until("audio from the worker", lambda c=client: audio(c)[1] > 0, timeout_s=60)
        windows: list[tuple[int, int]] = []
        held_from = time.monotonic()
        frames_at: list[tuple[float, int]] = []
        modes: list[tuple[str, bool]] = []
        while time.monotonic() - held_from < HOLD_S:
            before = (audio(worker)[1], audio(client)[1])
            time.sleep(WINDOW_S)
            after = (audio(worker)[1], audio(client)[1])
            windows.append((after[0] - before[0], after[1] - before[1]))
            frames_at.append((time.monotonic(), frames_sent(client)))
            modes.append(client_mode(worker))
            # No one touched anything; the call is still on for both.
            assert client.locator("#in-call").is_visible()
            assert not worker.locator("#call-ended").is_visible()
        starved = [i for i, (w, c) in enumerate(windows) if w <= 0 or c <= 0]
        assert not starved, (profile, windows)
        (t0, f0), (t1, f1) = frames_at[-7], frames_at[-1]
        client_fps = (f1 - f0) / (t1 - t0)
        for _ in range(6):  # read the mode around it, so that no change falls in between
            seen = client_mode(worker)
            sends = how_it_sends(client)
            # `audio` turns the video transceiver recvonly once it has stood 5 s (a fresh
            # one, after a probe's roll-back say, may not have yet)
            fresh = seen == ("audio", False) and sends["video"] not in ("recvonly", "inactive")
            # a capped page that has just answered offers again at once (see below), unless
            # it is quiet
            quiet = sends["video"] in ("recvonly", "inactive") and sends["probes"] is False
            answered = seen[0] in ("stills", "audio") and not sends["offered"] and not quiet
            settled = client.evaluate(SETTLED_JS)
            if client_mode(worker) == seen and settled and not fresh and not answered:
                break
            time.sleep(2)
        mode, probe = seen
        if profile == "worst":
            # Over the last minute the client's committed mode (trials of one rung up aside)
            # is stills or voice only.
            committed = [mode for mode, probe in modes[-6:] if not probe]
            assert committed, modes
            assert set(committed) <= {"stills", "audio"}, modes
        # The actuators: 60 ms packets on the weak rungs; RED where video moves; on the
        # thinnest rungs the congestion control capped at the need.
        if not probe and mode in ("sd", "low", "stills", "audio"):
            assert sends["ptime"] == "60", sends
            assert sends["codec"] == ("red" if mode in ("sd", "low") else "opus"), (mode, sends)
        if not probe and mode == "stills":
            # The cap holds only on the side that made the last offer: a capped client that
            # answered the worker's offer makes the next one itself.
            assert sends["offered"] is True, sends
        if not probe and mode == "audio":
            assert sends["cap"] == "26", sends
            assert sends["limit"] == "26", sends
            # No video sender at all (inactive if the worker sends none either), and a voice
            # that cannot carry padding: nothing on the link but the voice. So the cap no
            # longer needs an offer of the client's own (a round over its weak link).
            assert sends["video"] in ("recvonly", "inactive"), sends
            assert sends["probes"] is False, sends
    sys.stdout.write(
        json.dumps(
            {
                "test": "issue-9-acceptance-2",
                "profile": profile,
                "real_audio_per_window": windows,
                "client_fps_last_60s": round(client_fps, 2),
                "client_modes": modes,
                "client_sends": sends,
                "link": {k: link.get(k) for k in ("up", "down")},
                "test_s": round(time.monotonic() - started, 1),
            }
        )
        + "\n"
    )


def flowing_before_the_fall(worker: Page, client: Page, link: dict[str, object]) -> float:
    """Waits for the client's video and voice on a `4g:GOOD_FOR_S,...` link; returns when
    (monotonic) the link turns bad, at least 5 s ahead."""
    wait_until("video from the client", lambda: frames_sent(client) > 30, timeout_s=60)
    wait_until("audio from the client", lambda: audio(worker)[1] > 0, timeout_s=60)
    turns_bad_at = float(str(link["started_at"])) + GOOD_FOR_S
    assert time.monotonic() < turns_bad_at - 5, "media took too long to start"
    return turns_bad_at


def test_with_signaling_unreachable_the_browser_falls_back_to_audio_by_itself(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    schedule = f"4g:{GOOD_FOR_S},worst"
    with in_a_call(browser, server, coturn, tmp_path, schedule) as (worker, client, link):
        turns_bad_at = flowing_before_the_fall(worker, client, link)
        # Signaling goes silent a little before the link turns bad.
        time.sleep(max(0.0, turns_bad_at - 3 - time.monotonic()))
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            stopped_at = time.monotonic()
            # The 5 s rule, plus the link turning bad and being measured: then video stops.
            deadline = turns_bad_at + 40
            still_sending = True
            while time.monotonic() < deadline:
                first = frames_sent(client)
                time.sleep(3)
                if frames_sent(client) == first:
                    still_sending = False
                    break
            assert not still_sending, "the client kept sending video without signaling"
            stopped_video_after_s = time.monotonic() - stopped_at
            heard = real_audio_in_window(worker, 5)
            assert heard > 0, "the worker no longer hears the client"
            # It was the page's own decision, and it says so in plain Dutch.
            expect(client.locator("#quality-hint")).to_have_text(
                "Uw verbinding is even weg. Blijf op deze pagina; het gesprek gaat vanzelf verder."
            )
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        sys.stdout.write(
            json.dumps(
                {
                    "test": "issue-9-acceptance-3",
                    "video_stopped_after_s": round(stopped_video_after_s, 1),
                    "worker_heard_samples_5s": heard,
                }
            )
            + "\n"
        )


WATCH_JS = """
(everyMs) => {
  window.__watch = [];
  setInterval(() => {
    const pc = window.__pcs.find((p) => p.connectionState !== 'closed');
    if (!pc) return;
    const active = (kind) => pc.getSenders()
      .filter((s) => s.track && s.track.kind === kind)
      .map((s) => (s.getParameters().encodings[0] || {}).active !== false);
    window.__watch.push({ state: pc.connectionState, audio: active('audio') });
  }, everyMs);
}
"""


def test_while_its_connection_is_down_a_page_stops_its_senders_and_starts_them_again(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    # Chrome queues what a sender encodes while the connection is down and sends it all at
    # once when it is back: stale voice the far side's jitter buffer then holds for tens of
    # seconds (bench.ladder's schedule measured 3 s). The page stops its senders meanwhile.
    schedule = f"4g:{GOOD_FOR_S},blackout:12,4g"
    with in_a_call(browser, server, coturn, tmp_path, schedule) as (worker, client, link):
        wait_until("audio from the worker", lambda: audio(client)[1] > 0, timeout_s=60)
        worker.evaluate(WATCH_JS, 200)
        down_at = float(str(link["started_at"])) + GOOD_FOR_S
        assert time.monotonic() < down_at - 2, "media took too long to start"

        def seen(state: str) -> list[dict[str, object]]:
            found: list[dict[str, object]] = worker.evaluate("window.__watch")
            return [w for w in found if w["state"] == state]

        wait_until(
            "the worker's connection is down",
            lambda: seen("disconnected") or seen("failed"),
            timeout_s=40,
        )
        # While it is down, the voice sender stops (the page reacts within a beat).
        wait_until(
            "the worker's voice sender stopped while the connection is down",
            lambda: any(not any(w["audio"]) for w in seen("disconnected") + seen("failed")),
            timeout_s=20,
        )
        before = audio(client)[1]
        # Back: the voice starts again, and the client hears the worker.
        wait_until(
            "the worker's connection is back with its voice sender on",
            lambda: bool(seen("connected")) and all(seen("connected")[-1]["audio"]),
            timeout_s=60,
        )
        wait_until(
            "the client hears the worker again", lambda: audio(client)[1] > before, timeout_s=30
        )
        watched = worker.evaluate("window.__watch")
    sys.stdout.write(
        json.dumps(
            {
                "test": "issue-9-senders-stop-while-down",
                "states": sorted({str(w["state"]) for w in watched}),
                "samples_down_with_voice_off": sum(
                    1 for w in watched if w["state"] != "connected" and not any(w["audio"])
                ),
            }
        )
        + "\n"
    )


# Counts, on every connection of the page, the local descriptions that receive no voice: the
# page's way of dropping stale voice (CallSession.dropStaleVoice) and nothing else it does;
# with each, in `__dropStates`, the connection's signaling state just before it.
DROPS_JS = """
() => {
  window.__drops = window.__drops || [];
  window.__dropStates = window.__dropStates || [];
  for (const pc of window.__pcs) {
    if (pc.__dropsCounted) continue;
    pc.__dropsCounted = true;
    const original = pc.setLocalDescription.bind(pc);
    pc.setLocalDescription = (description) => {
      const voice = pc
        .getTransceivers()
        .find((t) => !t.stopped && t.receiver.track.kind === 'audio');
      const deaf = voice && ['sendonly', 'inactive'].includes(voice.direction);
      if (!description && deaf) {
        window.__drops.push(Date.now());
        window.__dropStates.push(pc.signalingState);
      }
      return original(description);
    };
  }
}
"""

# The `o=` line of the remote description the page's connection holds.
HELD_ORIGIN_JS = """
() => window.__pcs.find((p) => p.connectionState !== 'closed')
  .currentRemoteDescription.sdp.match(/^o=.*$/m)[0]
"""

# The voice's jitter buffer, cumulative: seconds waited, samples emitted.
PLAYOUT_JS = """
async () => {
  let delay = 0, count = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        delay += r.jitterBufferDelay || 0;
        count += r.jitterBufferEmittedCount || 0;
      }
    });
  }
  return [delay, count];
}
"""


# The page's own QualityAgent (web/quality.js) in `stills` (or `mode`), on a fake connection
# whose round trip (`link.rtt`, seconds; `link.answers`: connectivity checks answered) the
# caller sets and may change; the service answers each report after `ackMs`. `sent`:
# [seconds, reported round trip] per report. With `voice`, the connection receives voice, of
# which the share `voice.concealed` (the caller may change it) is concealed, and which waits
# `voice.wait` seconds in the jitter buffer (20 ms if not given). `drops`: when the page
# dropped stale voice.
STILLS_AGENT_JS = """
  const { QualityAgent } = await import('/static/quality.js');
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  const stillsAgent = (link, ackMs, mode = 'stills', voice = null) => {
    const heard = { at: performance.now(), samples: 0, concealed: 0, delay: 0 };
    const inbound = () => {
      const now = performance.now();
      const samples = Math.round((now - heard.at) * 48);
      Object.assign(heard, { at: now, samples: heard.samples + samples });
      heard.concealed += Math.round(samples * voice.concealed);
      heard.delay += samples * (voice.wait ?? 0.02);
      return { type: 'inbound-rtp', kind: 'audio', totalSamplesReceived: heard.samples,
               concealedSamples: heard.concealed, silentConcealedSamples: 0,
               jitterBufferDelay: heard.delay, jitterBufferEmittedCount: heard.samples };
    };
    const pc = {
      connectionState: 'connected',
      getTransceivers: () => [],
      getStats: async () =>
        new Map([
          ['T', { type: 'transport', selectedCandidatePairId: 'P' }],
          ['P', { id: 'P', type: 'candidate-pair', nominated: true, state: 'succeeded',
                  currentRoundTripTime: link.rtt, responsesReceived: link.answers,
                  availableOutgoingBitrate: 40000 }],
          ...(voice ? [['A', inbound()]] : []),
        ]),
    };
    const sent = [];
    const paces = []; // [seconds, the pace the report announced (n)]
    const reports = [];
    const drops = [];
    const t0 = performance.now();
    const session = {
      phase: 'in_call', online: true, me: { id: 'me' },
      peers: new Map([['far', { id: 'far', pc }]]),
      send: async (kind, report) => {
        sent.push([(performance.now() - t0) / 1000, report.rtt]);
        paces.push([(performance.now() - t0) / 1000, report.n]);
        reports.push(report);
        await sleep(ackMs);
        return { ok: true };
      },
      dropStaleVoice: async () => {
        drops.push((performance.now() - t0) / 1000);
        return true;
      },
      remarkAll: () => {},
      changed: () => {},
    };
    const agent = new QualityAgent(session);
    agent.mode = mode;
    agent.measured = true;
    agent.start();
    return { agent, sent, paces, reports, t0, drops };
  };
"""

EARLY_REPORT_JS = (
    """
async (risesTo) => {
"""
    + STILLS_AGENT_JS
    + """
  // In `stills` on its own weak link (answers take 400 ms) it reports every 4 s.
  const link = { rtt: 0.3, answers: 10 };
  const { agent, sent } = stillsAgent(link, 400);
  while (sent.length < 1) await sleep(100);
  await sleep(500);
  link.rtt = risesTo / 1000; // a fresh answer: the round trip of a queue
  link.answers += 1;
  while (sent.length < 2) await sleep(100);
  agent.stop();
  return sent;
}
"""
)


COLLAPSE_REPORT_JS = (
    """
async (share) => {
"""
    + STILLS_AGENT_JS
    + """
  // In `stills` on its own weak link (answers take 400 ms) it reports every 4 s; half a
  // second after its first report, `share` of the far side's voice goes missing.
  const voice = { concealed: 0 };
  const { agent, sent } = stillsAgent({ rtt: 0.3, answers: 10 }, 400, 'stills', voice);
  while (sent.length < 1) await sleep(100);
  await sleep(500);
  voice.concealed = share;
  while (sent.length < 2) await sleep(100);
  agent.stop();
  return sent;
}
"""
)


SELF_STILLS_JS = (
    """
async ([mode, share, farMode, farProbing, pinned]) => {
"""
    + STILLS_AGENT_JS
    + """
  // In `mode`, the far side's voice arriving whole for a few checks, then `share` of it
  // missing: how long after that the page was in `stills` (null: not within 3 s), the hints
  // it gave, and the first report after it.
  const voice = { concealed: 0 };
  const { agent, reports } = stillsAgent({ rtt: 0.3, answers: 10 }, 100, mode, voice);
  agent.onWelcome({ mode, spec: { ptime_ms: 60 }, fallback: {
    stills: { video_kbps: 12, width: 320, height: 240, fps: 0, still_every_s: 3,
              audio_kbps: 16, ptime_ms: 60, red: false, max_kbps: 40 },
    audio: { video_kbps: 0, audio_kbps: 16, ptime_ms: 60, red: false, max_kbps: 26 } } });
  agent.mode = mode;
  agent.onQuality({ participant_id: 'far', mode: farMode, probe: farProbing });
  if (pinned) agent.onQuality({ participant_id: 'me', mode, probe: false, pinned: true });
  const hints = [];
  agent.onHint = (hint) => hints.push(hint);
  while (reports.length < 1) await sleep(50);
  await sleep(2500);
  const seen = reports.length;
  voice.concealed = share;
  const t = performance.now();
  while (agent.mode !== 'stills' && performance.now() - t < 3000) await sleep(50);
  const fell = agent.mode === 'stills' ? (performance.now() - t) / 1000 : null;
  // The first report since the voice went missing that was sent in the mode the page is in
  // now (one may have been on its way already).
  const after = () => reports.slice(seen).find((r) => r.m === agent.mode);
  while (!after()) await sleep(50);
  agent.stop();
  const next = after();
  return [fell, hints.length, Boolean(next.fb), next.m];
}
"""
)


REPORT_PACE_JS = (
    """
async ([ackMs, rttMs]) => {
"""
    + STILLS_AGENT_JS
    + """
  // When each report went out (seconds), and the pace it announced: the first, and those of
  // the 6.5 s after it.
  const { agent, sent, paces } = stillsAgent({ rtt: rttMs / 1000, answers: 10 }, ackMs);
  while (sent.length < 1) await sleep(50);
  await sleep(6500);
  agent.stop();
  return paces;
}
"""
)


FLOOD_JS = (
    """
async ([ackMs, mode]) => {
"""
    + STILLS_AGENT_JS
    + """
  // In `mode` (degraded), the service answering each report after `ackMs`: how long after a
  // report went out the page was in `audio` (null: not within 5 s), and whether the report
  // after it said so (`fb`).
  const { agent, sent, reports, t0 } = stillsAgent({ rtt: 0.9, answers: 10 }, ackMs, mode);
  while (reports.length < 1) await sleep(50);
  const sentAt = t0 + sent[0][0] * 1000; // when the page sent it, not when we looked
  while (agent.mode !== 'audio' && performance.now() - sentAt < 5000) await sleep(50);
  const fell = agent.mode === 'audio' ? (performance.now() - sentAt) / 1000 : null;
  while (reports.length < 2) await sleep(100);
  agent.stop();
  return [fell, Boolean(reports[0].fb), Boolean(reports[1].fb)];
}
"""
)


STALE_QUIET_JS = (
    """
async ([farMode, waitMs]) => {
"""
    + STILLS_AGENT_JS
    + """
  // The far side's voice arrives whole and steady, and waits `waitMs` in the jitter buffer;
  // the far side's committed mode is `farMode`. When the page dropped it, over 4.5 s.
  const voice = { concealed: 0, wait: waitMs / 1000 };
  const { agent, drops } = stillsAgent({ rtt: 0.9, answers: 10 }, 20, 'audio', voice);
  agent.onQuality({ participant_id: 'far', mode: farMode, probe: false, pinned: false });
  await sleep(4500);
  agent.stop();
  return drops;
}
"""
)


STALE_TURNED_JS = (
    """
async ([turns, laterMs]) => {
"""
    + STILLS_AGENT_JS
    + """
  // The far side's voice waits 400 ms beside its stills, and the page drops it; 1 s later
  // the far side goes to the voice alone (if `turns`), and the voice now waits `laterMs`.
  // When the page dropped it, over 6 s from the first drop.
  const voice = { concealed: 0, wait: 0.4 };
  const { agent, drops, t0 } = stillsAgent({ rtt: 0.9, answers: 10 }, 20, 'audio', voice);
  agent.onQuality({ participant_id: 'far', mode: 'stills', probe: false, pinned: false });
  while (!drops.length && performance.now() - t0 < 5000) await sleep(50);
  await sleep(1000);
  voice.wait = laterMs / 1000;
  const mode = turns ? 'audio' : 'stills';
  agent.onQuality({ participant_id: 'far', mode, probe: false, pinned: false });
  await sleep(5000);
  agent.stop();
  return drops;
}
"""
)


def side_by_side(server: Server, browser: Browser, script: str, cases: list[Any]) -> list[Any]:
    """``script`` (an async function of one case, on fake agents: STILLS_AGENT_JS) run for
    every case at once in one page. Each case waits seconds of its own agent's reports, and
    the agents share nothing."""
    page = browser.page()
    page.goto(server.url("/"))
    found: list[Any] = page.evaluate(
        f"async (cases) => {{ const one = {script}; return Promise.all(cases.map(one)); }}",
        cases,
    )
    return found


def test_a_page_whose_reports_wait_in_its_own_links_queue_goes_to_audio_by_itself(
    server: Server, browser: Browser
) -> None:
    # A report unanswered for 2 s waits in a queue of seconds on the page's own link, and so
    # do the server's modes: on a degraded link with moving video the page goes to `audio` at
    # once and tells the server with its next report. A 2G-class round trip (700 ms) is no
    # flood; nor, in `stills`, is an answer 3 s late (a still every few seconds floods no link,
    # and a lossy link's signaling waits that long too): there only the 5 s rule holds.
    # (the service answers after ms, the page's mode, the page falls)
    cases = [(3000, "low", True), (700, "low", False), (3000, "stills", False)]
    found = side_by_side(server, browser, FLOOD_JS, [[ack, mode] for ack, mode, _ in cases])
    for (ack_ms, mode, falls), (fell, first_fb, next_fb) in zip(cases, found, strict=True):
        case = {"ack_ms": ack_ms, "mode": mode, "fell_after_s": fell, "fb": [first_fb, next_fb]}
        assert first_fb is False, case
        if falls:
            assert fell is not None, case
            assert 2.0 <= fell < 3.0, case
            assert next_fb is True, case
        else:
            assert fell is None, case
            assert next_fb is False, case


def test_a_page_whose_own_link_is_clear_reports_often_though_the_media_path_is_weak(
    server: Server, browser: Browser
) -> None:
    # Reports go every 4 s on a weak link, because they share it. A page in `stills` whose
    # own link to the service answers its reports at once (within 200 ms and half the
    # media's round trip) is not on the weak link: it reports every 1.5 s. Each report says
    # when the next goes at the latest (`n`, s: the pace, and the half-second beat that checks
    # it), and the next goes no later: the server takes silence for an outage by that pace.
    cases = [  # (the service answers after ms, the media's round trip ms, clear)
        (20, 900, True),  # the worker's page: the far side's link is the weak one
        (450, 900, False),  # the client's page: answers take its own link's round trip
        (90, 150, False),  # a short path, and our own part of it is most of it
    ]
    found = side_by_side(server, browser, REPORT_PACE_JS, [[a, r] for a, r, _ in cases])
    for (ack_ms, rtt_ms, clear), paces in zip(cases, found, strict=True):
        sent = [at for at, _ in paces]
        gaps = [round(b - a, 2) for a, b in itertools.pairwise(sent)]
        case = {"ack_ms": ack_ms, "rtt_ms": rtt_ms, "sent_s": paces}
        if clear:
            assert len(sent) >= 4, case
            assert max(gaps) < 2.1, case
            assert paces[-1][1] == 2.0, case  # every 1.5 s, checked every 0.5 s
        else:
            assert len(sent) <= 2, case
            assert min(gaps, default=4.0) >= 3.9, case
            assert all(n == 4.5 for _, n in paces), case
        for gap, (_, n) in zip(gaps, paces, strict=False):
            assert gap <= n + 0.3, case  # give or take a busy machine's timers


def test_a_round_trip_a_second_longer_is_reported_at_once(server: Server, browser: Browser) -> None:
    # On a weak link (stills) a page reports every 4 s; a fresh round trip a second or more
    # longer than the last one reported goes out at once (1.5 s after the last report at the
    # soonest), as the server takes any rung to the voice alone on it. A smaller rise waits.
    cases = [3500, 900]  # the round trip rises from 300 ms to this
    found = side_by_side(server, browser, EARLY_REPORT_JS, cases)
    for rises_to, ((first_at, first_rtt), (then_at, then_rtt)) in zip(cases, found, strict=True):
        case = {"rises_to": rises_to, "sent": [[first_at, first_rtt], [then_at, then_rtt]]}
        assert first_rtt == 300, case
        assert then_rtt == rises_to, case
        if rises_to - first_rtt >= 1000:
            assert 1.4 <= then_at - first_at < 3.0, case
        else:
            assert then_at - first_at >= 3.9, case


def test_the_far_voice_collapsing_is_reported_at_once(server: Server, browser: Browser) -> None:
    # On a weak link (stills) a page reports every 4 s; a quarter or more of the far side's
    # voice missing since the last check (once a second) goes out at once (1.5 s after the
    # last report at the soonest): the server steps the far side's link down on it. A tenth
    # missing (a lossy link's bursts) waits for the pace.
    cases = [0.4, 0.1]
    found = side_by_side(server, browser, COLLAPSE_REPORT_JS, cases)
    for share, ((first_at, _), (then_at, _)) in zip(cases, found, strict=True):
        case = {"share": share, "sent": [first_at, then_at]}
        if share >= 0.25:
            assert 1.4 <= then_at - first_at < 3.0, case
        else:
            assert then_at - first_at >= 3.9, case


def test_a_page_whose_far_voice_collapses_beside_its_video_goes_to_stills_by_itself(
    server: Server, browser: Browser
) -> None:
    # A quarter of the far side's voice missing, where it arrived whole the check before, beside
    # our own moving video: our access network has fallen, and the server's word would wait in
    # the queue our video fills. The page goes to `stills` at a next check (once a second),
    # gives no hint (whose link is weak is the server's to say), and its next report says so
    # (`fb`, `m`). Only beside the far side's moving video (beside its stills a quarter missing
    # in a second may be a burst of a lossy link's own); not from stills, not for a tenth
    # missing, not while the far side probes, not when our mode is pinned.
    cases = [  # (mode, share missing, far side's mode, it probes, pinned, falls)
        ("low", 0.4, "sd", False, False, True),
        ("sd", 0.3, "low", False, False, True),
        ("stills", 0.4, "sd", False, False, False),
        ("low", 0.1, "sd", False, False, False),
        ("low", 0.4, "stills", False, False, False),
        ("low", 0.4, "sd", True, False, False),
        ("low", 0.4, "sd", False, True, False),
    ]
    found = side_by_side(server, browser, SELF_STILLS_JS, [list(c[:5]) for c in cases])
    for (mode, share, theirs, probing, pinned, falls), (fell, hints, fb, m) in zip(
        cases, found, strict=True
    ):
        case = {"mode": mode, "share": share, "theirs": theirs, "probing": probing}
        case["pinned"] = pinned
        assert hints == 0, case
        if falls:
            assert fell is not None, case  # within 3 s: the checks go once a second
            assert (fb, m) == (True, "stills"), case
        else:
            assert fell is None or mode == "stills", {**case, "fell": fell}
            assert fb is False, case
            assert m == mode, case


def test_after_a_fall_in_capacity_the_stale_voice_is_dropped(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    # From 4g (2 Mbit/s up) to worst (32 kbit/s up): the queue that fills while the client
    # still sends video holds seconds of its voice, which reaches the worker in a burst once
    # it drains. The worker's page drops that stale voice (while the burst arrives, and once
    # the queue has drained if NetEQ still holds it), instead of playing it seconds late for
    # half a minute.
    # The drop itself, with the client's signaling off the emulated link; the bench's
    # schedule measures the whole, its signaling on the link. (There, until RED came off the
    # client's voice on the spot, the round that took it off waited in the queue, the voice
    # went twice meanwhile, and in one run it waited 207 ms on average from 1 to 8 s after
    # the last drop: see test_after_a_fall_the_client_leaves_red_without_a_round_over_its_link.)
    schedule = f"4g:{GOOD_FOR_S},worst"
    with in_a_call(browser, server, coturn, tmp_path, schedule, signaling_on_link=False) as (
        worker,
        client,
        link,
    ):
        turns_bad_at = flowing_before_the_fall(worker, client, link)
        worker.evaluate(DROPS_JS)
        worker.evaluate(REMOTE_LOG_JS)
        held_at_start = worker.evaluate(HELD_ORIGIN_JS)
        seen: list[tuple[float, float, int]] = []  # (time, seconds waited, samples)
        deadline = turns_bad_at + 60
        drops: list[float] = []  # when the page dropped, on this process's clock
        while time.monotonic() < deadline:
            delay, count = worker.evaluate(PLAYOUT_JS)
            seen.append((time.monotonic(), delay, count))
            done = worker.evaluate("window.__drops.length")
            drops += [time.monotonic()] * (done - len(drops))
            # Done 8 s after the last drop: a later one would start the wait again.
            if drops and time.monotonic() - drops[-1] > 8:
                break
            time.sleep(1)
        # The page's own times, for the spacing between drops.
        dropped = [t / 1000 for t in worker.evaluate("window.__drops")]
        states: list[str] = worker.evaluate("window.__dropStates")
        applied: list[dict[str, Any]] = [
            {"at": 0, "origin": held_at_start},
            *worker.evaluate("window.__remote"),
        ]

        def waits(since: float, until: float) -> float | None:
            inside = [s for s in seen if since <= s[0] <= until]
            if len(inside) < 2 or inside[-1][2] <= inside[0][2]:
                return None
            (_, d0, c0), (_, d1, c1) = inside[0], inside[-1]
            return (d1 - d0) / (c1 - c0) * 1000

        worst_wait = max(
            (w for a, b in itertools.pairwise(seen) if (w := waits(a[0], b[0])) is not None),
            default=0.0,
        )
        # What a failure shows: the wait of each second and the drops, in s after the fall.
        per_second = [
            (round(b[0] - turns_bad_at, 1), None if w is None else round(w))
            for a, b in itertools.pairwise(seen)
            for w in [waits(a[0], b[0])]
        ]
        story = {"waits": per_second, "drops": [round(t - turns_bad_at, 1) for t in drops]}
        assert worst_wait > 450, f"the fall did not queue the voice ({worst_wait:.0f} ms)"
        assert drops, f"stale voice kept: up to {worst_wait:.0f} ms late"
        # Never two drops within 3 s (each costs a moment of sound), so never a storm of them.
        spacing = [b - a for a, b in itertools.pairwise(dropped)]
        assert all(gap >= 2.9 for gap in spacing), f"{spacing}: {story}"
        # A drop from a settled connection sends nothing: the description the page held is
        # applied again (an answer after its two local offers, or an offer before each of its
        # two answers), not a new one from the client, which would have needed a round over
        # the client's link, just when it drains. (Only a drop while an offer of the page's
        # own waits for its answer leaves that answer to complete the round.)
        settled = [
            (t * 1000, state)
            for t, state in zip(dropped, states, strict=True)
            if state != "have-local-offer"
        ]
        assert settled, f"no drop from a settled connection: {states}: {story}"
        for at, state in settled:
            before = [d["origin"] for d in applied if d["at"] <= at]
            after = [d["origin"] for d in applied if d["at"] > at]
            assert after, f"{state} drop at {at}: {applied}"
            assert after[0] == before[-1], f"a new description after the drop: {applied}"
        # From a second after the last drop: the voice is on time again, and still comes.
        after = waits(drops[-1] + 1, drops[-1] + 8)
        assert after is not None, f"no voice after the drop: {story}"
        assert after < 200, f"{after:.0f} ms: {story}"
        heard = real_audio_in_window(worker, 3)
        assert heard > 0, "the worker no longer hears the client"
    sys.stdout.write(
        json.dumps(
            {
                "test": "issue-9-stale-voice",
                "worst_wait_ms": round(worst_wait),
                "dropped_after_fall_s": [round(t - turns_bad_at, 1) for t in drops],
                "dropped_from": states,
                "wait_after_drop_ms": round(after),
                "worker_heard_samples_3s": heard,
                "waits_ms": [w for w in per_second if w[0] > -2],
            }
        )
        + "\n"
    )


# Logs, on every connection of the page, each remote description it applies: when (the
# page's clock), its type, the first audio codec (the one the page sends) and its `o=` line
# (a description the far side made anew has a new session version).
REMOTE_LOG_JS = """
() => {
  window.__remote = window.__remote || [];
  for (const pc of window.__pcs) {
    if (pc.__remoteLogged) continue;
    pc.__remoteLogged = true;
    const original = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = async (description) => {
      const done = await original(description);
      const sdp = description.sdp;
      const audio = sdp.split(/(?=^m=)/m).find((s) => s.startsWith('m=audio')) || '';
      const first = (audio.match(/^m=audio \\S+ \\S+ (\\d+)/m) || [])[1];
      const codec = (audio.match(new RegExp(`^a=rtpmap:${first} ([^/]+)`, 'm')) || [])[1];
      const origin = (sdp.match(/^o=.*$/m) || [''])[0];
      window.__remote.push({ at: Date.now(), type: description.type, codec, origin });
      return done;
    };
  }
}
"""


def test_after_a_fall_the_client_leaves_red_without_a_round_over_its_link(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    # From 4g to worst, the client's signaling on the emulated link. Its voice goes as RED
    # while its picture moves (twice the voice's rate), and its rung after the fall sends
    # plain Opus. Only a description the page applies changes what it sends, and a round of
    # its own would wait in the queue the fall filled, which RED keeps full: on the bench's
    # schedule 4-5 s. So the page applies the remote description it holds again, marked
    # anew (CallSession.remark): no new description from the worker is needed for it.
    schedule = f"4g:{GOOD_FOR_S},worst"
    with in_a_call(browser, server, coturn, tmp_path, schedule) as (worker, client, link):
        turns_bad_at = flowing_before_the_fall(worker, client, link)
        # the fall on the page's clock (ms since the epoch, as the log's)
        fall_wall = time.time() + (turns_bad_at - time.monotonic())
        wait_until("the client sends RED", lambda: how_it_sends(client)["codec"] == "red")
        client.evaluate(REMOTE_LOG_JS)
        held_at_start = client.evaluate(
            "() => window.__pcs.find((p) => p.connectionState !== 'closed')"
            ".currentRemoteDescription.sdp.match(/^o=.*$/m)[0]"
        )
        modes: list[tuple[float, str]] = []  # (s after the fall, the client's mode)

        def plain() -> bool:
            mode, _ = client_mode(worker)
            if not modes or modes[-1][1] != mode:
                modes.append((round(time.monotonic() - turns_bad_at, 1), mode))
            return how_it_sends(client)["codec"] == "opus"

        left = turns_bad_at + 45 - time.monotonic()
        wait_until("the client sends plain Opus", plain, timeout_s=left)
        applied: list[dict[str, Any]] = client.evaluate("window.__remote")
        switched = next(d for d in applied if d["codec"] == "opus")
        before = [d for d in applied if d["at"] < switched["at"]]
        held = before[-1]["origin"] if before else held_at_start
        story = {"modes": modes, "applied": applied, "held_at_start": held_at_start}
        # The client's page may have gone to stills by itself (it heard the worker's voice
        # collapse beside its own video): the worker's screen shows it once the page's report
        # of it, or the server's own step, gets through.
        wait_until(
            "the worker's screen shows the client in stills or audio",
            lambda: plain() and client_mode(worker)[0] in ("stills", "audio"),
            timeout_s=max(5.0, turns_bad_at + 45 - time.monotonic()),
        )
        # The description that took RED off is the one the page held, applied again: not a
        # new one from the worker, which would have come only after a round over the flooded
        # link (the answer to the client's offer, or an offer the worker made meanwhile).
        assert switched["origin"] == held, story
        heard = real_audio_in_window(worker, 3)
        assert heard > 0, "the worker no longer hears the client"
    sys.stdout.write(
        json.dumps(
            {
                "test": "issue-9-red-off-on-the-spot",
                "modes_after_fall_s": modes,
                "applied": [
                    {"type": d["type"], "codec": d["codec"], "same_origin": d["origin"] == held}
                    for d in applied
                ],
                "switched_after_fall_s": round(switched["at"] / 1000 - fall_wall, 1),
                "worker_heard_samples_3s": heard,
            }
        )
        + "\n"
    )


def test_where_the_far_side_sends_the_voice_only_a_learned_wait_is_dropped_sooner(
    server: Server, browser: Browser
) -> None:
    # With nothing but the far side's voice on the path, a wait that stands at 270 ms is what
    # NetEQ learned from a queue or from pictures before, not what the voice needs (on the
    # bench's worst profile 30 ms): dropped. Beside the far side's stills it is the picture's
    # jitter, as it is with a wait of 120 ms beside the voice alone: kept.
    cases = [("audio", 270, True), ("stills", 270, False), ("audio", 120, False)]
    found = side_by_side(server, browser, STALE_QUIET_JS, [[m, w] for m, w, _ in cases])
    for (far_mode, wait_ms, dropped), drops in zip(cases, found, strict=True):
        case = {"far_mode": far_mode, "wait_ms": wait_ms, "drops_s": drops}
        if dropped:
            assert len(drops) == 1, case  # once, and not again within 10 s
        else:
            assert not drops, case


def test_a_wait_learned_beside_pictures_is_dropped_once_the_far_side_sends_the_voice_alone(
    server: Server, browser: Browser
) -> None:
    # A drop of stale voice while the far side's stills still flow (on the bench's schedule,
    # rural to worst, the client's stills until it went to audio), and NetEQ learns their
    # jitter again: once the far side sends the voice alone, that wait goes too, without
    # waiting out the 10 s between drops of a settled wait (but 3 s after the last drop, as
    # any). While the far side keeps its stills, a settled wait is dropped once per 10 s.
    cases = [[True, 270], [False, 400]]
    found = side_by_side(server, browser, STALE_TURNED_JS, cases)
    for (turns, _), drops in zip(cases, found, strict=True):
        case = {"turns": turns, "drops_s": drops}
        assert drops, case
        if turns:
            assert len(drops) == 2, case
            assert 2.9 <= drops[1] - drops[0] < 5, case
        else:
            assert len(drops) == 1, case


# Every offer or answer the page sends to the service (its WebSocket), with when (the page's
# clock, ms since the epoch) and its type.
DESCRIPTIONS_SENT_JS = """
() => {
  window.__described = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const kind = typeof data === 'string' && data.match(/"description":\\{"type":"(offer|answer)"/);
    if (kind) window.__described.push({ at: Date.now(), type: kind[1] });
    return send.call(this, data);
  };
}
"""

FRAMES_DECODED_JS = """
async () => {
  let decoded = 0;
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') decoded += r.framesDecoded || 0;
    });
  }
  return decoded;
}
"""


def test_turning_quiet_and_back_takes_no_round_over_the_link(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    # Once `audio` has stood 5 s, a page stops sending video altogether (its video transceiver
    # receives only) and takes the congestion control's extensions off its voice: nothing it
    # sends can carry padding. It does so on its own side only, as it applies its marks
    # (CallSession.remark): over a flooded link a round would cross it twice, some 5 kB each
    # way, while it drains. The worker fixes the client's mode at `audio`, then at `stills`;
    # the client's signaling on its (here good) emulated link.
    with in_a_call(browser, server, coturn, tmp_path, "4g") as (worker, client, _):
        wait_until("video from the client", lambda: frames_sent(client) > 30, timeout_s=60)
        for page in (worker, client):
            page.evaluate(DESCRIPTIONS_SENT_JS)
        wait_until("both settled", lambda: all(p.evaluate(SETTLED_JS) for p in (worker, client)))
        worker.locator("select[id^='pin-']").select_option("audio")
        turned_at = None  # the page's clock (ms since the epoch), as the descriptions'
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sends = how_it_sends(client)
            if sends["video"] in ("recvonly", "inactive"):
                turned_at = client.evaluate("Date.now()")
                break
            time.sleep(0.2)
        assert turned_at is not None, how_it_sends(client)
        assert sends["probes"] is False, sends
        watched = time.monotonic()
        # The worker still hears the client, and the client still sees the worker.
        seen_before = client.evaluate(FRAMES_DECODED_JS)
        heard = real_audio_in_window(worker, 3)
        assert heard > 0, "the worker no longer hears the client"
        assert client.evaluate(FRAMES_DECODED_JS) > seen_before, "the client lost the picture"
        time.sleep(max(0.0, 3 - (time.monotonic() - watched)))
        sent = {
            "client": client.evaluate("window.__described"),
            "worker": worker.evaluate("window.__described"),
        }
        # Nothing from 0.3 s before the client's video turned (it reads every 0.2 s) to 3 s
        # after it. (At the pin a capped client that answered last may take the next offer
        # itself, for its cap: see reclaims; that is not the turn.)
        around = {
            who: [d for d in described if d["at"] >= turned_at - 300]
            for who, described in sent.items()
        }
        assert around == {"client": [], "worker": []}, {"turned_at": turned_at, **sent}

        # Back to pictures: the client's video sends again, and the worker sees its stills.
        worker.locator("select[id^='pin-']").select_option("stills")
        wait_until(
            "the client sends video again",
            lambda: how_it_sends(client)["video"] in ("sendrecv", "sendonly"),
            timeout_s=20,
        )
        seen_before = worker.evaluate(FRAMES_DECODED_JS)
        wait_until(
            "a still from the client",
            lambda: worker.evaluate(FRAMES_DECODED_JS) > seen_before,
            timeout_s=15,
        )
        assert real_audio_in_window(worker, 2) > 0, "the worker no longer hears the client"
    sys.stdout.write(
        json.dumps(
            {
                "test": "issue-9-quiet-without-a-round",
                "sent_after_pin": sent,
                "turned_at": turned_at,
                "worker_heard_samples_3s": heard,
            }
        )
        + "\n"
    )
