"""A client whose address changes mid-call recovers audio by itself (issue 7, acceptance 3).

    client's Chromium ─▶ link emulator (4g, then @4g) ─▶ coturn ◀─ worker's Chromium

The service runs relay-only (``BEELDBEL_RELAY_ONLY_CALLS``) with per-join TURN credentials
for a coturn on loopback, so both browsers' media go through coturn. Only the client's leg
is emulated: an init script in the client's page puts the emulator's address in place of
coturn's in every ICE configuration (at construction and at ``setConfiguration``, so the
fresh servers of an ICE restart go through it too). The credentials stay those Beeldbel
issued; coturn checks them, whatever the address they came through. The worker talks to
coturn directly: one relay carries one client at a time, so giving both browsers the
emulator's address (the service's TURN URL) would mix their packets.

The emulator starts when the worker lets the client in (the client's peer connection is
made then), so its schedule counts from admission: ``4g`` for ``HANDOVER_AFTER_S``, then
``@4g``: coturn hears the client from a new address, its allocation there is gone, and the
page must notice and restart ICE by itself (``web/call.js``). Nobody touches the pages
after admission. The test asserts outcomes only: audio and video flow before the change,
audio samples keep increasing on both sides after it (within a hang guard), the emulator
sent from two addresses, and the call is still the same call (nobody was let in again).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ROOT,
    TABLET,
    Browser,
    Coturn,
    Server,
    coturn_with_secret,
    start_server_with_turn,
    stop_server,
)
from tests.browser.test_call import (
    RECORDER_JS,
    book,
    media_keeps_flowing,
    open_waiting_room,
    received,
    wait_until,
    worker_page,
)

HANDOVER_AFTER_S = 25  # admission to first media takes a few seconds on a busy machine
RECOVERY_GUARD_S = 60.0  # a hang guard, not a target (bench/recovery.py measures)

# Puts window.__turnVia.to in place of window.__turnVia.from in every TURN URL the page
# gives a peer connection (set by the test; until then, nothing changes).
TURN_VIA_JS = """
(() => {
  window.__turnVia = null;
  const swap = (url) => (window.__turnVia && typeof url === 'string'
    ? url.split(window.__turnVia.from).join(window.__turnVia.to) : url);
  const rewrite = (config) => {
    if (!config || !config.iceServers || !window.__turnVia) return config;
    const iceServers = config.iceServers.map((server) => ({
      ...server,
      urls: Array.isArray(server.urls) ? server.urls.map(swap) : swap(server.urls),
    }));
    return { ...config, iceServers };
  };
  const Previous = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config, ...rest) {
    return new Previous(rewrite(config), ...rest);
  };
  window.RTCPeerConnection.prototype = Previous.prototype;
  const setConfiguration = Previous.prototype.setConfiguration;
  Previous.prototype.setConfiguration = function (config) {
    return setConfiguration.call(this, rewrite(config));
  };
})();
"""


# The page's signaling through the emulator too (its ``stream`` address): on a weak link the
# client's reports and the service's answers share the link, and its queue, with the media.
# ``window.__signalingVia.move(port)`` closes the page's WebSocket; the page reconnects
# (web/call.js), now to that port, and ``welcomed`` says when the service has let it back in.
# The page keeps its origin, so the service must allow it (``allowed_origins``): the
# WebSocket's Host is the emulator's.
SIGNALING_VIA_JS = """
(() => {
  const via = { port: null, open: false, welcomed: false, sockets: [] };
  window.__signalingVia = via;
  const Previous = window.WebSocket;
  const Via = function (url, ...rest) {
    let target = url;
    if (via.port && typeof url === 'string' && url.includes('/socket.io/')) {
      const moved = new URL(url);
      moved.port = String(via.port);
      target = moved.toString();
    }
    const ws = new Previous(target, ...rest);
    if (target !== url) {
      ws.addEventListener('open', () => { via.open = true; });
      ws.addEventListener('message', (event) => {
        if (typeof event.data === 'string' && event.data.includes('"welcome"')) via.welcomed = true;
      });
    }
    via.sockets = via.sockets.filter((s) => s.readyState <= 1).concat([ws]);
    return ws;
  };
  Via.prototype = Previous.prototype;
  for (const key of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Via[key] = Previous[key];
  window.WebSocket = Via;
  via.move = (port) => {
    via.port = port;
    via.open = false;
    via.welcomed = false;
    for (const ws of via.sockets) ws.close();
  };
})();
"""


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn_with_secret(tmp_path_factory.mktemp("coturn")) as started:
        yield started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, coturn: Coturn) -> Iterator[Server]:
    """The service with TURN for the coturn above, every call relayed."""
    base = tmp_path_factory.mktemp("beeldbel-handover")
    running = start_server_with_turn(
        base,
        coturn,
        relay_only_calls="true",
    )
    try:
        yield running
    finally:
        stop_server(running)


@contextlib.contextmanager
def emulator(
    target_port: int, schedule: str, stats: Path, seed: int = 1, stream_port: int | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``python -m beeldbel.linkemu`` in front of coturn; yields its ready line, and its
    final counters (filled in on exit). With ``stream_port`` it also carries TCP to that
    port over the same link (the ready line's ``stream``: see SIGNALING_VIA_JS)."""
    stream = [] if stream_port is None else ["--stream-target", f"127.0.0.1:{stream_port}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "beeldbel.linkemu", "--listen", "127.0.0.1:0",
         "--target", f"127.0.0.1:{target_port}", "--schedule", schedule, "--seed", str(seed),
         "--stats-file", str(stats), "--stats-interval", "0.5", *stream],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    counters: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield ready, counters
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        lines = out.strip().splitlines()
        if lines:
            counters.update(json.loads(lines[-1]))


def link_stats(path: Path) -> dict[str, Any]:
    """The emulator's latest counters (``--stats-file``); {} while it rewrites them."""
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found


def client_page(browser: Browser, server: Server, path: str) -> Page:
    page = browser.page(viewport=TABLET, has_touch=True)
    page.add_init_script(RECORDER_JS)
    page.add_init_script(TURN_VIA_JS)
    page.goto(server.url(path))
    expect(page.locator("#inside")).to_be_visible()
    return page


def audio(page: Page) -> tuple[int, int]:
    """Audio samples received, and of those the ones that were not concealment."""
    found: tuple[int, int] = page.evaluate(
        """async () => {
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
          return [total, total - concealed];
        }"""
    )
    return found[0], found[1]


def audio_flows_again(page: Page, since: tuple[int, int]) -> bool:
    """Real (not concealed) audio arrived since ``since``, twice in a row half a second
    apart: sound flows again, not a last packet still on its way."""
    first = audio(page)
    if first[1] <= since[1]:
        return False
    time.sleep(0.5)
    return audio(page)[1] > first[1]


def test_a_client_whose_address_changes_mid_call_recovers_audio_by_itself(
    server: Server, browser: Browser, coturn: Coturn, tmp_path: Path
) -> None:
    started = time.monotonic()
    worker, token = worker_page(browser, server, "anouk")
    booked = book(server, token, "Gerrit Nijhuis", timedelta(minutes=1))
    open_waiting_room(worker, server, booked.id)
    client = client_page(browser, server, booked.links["client"])
    client.locator("#check-done").click()
    expect(worker.locator("#waiting-list li")).to_have_count(1)

    schedule = f"4g:{HANDOVER_AFTER_S},@4g"
    with emulator(coturn.port, schedule, tmp_path / "link.json") as (ready, counters):
        relay_port = int(ready["listening"][1])
        client.evaluate(
            "via => { window.__turnVia = via; }",
            {"from": f"turn:127.0.0.1:{coturn.port}", "to": f"turn:127.0.0.1:{relay_port}"},
        )
        worker.locator("#waiting-list button").click()
        expect(client.locator("#in-call")).to_be_visible()
        before = {"client": media_keeps_flowing(client), "worker": media_keeps_flowing(worker)}
        flowing_at = time.monotonic() - float(ready["started_at"])
        assert flowing_at < HANDOVER_AFTER_S, (
            f"media flowed only {flowing_at:.1f} s after admission: too late to see the "
            f"address change at {HANDOVER_AFTER_S} s"
        )
        # Both relayed by coturn; only the client's leg through the emulator.
        paths = {
            name: [(c["local"], c["remote"]) for c in received(page) if c["local"]]
            for name, page in (("client", client), ("worker", worker))
        }
        assert paths["client"] == [("relay", "relay")], paths
        assert paths["worker"] == [("relay", "relay")], paths

        handover_at = float(ready["started_at"]) + HANDOVER_AFTER_S
        time.sleep(max(0.0, handover_at - time.monotonic()) + 0.5)
        wait_until(
            "the emulator's new address",
            lambda: link_stats(tmp_path / "link.json").get("addresses", 0) >= 2,
            timeout_s=10,
        )
        at_change = {"client": audio(client), "worker": audio(worker)}
        # No user action from here: audio must come back on both sides by itself.
        wait_until(
            "the client hears the worker again",
            lambda: audio_flows_again(client, at_change["client"]),
            timeout_s=RECOVERY_GUARD_S,
        )
        wait_until(
            "the worker hears the client again",
            lambda: audio_flows_again(worker, at_change["worker"]),
            timeout_s=RECOVERY_GUARD_S,
        )
        recovered_after_s = time.monotonic() - handover_at
        after = {"client": media_keeps_flowing(client), "worker": media_keeps_flowing(worker)}
        assert client.locator("#in-call").is_visible()
        expect(worker.locator("#nobody-waiting")).to_be_visible()

    assert counters["addresses"] == 2, counters  # coturn heard the client from two addresses
    assert counters["up"]["delivered"] > 0
    assert counters["down"]["delivered"] > 0
    assert counters["dropped_old_address"] > 0  # coturn still sent to the old one: a real break

    worker.locator("#end-call").click()
    worker.locator("#end-yes").click()
    expect(client.locator("#call-ended")).to_be_visible()
    sys.stdout.write(
        json.dumps(
            {
                "test": "acceptance-3",
                "schedule": schedule,
                "before": before,
                "at_change": at_change,
                "after": after,
                "recovered_after_s": round(recovered_after_s, 1),
                "link": {k: counters[k] for k in ("addresses", "clients", "dropped_old_address")},
                "test_s": round(time.monotonic() - started, 1),
            }
        )
        + "\n"
    )
