"""How fast a 1:1 call starts: from admission to the first decoded remote video frame.

Two warm Chromiums (Debian's, fake camera and microphone; the same two for every run): a
worker signed in on the call screen and a client on the join page. Each run books a new
check-in through the API, the worker opens the waiting room, the client joins and waits,
and the worker lets them in (a click, timed in the worker's page). Each page then polls
its own ``getStats`` every 20 ms until a peer connection made after the click has decoded
a video frame; a run's figure is the later of the two sides (both see each other).

* ``direct``: the calls as Beeldbel makes them on this machine (both on loopback: ICE
  finds a direct pair; a coturn is configured as in production).
* ``baseline``: a bare RTCPeerConnection pair in the same two browsers, a page each,
  signalling by ``page.evaluate`` (full SDP, no trickle, no ICE servers): from the offer's
  peer connection being made (the streams are ready before, as in the waiting room) to
  the first decoded frame on both sides.
* ``rural``: the same calls, relay-only, with the client's TURN leg through the link
  emulator on ``rural`` (``python -m beeldbel.linkemu``, one per run, started at
  admission), as in ``tests/browser/test_call_handover.py``.

Appointments hold their slot after they end, and a link works from 15 minutes before the
start until 30 minutes after the end, so one worker has about ten five-minute slots that
can be joined now (booked in the past, back to back); every ``SLOTS_PER_SERVER`` runs the
bench starts a fresh service (a fresh SQLite database) and signs the worker in again in
the same browser. Targets (issue 7, acceptance 7; reported, not asserted): ``direct_p95_s``
≤ 1.0 and ≤ ``baseline_p95_s`` + 0.5; ``rural_p95_s`` ≤ 6.

Usage: python -m bench.call_setup --json [--runs 20] [--skip-rural]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from beeldbel.linkemu.quality import percentile
from tests.browser.conftest import (
    TABLET,
    Browser,
    Coturn,
    Server,
    coturn_with_secret,
    free_port,
    open_app,
    sign_in_with_totp,
    start_server_with_turn,
    stop_server,
)
from tests.browser.test_call import RECORDER_JS, book
from tests.browser.test_call_handover import SIGNALING_VIA_JS, TURN_VIA_JS, emulator

SLOTS_PER_SERVER = 9  # five-minute slots joinable now, booked back to back
SLOT_EVERY_S = 305
CLIENT = "Gerrit Nijhuis"
WORKER = "anouk"
LONG_MS = 60_000
ORIGIN = "http://127.0.0.1"  # routed by Playwright: a secure context for the baseline
BLANK = "<!doctype html><html lang='en'><head><title>baseline</title></head><body></body></html>"

# In every page: a watcher for the first decoded video frame of connections made after a
# mark, an audio sampler (for bench.recovery) and the baseline's bare peer connection.
BENCH_JS = """
(() => {
  const framesOf = async (pc) => {
    let frames = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
    });
    return frames;
  };
  // Resolves with Date.now() when a connection made after window.__pcs[since] decoded a frame.
  const firstFrame = (since) => new Promise((resolve) => {
    const deadline = Date.now() + 90000;  // a hang guard: null if no frame came
    const tick = async () => {
      if (Date.now() > deadline) {
        resolve(null);
        return;
      }
      for (const pc of window.__pcs.slice(since)) {
        if (pc.connectionState !== 'closed' && (await framesOf(pc)) > 0) {
          resolve(Date.now());
          return;
        }
      }
      setTimeout(tick, 20);
    };
    tick();
  });
  const audio = async () => {
    let total = 0, concealed = 0;
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          total += r.totalSamplesReceived || 0;
          concealed += r.concealedSamples || 0;
        }
      });
    }
    return [Date.now(), total, total - concealed];
  };
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  const bench = {
    mark() {
      bench.watch = firstFrame(window.__pcs.length);
      return true;
    },
    sampleAudio(everyMs) {
      bench.samples = [];
      clearInterval(bench.sampler);
      bench.sampler = setInterval(async () => bench.samples.push(await audio()), everyMs);
      return true;
    },
    stopAudio() {
      clearInterval(bench.sampler);
      return bench.samples;
    },
    audio,
    async media() {
      bench.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      return true;
    },
    open() {
      bench.pc = new RTCPeerConnection({ iceServers: [] });
      for (const track of bench.stream.getTracks()) bench.pc.addTrack(track, bench.stream);
    },
    async offer() {
      const t0 = Date.now();
      bench.open();
      await bench.pc.setLocalDescription(await bench.pc.createOffer());
      await gathered(bench.pc);
      return { t0, sdp: bench.pc.localDescription.sdp };
    },
    async answer(sdp) {
      bench.open();
      await bench.pc.setRemoteDescription({ type: 'offer', sdp });
      await bench.pc.setLocalDescription(await bench.pc.createAnswer());
      await gathered(bench.pc);
      return bench.pc.localDescription.sdp;
    },
    async accept(sdp) {
      await bench.pc.setRemoteDescription({ type: 'answer', sdp });
      return true;
    },
    close() {
      if (bench.pc) bench.pc.close();
      bench.pc = null;
      return true;
    },
  };
  window.__bench = bench;
})();
"""

TOKEN_JS = """async () => {
  const csrf = decodeURIComponent(document.cookie.match(/(?:^|;\\s*)bb_csrf=([^;]*)/)[1]);
  const answer = await fetch('/api/v1/auth/refresh', {
    method: 'POST', body: '{}', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
  });
  return (await answer.json()).access_token;
}"""


def log(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# The two warm browsers, and the service behind them ------------------------------------------


@dataclass
class Rig:
    """Two warm Chromiums (worker, client), a coturn, and the service of the moment."""

    browser: Browser
    coturn: Coturn
    home: Path
    worker: Page = field(init=False)
    client: Page = field(init=False)
    server: Server | None = None
    settings: dict[str, str] = field(default_factory=dict)
    token: str = ""
    booked: int = 0
    base: datetime = field(default_factory=lambda: datetime.now(UTC))
    servers: int = 0

    def __post_init__(self) -> None:
        self.worker = self._page(self.browser.new_context(viewport=TABLET))
        # bypass_csp: the client's signaling may go through the emulator's port, which the
        # service's connect-src does not name (signaling_via_emulator).
        self.client = self._page(
            self.browser.new_context(viewport=TABLET, has_touch=True, bypass_csp=True)
        )

    @staticmethod
    def _page(context: BrowserContext) -> Page:
        context.set_default_timeout(LONG_MS)
        for script in (RECORDER_JS, TURN_VIA_JS, SIGNALING_VIA_JS, BENCH_JS):
            context.add_init_script(script)
        return context.pages[0] if context.pages else context.new_page()

    def use(self, **settings: str) -> None:
        """A fresh service with these settings (and TURN for the coturn); worker signed in."""
        self.stop()
        self.settings = settings
        self.servers += 1
        where = self.home / f"server-{self.servers}"
        where.mkdir()
        # The service's own origin listed: a page whose signaling goes through the emulator
        # (signaling_via_emulator) keeps its origin, and the WebSocket's Host is the emulator's.
        port = free_port()
        origins = json.dumps([f"http://127.0.0.1:{port}"])
        self.server = start_server_with_turn(
            where, self.coturn, port, allowed_origins=origins, **settings
        )
        sign_in_with_totp(self.worker, self.server, WORKER)
        token = self.worker.evaluate(TOKEN_JS)
        assert isinstance(token, str)
        self.token = token
        self.booked = 0
        self.base = datetime.now(UTC) - timedelta(minutes=34)

    def stop(self) -> None:
        if self.server is not None:
            stop_server(self.server)
            self.server = None

    def book(self) -> tuple[str, str]:
        """A new check-in joinable now (a fresh service when the slots are used up):
        its id and the client's link."""
        if self.server is None or self.booked >= SLOTS_PER_SERVER:
            self.use(**self.settings)
        assert self.server is not None
        # Back to back from 34 minutes ago (joinable until 30 minutes after the end), 5 s
        # apart so that two bookings never overlap by the milliseconds between two clocks.
        starts = self.base + timedelta(seconds=SLOT_EVERY_S * self.booked)
        starts_in = starts - datetime.now(UTC)
        self.booked += 1
        booked = book(self.server, self.token, CLIENT, starts_in)
        return booked.id, booked.links["client"]

    def waiting(self) -> tuple[str, str]:
        """A new check-in; the worker's waiting room open, the client in it (checked)."""
        appointment_id, link = self.book()
        server = self.server
        assert server is not None
        self.worker.goto("about:blank")
        open_app(self.worker, server, f"#/call/{appointment_id}")
        # The camera first (as a person would see their picture): a room opened before the
        # preview has a stream sends nothing (see the report).
        expect(self.worker.locator("#preview")).to_be_visible(timeout=LONG_MS)
        self.worker.wait_for_function(
            "() => { const v = document.querySelector('video#preview');"
            " return v && v.srcObject && v.readyState >= 2; }"
        )
        self.worker.locator("#open-room").click()
        expect(self.worker.locator("#nobody-waiting")).to_be_visible(timeout=LONG_MS)
        self.client.goto("about:blank")
        self.client.goto(server.url(link))
        expect(self.client.locator("#inside")).to_be_visible(timeout=LONG_MS)
        self.client.locator("#check-done").click()
        expect(self.client.locator("#check-ready")).to_be_visible(timeout=LONG_MS)
        expect(self.worker.locator("#waiting-list li")).to_have_count(1, timeout=LONG_MS)
        return appointment_id, link

    def admit(self) -> float:
        """Lets the client in; Date.now() in the worker's page at the click, in seconds."""
        for page in (self.worker, self.client):
            page.evaluate("window.__bench.mark()")
        clicked = self.worker.evaluate(
            "() => { const t = Date.now(); "
            "document.querySelector('#waiting-list button').click(); return t; }"
        )
        return float(clicked) / 1000

    def first_frames(self) -> float:
        """When both sides had decoded a remote frame (the later one), in seconds."""
        seen = [page.evaluate("window.__bench.watch") for page in (self.worker, self.client)]
        if None in seen:
            raise RuntimeError(f"no remote frame within 90 s (worker, client): {seen}")
        return max(float(t) for t in seen) / 1000

    def end(self) -> None:
        self.worker.locator("#end-call").click()
        self.worker.locator("#end-yes").click()
        expect(self.client.locator("#call-ended")).to_be_visible(timeout=LONG_MS)

    def via_emulator(self, relay_port: int) -> None:
        """The client's TURN traffic through the emulator from its next peer connection."""
        assert self.coturn is not None
        self.client.evaluate(
            "via => { window.__turnVia = via; }",
            {"from": f"turn:127.0.0.1:{self.coturn.port}", "to": f"turn:127.0.0.1:{relay_port}"},
        )

    def signaling_via_emulator(self, stream_port: int) -> None:
        """The client's signaling through the emulator (its ``stream`` address) as well: its
        WebSocket reconnects there; returns once the service has welcomed it back."""
        self.client.evaluate("port => window.__signalingVia.move(port)", stream_port)
        self.client.wait_for_function("() => window.__signalingVia.welcomed")


@contextlib.contextmanager
def rig() -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="bench-call-") as tmp:
        home = Path(tmp)
        (home / "coturn").mkdir()
        (home / "browsers").mkdir()
        with (
            coturn_with_secret(home / "coturn") as coturn,
            sync_playwright() as playwright,
        ):
            browser = Browser(playwright, home / "browsers")
            made = Rig(browser, coturn, home)
            try:
                yield made
            finally:
                made.stop()
                browser.close()


# The three kinds of run ----------------------------------------------------------------------


def direct_run(r: Rig) -> float:
    r.waiting()
    admitted = r.admit()
    seen = r.first_frames()
    r.end()
    return seen - admitted


def rural_run(r: Rig, seed: int) -> float:
    r.waiting()
    with emulator(r.coturn.port, "rural", r.home / "link.json", seed=seed) as (ready, _):
        r.via_emulator(int(ready["listening"][1]))
        admitted = r.admit()
        seen = r.first_frames()
        r.end()
    return seen - admitted


@dataclass
class Baseline:
    offerer: Page
    answerer: Page

    @classmethod
    def open(cls, r: Rig) -> Baseline:
        pages = []
        for owner in (r.worker, r.client):
            page = owner.context.new_page()
            page.route(
                f"{ORIGIN}/baseline.html",
                lambda route: route.fulfill(body=BLANK, content_type="text/html"),
            )
            page.goto(f"{ORIGIN}/baseline.html")
            page.evaluate("window.__bench.media()")
            pages.append(page)
        return cls(pages[0], pages[1])

    def run(self) -> float:
        for page in (self.offerer, self.answerer):
            page.evaluate("window.__bench.mark()")
        offer = self.offerer.evaluate("window.__bench.offer()")
        answer = self.answerer.evaluate("sdp => window.__bench.answer(sdp)", offer["sdp"])
        self.offerer.evaluate("sdp => window.__bench.accept(sdp)", answer)
        found = [p.evaluate("window.__bench.watch") for p in (self.offerer, self.answerer)]
        if None in found:
            raise RuntimeError(f"baseline: no remote frame within 90 s: {found}")
        seen = max(float(t) for t in found)
        for page in (self.offerer, self.answerer):
            page.evaluate("window.__bench.close()")
        return (seen - float(offer["t0"])) / 1000

    def close(self) -> None:
        for page in (self.offerer, self.answerer):
            with contextlib.suppress(Exception):
                page.close()


def p(values: list[float], share: float) -> float | None:
    found = percentile(values, share)
    return None if found is None else round(found, 3)


def bench(runs: int, rural: bool) -> dict[str, Any]:
    started = time.monotonic()
    figures: dict[str, list[float]] = {"direct": [], "baseline": [], "rural": []}
    with rig() as r:
        r.use()
        log("warming up (one direct call, one baseline pair; not counted)")
        direct_run(r)
        baseline = Baseline.open(r)
        baseline.run()
        for i in range(runs):
            figures["baseline"].append(baseline.run())
            figures["direct"].append(direct_run(r))
            log(f"run {i + 1}/{runs}: direct {figures['direct'][-1]:.3f} s, "
                f"baseline {figures['baseline'][-1]:.3f} s")  # fmt: skip
        baseline.close()
        if rural:
            r.use(relay_only_calls="true")
            for i in range(runs):
                figures["rural"].append(rural_run(r, seed=i + 1))
                log(f"rural run {i + 1}/{runs}: {figures['rural'][-1]:.3f} s")
        servers = r.servers
    direct_p95 = p(figures["direct"], 0.95)
    baseline_p95 = p(figures["baseline"], 0.95)
    rural_p95 = p(figures["rural"], 0.95)
    return {
        "direct_p50_s": p(figures["direct"], 0.50),
        "direct_p95_s": direct_p95,
        "baseline_p95_s": baseline_p95,
        "rural_p95_s": rural_p95,
        "runs": runs,
        "baseline_p50_s": p(figures["baseline"], 0.50),
        "rural_p50_s": p(figures["rural"], 0.50),
        "targets": {
            "direct_p95_s<=1.0": direct_p95 is not None and direct_p95 <= 1.0,
            "direct_p95_s<=baseline_p95_s+0.5": (
                direct_p95 is not None
                and baseline_p95 is not None
                and direct_p95 <= baseline_p95 + 0.5
            ),
            "rural_p95_s<=6": rural_p95 is not None and rural_p95 <= 6.0,
        },
        "samples_s": {k: [round(v, 3) for v in vs] for k, vs in figures.items()},
        "services_started": servers,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--runs", type=int, default=20, help="calls of each kind (default 20)")
    parser.add_argument("--skip-rural", action="store_true", help="no rural runs")
    args = parser.parse_args()
    result = bench(args.runs, not args.skip_rural)
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
