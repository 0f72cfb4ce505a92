"""Issue 9 on the signaling side: browsers' stats reach the quality controller, its modes reach
the sender, hints and each direction's mode reach both sides, the worker can pin a mode, the
phone is advised to the worker, and the modes a call went through land in its outcome and in
the client's file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from beeldbel.api.calls import HUB
from beeldbel.clock import FixedClock
from beeldbel.quality.model import SPECS, Mode
from beeldbel.settings import Settings
from tests.clients_support import World, make_world
from tests.test_call_signaling import in_call, pid

GOOD = {"i": 1.0, "bw": 900.0, "rtt": 60.0, "loss": 0.0, "jit": 5.0, "fs": 15, "fd": 15, "cc": 0.0}
WEAK = {"i": 1.0, "bw": 30.0, "rtt": 700.0, "loss": 0.02, "jit": 40.0, "fs": 2, "fd": 15}


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def report(peer: Any, world: World, seconds: int, stats: dict[str, Any], *also: Any) -> None:
    """``peer`` reports ``stats`` every second; ``also`` (other peers) report a good link."""
    for n in range(seconds):
        ack = await peer.send("stats", {"id": f"s{n}", **stats})
        assert ack["ok"] is True, ack
        for other in also:
            assert (await other.send("stats", {"id": f"o{n}", **GOOD}))["ok"] is True
        world.clock.advance(timedelta(seconds=stats["i"]))


async def test_a_weak_client_link_steps_down_both_sides_hear_why_and_the_outcome_keeps_it(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    await report(client, world, 2, GOOD, worker)
    # The client's uplink falls to 30 kbit/s: within 3 s of reported time, stills or audio.
    await report(client, world, 3, WEAK, worker)
    mode = await client.wait_for(
        "mode", lambda m: m["mode"] in ("stills", "audio") and m["reason"] != "start"
    )
    assert mode["participant_id"] == client_id
    assert mode["reason"] in ("weak_uplink", "congestion")
    assert mode["spec"]["ptime_ms"] == 60
    assert mode["spec"]["video_kbps"] <= 12
    seen = await worker.wait_for(
        "quality", lambda q: q["participant_id"] == client_id and q["mode"] == mode["mode"]
    )
    assert seen["probe"] is False
    hint = await worker.wait_for("hint", lambda h: h["about"] == client_id)
    assert hint["reason"] == "weak_uplink"
    await client.wait_for("hint", lambda h: h["about"] == client_id)
    assert not worker.heard["mode"] or all(
        m["participant_id"] != client_id for m in worker.heard["mode"]
    )

    # The worker pins the client's direction to audio: it stays there.
    ack = await worker.send(
        "quality", {"id": "p", "pin": {"participant_id": client_id, "mode": "audio"}}
    )
    assert ack["ok"] is True, ack
    await client.wait_for("mode", lambda m: m["mode"] == "audio")
    await report(client, world, 30, GOOD, worker)
    assert client.heard["mode"][-1]["mode"] == "audio"
    # Unpinned, the controller takes over again: on a good link it probes its way up.
    pinned_modes = len(client.heard["mode"])
    ack = await worker.send(
        "quality", {"id": "u", "pin": {"participant_id": client_id, "mode": None}}
    )
    assert ack["ok"] is True, ack
    await report(client, world, 30, GOOD, worker)
    after = client.heard["mode"][pinned_modes:]
    assert any(m["probe"] and m["mode"] == "stills" for m in after), after
    # A client cannot pin; nobody can pin someone outside the call.
    refused = await client.send(
        "quality", {"id": "q", "pin": {"participant_id": client_id, "mode": "hd"}}
    )
    assert refused["ok"] is False
    for wrong in ({"loss": 3}, {"n": 0}, {"n": "soon"}, {"n": 600}):
        bad = await client.send("stats", {"id": "x", "i": 1.0, **wrong})
        assert (bad["ok"], bad["error"]["code"]) == (False, "invalid_input"), wrong
    paced = await client.send("stats", {"id": "n", **GOOD, "n": 4.0})  # the next one in 4 s
    assert paced["ok"] is True

    assert (await worker.send("end", {"id": "e"}))["ok"] is True
    await worker.wait_for("call", lambda c: c["phase"] == "ended")
    outcome = await world.http.get(
        f"/api/v1/appointments/{appointment['id']}/outcome", headers=world.headers("anouk")
    )
    body = await outcome.json()
    assert outcome.status == 200, body
    directions = {d["role"]: d for d in body["quality"]["directions"]}
    # Every sender starts with its voice only; its first report (60 ms round trip) picks low.
    assert directions["client"]["modes"][:2] == ["audio", "low"]
    assert directions["client"]["lowest"] == "audio"
    assert directions["client"]["modes"][2] in ("stills", "audio")  # the drop, at once
    assert directions["worker"]["modes"][:2] == ["audio", "low"]  # a good link: no drop
    assert set(directions["worker"]["modes"][2:]) <= {"low", "sd", "hd"}
    log = await world.http.get(
        f"/api/v1/clients/{appointment['client']['id']}/contacts", headers=world.headers("anouk")
    )
    entry = (await log.json())["items"][0]
    assert entry["quality"] == body["quality"]


async def test_silence_from_the_client_drops_to_audio_and_then_advises_the_phone(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    await report(client, world, 2, GOOD)
    hub = world.app[HUB]
    for _ in range(8):  # eight seconds without a report: an outage
        world.clock.advance(timedelta(seconds=1))
        await hub.tick_quality()
    await client.wait_for("mode", lambda m: m["mode"] == "audio")
    await worker.wait_for("hint", lambda h: h["about"] == client_id and h["reason"] == "outage")
    assert not worker.heard["phone"]
    for _ in range(20):
        world.clock.advance(timedelta(seconds=1))
        await hub.tick_quality()
    phone = await worker.wait_for("phone", lambda p: p["about"] == client_id)
    assert phone["reason"] in ("outage", "audio_failing")
    assert not client.heard["phone"]  # the advice is for the worker
    refused = await client.send("quality", {"id": "c", "phoned": True})
    assert refused["ok"] is False
    assert (await worker.send("quality", {"id": "w", "phoned": True}))["ok"] is True
    assert (await worker.send("end", {"id": "e"}))["ok"] is True
    await worker.wait_for("call", lambda c: c["phase"] == "ended")
    outcome = await world.http.get(
        f"/api/v1/appointments/{appointment['id']}/outcome", headers=world.headers("anouk")
    )
    quality = (await outcome.json())["quality"]
    assert (quality["phone_recommended"], quality["phoned"]) == (True, True)


async def test_the_worker_hearing_none_of_the_client_takes_its_own_picture_off_the_call(
    world: World, peers: Any
) -> None:
    # The worker's page reports the client's voice missing (`gone`: concealment, silent
    # included); the client's own reports are stuck in its link's queue and come no more.
    # The worker's direction crosses that link too: the voice only, and the worker is not
    # told that its own connection is weak.
    appointment, worker, client = await in_call(world, peers)
    worker_id = pid(appointment, "worker")
    await report(worker, world, 3, GOOD, client)
    lost = {**GOOD, "fd": 0, "cc": 0.2, "gone": 0.9}
    ack = await worker.send("stats", {"id": "g", **lost})
    assert ack["ok"] is True, ack
    mode = await worker.wait_for("mode", lambda m: m["reason"] == "far_voice")
    assert (mode["participant_id"], mode["mode"]) == (worker_id, "audio")
    assert all(h["about"] != worker_id for h in worker.heard["hint"])
    bad = await worker.send("stats", {"id": "b", **GOOD, "gone": 1.5})
    assert (bad["ok"], bad["error"]["code"]) == (False, "invalid_input")


async def test_a_page_that_went_to_stills_by_itself_is_committed_to_stills_and_no_higher(
    world: World, peers: Any
) -> None:
    # A page hears a quarter of the far voice go missing beside its own moving video and goes
    # to stills by itself (web/quality.js watchPlayout), with the spec the welcome gave it.
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    start = client.heard["welcome"][0]["start_mode"]
    assert set(start["fallback"]) == {"stills", "audio"}
    assert start["fallback"]["stills"]["still_every_s"] == SPECS[Mode.STILLS].still_every_s
    await report(client, world, 3, GOOD, worker)
    ack = await client.send("stats", {"id": "s", **GOOD, "m": "stills", "fb": True})
    assert ack["ok"] is True, ack
    mode = await client.wait_for("mode", lambda m: m["reason"] == "fell_back")
    assert (mode["participant_id"], mode["mode"]) == (client_id, "stills")
    # A page's word never takes a link up: stills said again, from a link now in stills or
    # below, changes nothing.
    before = len(client.heard["mode"])
    ack = await client.send("stats", {"id": "t", **GOOD, "m": "stills", "fb": True})
    assert ack["ok"] is True, ack
    await report(client, world, 1, GOOD, worker)
    assert [m for m in client.heard["mode"][before:] if m["reason"] == "fell_back"] == []


async def test_a_page_that_fell_back_by_itself_is_committed_to_audio(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    await report(client, world, 3, GOOD, worker)
    ack = await client.send("stats", {"id": "f", **GOOD, "m": "audio", "fb": True})
    assert ack["ok"] is True, ack
    mode = await client.wait_for("mode", lambda m: m["reason"] == "fell_back")
    assert (mode["participant_id"], mode["mode"]) == (client_id, "audio")
    seen = await worker.wait_for(
        "quality", lambda q: q["participant_id"] == client_id and q["mode"] == "audio"
    )
    assert seen["probe"] is False
