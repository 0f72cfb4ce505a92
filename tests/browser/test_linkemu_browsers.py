"""Two headless Chromiums call each other through coturn; only the client's leg is emulated.

    client's Chromium ─▶ link emulator (rural) ─▶ coturn ◀─ worker's Chromium
                         (python -m beeldbel.linkemu)

Both use relay-only ICE. The client's TURN server is the emulator's listening address,
which forwards to coturn; the worker talks to coturn directly. Chrome's fake camera and
microphone are the media; the test does the signalling (full SDP through Playwright).
Quality comes from each browser's ``getStats`` (``quality.browser_reception``) and the
times of fresh pictures on screen (``requestVideoFrameCallback``); the link's self-check
comes from the emulator's counters, as for aiortc (``calls.self_check``). The figures
are printed; the assertions only say they exist and are plausible, and that the shaped
leg, and only it, crossed the emulator.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from beeldbel.linkemu.calls import self_check
from beeldbel.linkemu.model import named_schedule
from beeldbel.linkemu.quality import browser_reception

from .conftest import ROOT, Browser, Coturn, running_coturn

CALL_JS = Path(__file__).with_name("linkemu_call.js")
ORIGIN = "http://127.0.0.1"  # a secure context: getUserMedia works without TLS
PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>call</title>
<script src="{ORIGIN}/linkemu_call.js"></script></head>
<body><video id="video" autoplay muted playsinline></video><audio id="audio" autoplay></audio>
</body></html>"""
USER, PASSWORD, REALM = "test", "test", "beeldbel.test"
PROFILE = "rural"
DURATION_S = 12.0
SAMPLE_EVERY_S = 1.0


# coturn ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """coturn (apt's ``turnserver``) on 127.0.0.1: free ports, long-term credentials."""
    home = tmp_path_factory.mktemp("coturn")
    with running_coturn(
        home, "--lt-cred-mech", f"--user={USER}:{PASSWORD}", f"--realm={REALM}"
    ) as started:
        yield started


# the emulator -------------------------------------------------------------------------------


@contextlib.contextmanager
def emulator(target_port: int, profile: str, seed: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """``python -m beeldbel.linkemu`` in front of 127.0.0.1:target_port; counters on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "beeldbel.linkemu", "--listen", "127.0.0.1:0",
         "--target", f"127.0.0.1:{target_port}", "--profile", profile, "--seed", str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    counters: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield int(ready["listening"][1]), counters
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
        lines = out.strip().splitlines()
        if lines:
            counters.update(json.loads(lines[-1]))


# the call -----------------------------------------------------------------------------------


def participant(browser: Browser, turn_port: int) -> Page:
    page = browser.page()
    page.route(
        f"{ORIGIN}/call.html", lambda route: route.fulfill(body=PAGE, content_type="text/html")
    )
    page.route(
        f"{ORIGIN}/linkemu_call.js",
        lambda route: route.fulfill(path=CALL_JS, content_type="text/javascript"),
    )
    page.goto(f"{ORIGIN}/call.html")
    server = {"urls": f"turn:127.0.0.1:{turn_port}?transport=udp", "username": USER,
              "credential": PASSWORD}  # fmt: skip
    page.evaluate("servers => window.call.join(servers)", [server])
    return page


def connected(page: Page) -> None:
    page.wait_for_function("() => window.call.state.pc.connectionState === 'connected'")


def browser_call(browser: Browser, coturn: Coturn, seed: int) -> dict[str, Any]:
    schedule = named_schedule(PROFILE)
    with emulator(coturn.port, PROFILE, seed) as (relay_port, counters):
        client = participant(browser, relay_port)
        worker = participant(browser, coturn.port)
        try:
            offer = worker.evaluate("window.call.offer()")
            answer = client.evaluate("sdp => window.call.answer(sdp)", offer)
            worker.evaluate("sdp => window.call.accept(sdp)", answer)
            for page in (client, worker):
                connected(page)
            pages = {"client": client, "worker": worker}
            samples: dict[str, list[dict[str, Any]]] = {name: [] for name in pages}
            started = time.monotonic()
            while True:
                for name, page in pages.items():
                    samples[name].append(page.evaluate("window.call.sample()"))
                if time.monotonic() - started >= DURATION_S:
                    break
                time.sleep(SAMPLE_EVERY_S)
            pictures = {
                name: page.evaluate("window.call.pictures()") for name, page in pages.items()
            }
        finally:
            for page in (client, worker):
                with contextlib.suppress(Exception):
                    page.evaluate("window.call.leave()")
    participants = {
        name: browser_reception(samples[name], pictures[name]).as_dict() for name in samples
    }
    held = all(
        all(s["state"] == "connected" for s in runs)
        and runs[-1]["audio"]["totalSamplesReceived"] > runs[-2]["audio"]["totalSamplesReceived"]
        for runs in samples.values()
    )
    check = self_check(schedule, counters)
    return {
        "variant": "browser",
        "profile": PROFILE,
        "duration_s": round(samples["client"][-1]["t"] - samples["client"][0]["t"], 2),
        "held": held,
        "valid": check["valid"],
        "self_check": check,
        "participants": participants,
        "paths": {name: runs[-1]["local"] for name, runs in samples.items()},
        "link": counters,
    }


def test_two_browsers_through_coturn_with_the_clients_leg_emulated(
    browser: Browser, coturn: Coturn
) -> None:
    report = browser_call(browser, coturn, seed=1)
    if not report["valid"]:  # a run whose link was not what it should be does not count
        report = browser_call(browser, coturn, seed=2)
    sys.stdout.write(json.dumps({k: v for k, v in report.items() if k != "link"}, indent=1) + "\n")
    # Still invalid: a machine too loaded to emulate the link; the quality floors below do
    # not count then, but everything else is still checked.
    check = report["self_check"]
    assert report["valid"] or check["down"]["reasons"] or check["up"]["reasons"], check

    # Both legs are relayed by coturn; only the client's reaches it through the emulator.
    client_path, worker_path = report["paths"]["client"], report["paths"]["worker"]
    assert client_path["candidateType"] == worker_path["candidateType"] == "relay"
    assert str(coturn.port) not in client_path["url"]
    assert f":{coturn.port}" in worker_path["url"]
    link = report["link"]
    assert link["clients"] == 1  # one browser (one address) ever spoke to the emulator
    assert link["down"]["delivered"] > 0
    assert link["up"]["delivered"] > 0
    client, worker = report["participants"]["client"], report["participants"]["worker"]
    # the client's media crossed the emulator both ways, and only the client's
    assert link["down"]["bytes_delivered"] >= client["bytes_received"] > 0
    assert link["up"]["bytes_received"] >= client["bytes_sent"] > 0
    assert link["down"]["dropped_loss"] + link["up"]["dropped_loss"] > 0  # rural loss applied

    assert report["held"]
    for seen in (client, worker):
        assert 0.0 <= seen["audio_continuity"] <= 1.0
        if report["valid"]:
            assert seen["audio_continuity"] >= 0.25, seen
        assert seen["audio_jitter_buffer_p95_ms"] > 0
        assert seen["video_frames"] >= report["duration_s"]  # at least a picture a second
        assert seen["freeze_count"] >= 0
        assert seen["bytes_sent"] > 0
        assert seen["bytes_received"] > 0
        assert seen["recovery_s"] is None
