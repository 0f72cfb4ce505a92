"""1:1 calls in real browsers (issue 7): the worker's call screen and the join page, with
Chrome's fake camera and microphone, through Beeldbel's signaling and a coturn on loopback.

* Acceptance 1: worker and client join a scheduled check-in, the client waits, the worker
  lets them in from the screen, both receive audio and video (``getStats``: frames decoded
  and audio samples received keep increasing), the worker ends the call, and one outcome
  with both participants and the duration is stored.
* Acceptance 2: a client whose socket drops and comes back within the grace period is back
  in the call without being let in again, and media flows again; after the grace period
  the seat is released and the worker sees it.
* Acceptance 4: a call with a guest (a member of the client's network, with the client's
  consent) is relayed: both browsers' selected candidate pairs are relay to relay.
* The screens: axe-core and the catalog check on the check before the call, the waiting
  room, the call and its end, in Dutch and English, at tablet size.

The service runs with TURN configured (``--use-auth-secret``: Beeldbel issues per-join
credentials) and a short grace period, so a seat's release is seen within the test.
Appointments are booked through the API a few minutes from now (the waiting room is open),
each worker and client in their own slot, with the access token of the worker's own sign-in
in the browser (a second sign-in would wait for a fresh TOTP code). The pages' peer
connections and WebSockets are recorded by an init script, so the test reads ``getStats``
and can cut a socket; the pages themselves have no test hooks. The screens are also checked
for axe-core, the catalogs and 44-pixel touch targets, with screen sharing, leaving and
coming back on the way.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    TABLET,
    Browser,
    Coturn,
    Server,
    api,
    catalog,
    coturn_with_secret,
    page_problems,
    set_language,
    sign_in_with_totp,
    start_server_with_turn,
    stop_server,
)

NL = catalog("nl")
EN = catalog("en")
GRACE_S = 20  # the reconnect test waits this out once
LONG_MS = 45_000  # ICE, DTLS and the first frames on a busy 2-core machine

# Records every RTCPeerConnection and WebSocket the page makes; while __blockSockets is
# set, new WebSockets go nowhere (as on a dead link).
RECORDER_JS = """
(() => {
  window.__pcs = [];
  window.__sockets = [];
  window.__blockSockets = false;
  const OriginalPc = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    const pc = new OriginalPc(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = OriginalPc.prototype;
  const OriginalSocket = window.WebSocket;
  window.WebSocket = class extends OriginalSocket {
    constructor(url, protocols) {
      super(window.__blockSockets ? 'ws://127.0.0.1:9/socket.io/' : url, protocols);
      window.__sockets.push(this);
    }
  };
})();
"""

# What each open peer connection receives, and its selected candidate pair.
STATS_JS = """
async () => {
  const found = [];
  for (const pc of window.__pcs) {
    if (pc.connectionState === 'closed') continue;
    const stats = await pc.getStats();
    const one = {state: pc.connectionState, policy: pc.getConfiguration().iceTransportPolicy,
                 frames: 0, samples: 0, local: null, remote: null};
    let pairId = null;
    stats.forEach((r) => {
      const inbound = r.type === 'inbound-rtp';
      if (inbound && r.kind === 'video') one.frames += r.framesDecoded || 0;
      if (inbound && r.kind === 'audio') one.samples += r.totalSamplesReceived || 0;
      if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
    });
    const pair = pairId && stats.get(pairId);
    if (pair) {
      one.local = stats.get(pair.localCandidateId).candidateType;
      one.remote = stats.get(pair.remoteCandidateId).candidateType;
    }
    if (one.frames || one.samples || one.state !== 'new') found.push(one);
  }
  return found;
}
"""


# Buttons, links, inputs and selects on screen smaller than 44 x 44 px (a tablet's finger).
SMALL_TARGETS_JS = """
() => [...document.querySelectorAll('button, a, input, select')]
  .filter((el) => el.offsetParent !== null && !el.classList.contains('skip'))
  .filter((el) => {
    const box = el.getBoundingClientRect();
    return box.height < 44 || box.width < 44;
  })
  .map((el) => el.outerHTML.slice(0, 80))
"""


@dataclass
class Booked:
    id: str
    links: dict[str, str]  # role -> /join#code


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn_with_secret(tmp_path_factory.mktemp("coturn")) as started:
        yield started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, coturn: Coturn) -> Iterator[Server]:
    """The service with TURN (per-join credentials for the coturn above), short grace."""
    base = tmp_path_factory.mktemp("beeldbel-calls")
    running = start_server_with_turn(
        base,
        coturn,
        call_grace_seconds=str(GRACE_S),
    )
    try:
        yield running
    finally:
        stop_server(running)


def client_id(server: Server, token: str, name: str) -> str:
    found = api(server, "GET", f"/api/v1/clients?q={name.split()[0]}", token=token).json
    return str(next(c["id"] for c in found["items"] if c["name"] == name))


def book(
    server: Server,
    token: str,
    client: str,
    starts_in: timedelta,
    *,
    guests: list[dict[str, str]] | None = None,
) -> Booked:
    """A five-minute check-in with ``client``, its waiting room open (it opens 15 minutes
    before the start); returns its id and the personal link of each role."""
    me = api(server, "GET", "/api/v1/me", token=token).json
    starts = datetime.now(UTC) + starts_in
    body: dict[str, Any] = {
        "kind": "checkin",
        "team_id": me["teams"][0]["id"],
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=5)).isoformat(),
        "client_id": client_id(server, token, client),
        "override_hours": True,  # the tests run at any hour
    }
    if guests:
        body["guests"] = guests
    created = api(server, "POST", "/api/v1/appointments", body, token=token)
    assert created.status == 201, created.json
    appointment_id = created.json["appointment"]["id"]
    links = api(server, "GET", f"/api/v1/appointments/{appointment_id}/links", token=token).json
    return Booked(appointment_id, {link["role"]: link["path"] for link in links["items"]})


def worker_page(
    browser: Browser, server: Server, username: str, **options: Any
) -> tuple[Page, str]:
    """The worker signed in on a tablet, and an access token of that sign-in for the API
    (one sign-in per test: each needs a TOTP code the server has not seen)."""
    page = browser.page(viewport=TABLET, **options)
    page.add_init_script(RECORDER_JS)
    sign_in_with_totp(page, server, username)
    token = page.evaluate(
        """async () => {
          const csrf = decodeURIComponent(document.cookie.match(/(?:^|;\\s*)bb_csrf=([^;]*)/)[1]);
          const answer = await fetch('/api/v1/auth/refresh', {
            method: 'POST', body: '{}', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
          });
          return (await answer.json()).access_token;
        }"""
    )
    assert isinstance(token, str)
    assert token
    return page, token


def open_waiting_room(page: Page, server: Server, appointment_id: str) -> None:
    """From the appointment in the agenda: Start gesprek, the check, Open wachtkamer."""
    page.goto(server.url(f"/#/agenda/appointment/{appointment_id}"))
    page.locator("#open-call-room").click()
    expect(page.locator("#check")).to_be_visible()
    expect(page.locator("#preview")).to_be_visible()
    page.locator("#open-room").click()
    expect(page.locator("#waiting-room")).to_be_visible()


def join_page(browser: Browser, server: Server, path: str, **options: Any) -> Page:
    page = browser.page(viewport=TABLET, has_touch=True, **options)
    page.add_init_script(RECORDER_JS)
    page.goto(server.url(path))
    expect(page.locator("#inside")).to_be_visible()
    return page


def received(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(STATS_JS)
    return found


def totals(page: Page) -> tuple[int, int]:
    connections = received(page)
    return sum(c["frames"] for c in connections), sum(c["samples"] for c in connections)


def wait_until(what: str, check: Callable[[], Any], timeout_s: float = 45.0) -> Any:
    """Polls ``check`` until it gives something truthy (a hang guard, not a measurement)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: still {last!r} after {timeout_s} s")


def media_keeps_flowing(page: Page) -> dict[str, int]:
    """Two reads of getStats: decoded frames and received audio samples both increase."""
    wait_until("connected", lambda: any(c["state"] == "connected" for c in received(page)))
    frames, samples = wait_until(
        "first frames and samples", lambda: all(totals(page)) and totals(page)
    )
    later = wait_until(
        "more frames and samples",
        lambda: (now := totals(page))[0] > frames and now[1] > samples and now,
    )
    return {
        "frames": frames,
        "samples": samples,
        "frames_later": later[0],
        "samples_later": later[1],
    }


def outcome_rows(server: Server, appointment_id: str) -> int:
    with sqlite3.connect(server.data_dir / "beeldbel.sqlite3") as db:
        rows = db.execute(
            "SELECT count(*) FROM call_outcomes WHERE appointment_id = ?",
            (UUID(appointment_id).hex,),
        ).fetchone()
    return int(rows[0])


def seat_status(page: Page, participant_id: str) -> str | None:
    found = page.locator(f"#people li[data-participant='{participant_id}']")
    return found.get_attribute("data-status") if found.count() else None


def participant(server: Server, token: str, appointment_id: str, role: str) -> str:
    appointment = api(server, "GET", f"/api/v1/appointments/{appointment_id}", token=token).json
    return str(next(p["id"] for p in appointment["participants"] if p["role"] == role))


# Acceptance 1 ------------------------------------------------------------------------------


def test_worker_lets_the_client_in_both_see_and_hear_each_other_and_the_outcome_is_stored(
    server: Server, browser: Browser
) -> None:
    started = time.monotonic()
    worker, token = worker_page(browser, server, "anouk")
    booked = book(server, token, "Gerrit Nijhuis", timedelta(minutes=1))
    open_waiting_room(worker, server, booked.id)
    expect(worker.locator("#nobody-waiting")).to_be_visible()

    client = join_page(browser, server, booked.links["client"])
    expect(client.locator("h1")).to_have_text(NL["join.open.title"])
    expect(client.locator("main")).to_contain_text(NL["join.open.wait"])
    # The worker sees (and hears: a tone) that someone waits; the client keeps waiting.
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    expect(worker.locator("#waiting-cue")).to_contain_text("Gerrit Nijhuis")
    expect(client.locator("#check")).to_be_visible()
    expect(client.locator("#inside")).to_be_visible()
    client.locator("#check-done").click()  # "Alles werkt, ga verder"
    expect(client.locator("#check-ready")).to_be_visible()
    expect(client.locator("#inside")).to_be_visible()  # still waiting: nobody let them in

    admitted = time.monotonic()
    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    expect(client.locator("#in-call")).to_have_text(NL["join.call.title"])
    expect(worker.locator("#nobody-waiting")).to_be_visible()
    client_media = media_keeps_flowing(client)
    worker_media = media_keeps_flowing(worker)
    media_s = time.monotonic() - admitted
    expect(worker.locator(".tile.remote .peer-state")).to_have_text(
        NL["room.peer.direct"], timeout=LONG_MS
    )
    expect(client.locator(".tile.remote .peer-state")).to_have_text(NL["room.peer.connected"])

    worker.locator("#end-call").click()
    expect(worker.locator("#end-question")).to_have_text(NL["room.endConfirm"])
    worker.locator("#end-yes").click()
    expect(worker.locator("#room-ended")).to_have_text(NL["room.ended.title"])
    expect(client.locator("#call-ended")).to_have_text(NL["room.ended.title"])

    outcome = api(server, "GET", f"/api/v1/appointments/{booked.id}/outcome", token=token)
    assert outcome.status == 200, outcome.json
    assert outcome_rows(server, booked.id) == 1
    found = outcome.json
    assert found["reason"] == "ended_by_host"
    assert found["media_path"] == "direct"
    assert found["started_at"] is not None
    assert found["duration_s"] >= 0
    roles = sorted(p["role"] for p in found["participants"])
    assert roles == ["client", "worker"]
    assert all(p["took_part"] and p["joined_at"] and p["left_at"] for p in found["participants"])
    appointment = api(server, "GET", f"/api/v1/appointments/{booked.id}", token=token)
    assert appointment.json["status"] == "completed"
    sys.stdout.write(
        json.dumps(
            {
                "test": "acceptance-1",
                "client_received": client_media,
                "worker_received": worker_media,
                "admitted_to_media_flowing_s": round(media_s, 2),
                "duration_s": found["duration_s"],
                "media_path": found["media_path"],
                "test_s": round(time.monotonic() - started, 1),
            }
        )
        + "\n"
    )


# Acceptance 2 ------------------------------------------------------------------------------


def test_a_dropped_client_comes_back_without_admission_and_after_the_grace_the_seat_is_released(
    server: Server, browser: Browser
) -> None:
    started = time.monotonic()
    worker, token = worker_page(browser, server, "daan")
    booked = book(server, token, "Hanna Wolterink", timedelta(minutes=1))
    client_seat = participant(server, token, booked.id, "client")
    open_waiting_room(worker, server, booked.id)
    client = join_page(browser, server, booked.links["client"])
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    media_keeps_flowing(client)
    media_keeps_flowing(worker)
    assert seat_status(worker, client_seat) == "in_call"

    # The client's socket dies and cannot come back for a moment.
    client.evaluate("window.__blockSockets = true; window.__sockets.at(-1).close()")
    expect(client.locator("#reconnecting")).to_be_visible()
    expect(client.locator("#reconnecting")).to_contain_text(NL["room.reconnecting"])
    expect(worker.locator(f"#people li[data-participant='{client_seat}']")).to_have_attribute(
        "data-status", "away"
    )
    client.evaluate("window.__blockSockets = false")
    expect(worker.locator(f"#people li[data-participant='{client_seat}']")).to_have_attribute(
        "data-status", "in_call", timeout=LONG_MS
    )
    expect(client.locator("#reconnecting")).to_be_hidden()
    # Back in the call without the waiting room, and nobody had to let them in.
    expect(client.locator("#in-call")).to_be_visible()
    expect(worker.locator("#nobody-waiting")).to_be_visible()
    after_drop = {"client": media_keeps_flowing(client), "worker": media_keeps_flowing(worker)}

    # Gone longer than the grace period: the seat is released and the worker is told.
    dropped = time.monotonic()
    client.evaluate("window.__blockSockets = true; window.__sockets.at(-1).close()")
    expect(worker.locator("#room-alert")).to_contain_text(
        NL["room.notice.released"], timeout=(GRACE_S + 30) * 1000
    )
    released_s = time.monotonic() - dropped
    expect(worker.locator(f"#people li[data-participant='{client_seat}']")).to_have_attribute(
        "data-status", "left"
    )
    # Coming back after that is a new visit to the waiting room.
    client.evaluate("window.__blockSockets = false")
    expect(client.locator("#inside")).to_be_visible(timeout=LONG_MS)
    expect(worker.locator("#waiting-list li")).to_have_count(1, timeout=LONG_MS)
    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    again = media_keeps_flowing(client)

    worker.locator("#end-call").click()
    worker.locator("#end-yes").click()
    expect(client.locator("#call-ended")).to_be_visible()
    outcome = api(server, "GET", f"/api/v1/appointments/{booked.id}/outcome", token=token).json
    seats = {p["role"]: p for p in outcome["participants"]}
    assert seats["client"]["reconnects"] >= 1
    sys.stdout.write(
        json.dumps(
            {
                "test": "acceptance-2",
                "after_drop": after_drop,
                "after_release_and_readmission": again,
                "released_after_s": round(released_s, 1),
                "grace_s": GRACE_S,
                "client_reconnects": seats["client"]["reconnects"],
                "test_s": round(time.monotonic() - started, 1),
            }
        )
        + "\n"
    )


# Acceptance 4 ------------------------------------------------------------------------------


def test_a_call_with_a_guest_is_relayed_on_both_sides(server: Server, browser: Browser) -> None:
    started = time.monotonic()
    worker, token = worker_page(browser, server, "anouk")
    hendrik = client_id(server, token, "Hendrik Oude Lenferink")
    consent = api(
        server,
        "POST",
        f"/api/v1/clients/{hendrik}/consent",
        {"topic": "guests_in_calls", "decision": "given", "how": "spoken"},
        token=token,
    )
    assert consent.status in (200, 201), consent.json
    network = api(server, "GET", f"/api/v1/clients/{hendrik}/network", token=token).json
    jan = next(m["id"] for m in network["items"] if m["name"] == "Jan Oude Lenferink")
    booked = book(
        server, token, "Hendrik Oude Lenferink", timedelta(minutes=7), guests=[{"member_id": jan}]
    )

    open_waiting_room(worker, server, booked.id)
    guest = join_page(browser, server, booked.links["guest"])
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    worker.locator("#waiting-list button").click()
    expect(guest.locator("#in-call")).to_be_visible()
    guest_media = media_keeps_flowing(guest)
    worker_media = media_keeps_flowing(worker)

    def selected(page: Page) -> list[dict[str, Any]]:
        return [c for c in received(page) if c["state"] == "connected" and c["local"]]

    pairs = {}
    for name, page in (("worker", worker), ("guest", guest)):
        connections = wait_until(f"{name}'s selected pair", functools.partial(selected, page))
        assert len(connections) == 1, connections
        pairs[name] = connections[0]
        assert connections[0]["policy"] == "relay"
        assert (connections[0]["local"], connections[0]["remote"]) == ("relay", "relay")
    expect(worker.locator(".tile.remote .peer-state")).to_have_text(
        NL["room.peer.relay"], timeout=LONG_MS
    )

    worker.locator("#end-call").click()
    worker.locator("#end-yes").click()
    expect(guest.locator("#call-ended")).to_be_visible()
    outcome = api(server, "GET", f"/api/v1/appointments/{booked.id}/outcome", token=token).json
    assert outcome["media_path"] == "relay"
    # The client was invited but never came: the outcome names who took part.
    assert sorted(p["role"] for p in outcome["participants"]) == ["guest", "worker"]
    sys.stdout.write(
        json.dumps(
            {
                "test": "acceptance-4",
                "pairs": pairs,
                "guest_received": guest_media,
                "worker_received": worker_media,
                "media_path": outcome["media_path"],
                "test_s": round(time.monotonic() - started, 1),
            }
        )
        + "\n"
    )


# Accessibility and catalogs ---------------------------------------------------------------


def test_call_screens_pass_axe_and_the_catalog_check_in_dutch_and_english(
    server: Server, browser: Browser
) -> None:
    worker, token = worker_page(browser, server, "daan", bypass_csp=True)
    booked = book(server, token, "Willemien Bruggink", timedelta(minutes=7))
    later = book(server, token, "Willemien Bruggink", timedelta(days=2))
    found: dict[str, object] = {}
    seen: list[str] = []

    def check(page: Page, name: str, ready: str) -> None:
        for language in ("nl", "en"):
            set_language(page, language)
            expect(page.locator(ready)).to_be_visible()
            page_problems(page, f"{name}/{language}", found, SMALL_TARGETS_JS)
            seen.append(f"{name}/{language}")
        set_language(page, "nl")

    # Too early: the waiting room opens a quarter of an hour before the start.
    worker.goto(server.url(f"/#/call/{later.id}"))
    worker.locator("#open-room").click()
    expect(worker.locator("#room-refused")).to_have_text(NL["room.refused.early"])
    check(worker, "worker: too early", "#room-refused")

    worker.goto(server.url(f"/#/agenda/appointment/{booked.id}"))
    worker.locator("#open-call-room").click()
    expect(worker.locator("#preview")).to_be_visible()
    expect(worker.locator("#connection-result")).to_have_text(NL["check.connection.good"])
    check(worker, "worker: check before the call", "#open-room")
    worker.locator("#open-room").click()
    expect(worker.locator("#nobody-waiting")).to_be_visible()
    check(worker, "worker: empty waiting room", "#nobody-waiting")

    client = join_page(browser, server, booked.links["client"], bypass_csp=True)
    expect(client.locator("#preview")).to_be_visible()
    expect(client.locator("#connection-result")).to_have_text(
        NL["check.connection.good"], timeout=LONG_MS
    )
    check(client, "client: waiting room with the check", "#check-done")
    client.locator("#check-done").click()
    check(client, "client: waiting room, checked", "#check-ready")
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    check(worker, "worker: someone waits", "#waiting-cue")

    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    media_keeps_flowing(client)
    worker.locator("#chat-text").fill("Goedemorgen mevrouw Bruggink")
    worker.locator("#chat-form button[type=submit]").click()
    expect(client.locator("#chat-log")).to_contain_text("Goedemorgen mevrouw Bruggink")
    client.locator("#toggle-mic").click()
    expect(client.locator("#toggle-mic")).to_have_text(NL["room.micOn"])
    expect(worker.locator(".tile.remote .peer-note")).to_have_text(NL["room.peer.muted"])
    worker.locator("#toggle-screen").click()  # getDisplayMedia, then replaceTrack
    expect(worker.locator("#toggle-screen")).to_have_text(NL["room.screenStop"])
    expect(client.locator(".tile.remote .peer-note")).to_have_text(NL["room.peer.screen"])
    media_keeps_flowing(client)  # the screen's pictures arrive on the same transceiver
    check(client, "client: in the call", "#leave-call")
    check(worker, "worker: in the call", "#end-call")
    worker.locator("#toggle-screen").click()
    expect(client.locator(".tile.remote .peer-note")).to_have_count(0)

    # The client hangs up, then comes back: the waiting room again, let in again.
    client.locator("#leave-call").click()
    expect(client.locator("#call-left")).to_have_text(NL["room.left.title"])
    check(client, "client: left", "#rejoin")
    expect(worker.locator("#people li[data-status='left']")).to_have_count(1)
    client.locator("#rejoin").click()
    expect(client.locator("#check-ready")).to_be_visible()
    expect(worker.locator("#waiting-list li")).to_have_count(1)
    worker.locator("#waiting-list button").click()
    expect(client.locator("#in-call")).to_be_visible()
    media_keeps_flowing(client)
    worker.locator("#end-call").click()
    check(worker, "worker: end for everyone?", "#end-yes")
    worker.locator("#end-yes").click()
    expect(client.locator("#call-ended")).to_be_visible()
    check(client, "client: ended", "#call-ended")
    check(worker, "worker: ended", "#room-ended")
    assert not found, found
    assert len(seen) == 24, seen
    assert EN["room.ended.title"] != NL["room.ended.title"]
