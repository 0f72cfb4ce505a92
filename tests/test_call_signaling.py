"""Signaling over real Socket.IO connections (python-socketio clients against the running app):
who may connect, the waiting room and admission, negotiation between admitted people only,
drops and returns within the grace period, refusals of bad messages, and the outcome."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import socketio
from sqlalchemy import select

from beeldbel.api import appkeys
from beeldbel.api.calls import HUB
from beeldbel.clock import FixedClock
from beeldbel.db.tables.calls import CallOutcomeRow
from beeldbel.settings import Settings
from tests.clients_support import World, make_world
from tests.signaling_support import Peer

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def world(aiohttp_client: Any, settings: Settings, fixed_clock: FixedClock) -> World:
    return await make_world(aiohttp_client, settings, fixed_clock)


async def scheduled_call(
    world: World, client_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    if client_id is None:
        client = await world.create_client(name="Gerrit Nijhuis")
        await world.set_care_team(client["id"], "anouk")
        client_id = client["id"]
    body = {
        "kind": "checkin",
        "team_id": str(world.home),
        "client_id": client_id,
        "starts_at": (NOW + timedelta(minutes=5)).isoformat(),
        "ends_at": (NOW + timedelta(minutes=35)).isoformat(),
        **fields,
    }
    response = await world.http.post(
        "/api/v1/appointments", json=body, headers=world.headers("anouk")
    )
    assert response.status == 201, await response.text()
    return dict((await response.json())["appointment"])


async def join_token(world: World, appointment: dict[str, Any], role: str = "client") -> str:
    response = await world.http.get(
        f"/api/v1/appointments/{appointment['id']}/links", headers=world.headers("anouk")
    )
    links = {item["role"]: item["path"] for item in (await response.json())["items"]}
    answer = await world.http.post("/api/v1/join", json={"code": links[role].split("#")[1]})
    data = await answer.json()
    assert answer.status == 200, data
    assert data["token"], data
    return str(data["token"])


def worker_auth(world: World, appointment: dict[str, Any], name: str = "anouk") -> dict[str, str]:
    token = world.headers(name)["Authorization"].removeprefix("Bearer ")
    return {"appointment_id": appointment["id"], "access_token": token}


def pid(appointment: dict[str, Any], role: str) -> str:
    return next(p["id"] for p in appointment["participants"] if p["role"] == role)


async def in_call(world: World, peers: Any) -> tuple[dict[str, Any], Peer, Peer]:
    appointment = await scheduled_call(world)
    worker, client = peers(), peers()
    await worker.connect(world, worker_auth(world, appointment))
    token = await join_token(world, appointment)
    await client.connect(world, {"appointment_id": appointment["id"], "join_token": token})
    await worker.wait_for("cue")
    ack = await worker.send("admit", {"id": "a1", "participant_id": pid(appointment, "client")})
    assert ack == {"ok": True, "id": "a1"}
    await client.wait_for("call", lambda c: c["phase"] == "live")
    return appointment, worker, client


async def test_the_client_waits_the_worker_admits_and_they_negotiate(
    world: World, peers: Any
) -> None:
    appointment = await scheduled_call(world)
    worker, client = peers(), peers()
    await worker.connect(world, worker_auth(world, appointment))
    welcome = worker.heard["welcome"][0]
    assert welcome["role"] == "worker"
    assert welcome["ice"]["iceTransportPolicy"] == "all"

    token = await join_token(world, appointment)
    await client.connect(world, {"appointment_id": appointment["id"], "join_token": token})
    client_id = pid(appointment, "client")
    cue = await worker.wait_for("cue")
    assert cue == {"what": "waiting", "about": client_id}
    await worker.wait_for("call", lambda c: any(s["status"] == "waiting" for s in c["seats"]))
    # A waiting client cannot negotiate yet.
    refused = await client.send(
        "signal",
        {
            "id": "s0",
            "to": pid(appointment, "worker"),
            "description": {"type": "offer", "sdp": "v=0"},
        },
    )
    assert refused["ok"] is False
    assert refused["error"]["details"]["reason"] == "not_in_call"

    ack = await worker.send("admit", {"id": "a1", "participant_id": client_id})
    assert ack == {"ok": True, "id": "a1"}
    live = await client.wait_for("call", lambda c: c["phase"] == "live")
    assert {s["status"] for s in live["seats"]} == {"in_call"}

    offer = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}
    ack = await worker.send("signal", {"id": "s1", "to": client_id, "description": offer})
    assert ack["ok"] is True
    heard = await client.wait_for("signal")
    assert heard == {"from": pid(appointment, "worker"), "description": offer}
    candidate = {
        "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd",
    }
    ack = await client.send(
        "signal", {"id": "s2", "to": pid(appointment, "worker"), "candidate": candidate}
    )
    assert ack["ok"] is True
    assert (await worker.wait_for("signal"))["candidate"] == candidate

    # Before an ICE restart, fresh ICE servers.
    ice = await client.send("ice", {"id": "i1"})
    assert ice["ok"] is True
    assert ice["ice"]["iceTransportPolicy"] == "all"

    # The agenda shows the call in progress.
    response = await world.http.get(
        f"/api/v1/appointments/{appointment['id']}", headers=world.headers("anouk")
    )
    assert (await response.json())["status"] == "in_progress"


async def test_ending_the_call_files_one_outcome_and_completes_the_appointment(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    await client.send("path", {"id": "p1", "path": "relay"})
    world.clock.advance(timedelta(minutes=12))
    assert (await client.send("end", {"id": "e0"}))["ok"] is False  # only a worker ends it
    assert (await worker.send("end", {"id": "e1"}))["ok"] is True
    ended = await client.wait_for("call", lambda c: c["phase"] == "ended")
    assert ended["end_reason"] == "ended_by_host"
    again = await worker.send("end", {"id": "e2"})
    assert again["ok"] is False
    async with world.app[appkeys.DATABASE].transaction(read_only=True) as session:
        outcomes = (await session.scalars(select(CallOutcomeRow))).all()
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert str(outcome.appointment_id) == appointment["id"]
    assert outcome.reason == "ended_by_host"
    assert outcome.duration_s == 12 * 60
    assert outcome.media_path == "relay"
    assert sorted(s["role"] for s in outcome.seats) == ["client", "worker"]
    assert all(s["took_part"] for s in outcome.seats), outcome.seats
    response = await world.http.get(
        f"/api/v1/appointments/{appointment['id']}", headers=world.headers("anouk")
    )
    assert (await response.json())["status"] == "completed"


async def test_a_dropped_client_back_within_the_grace_period_needs_no_new_admission(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    await client.close()
    await worker.wait_for("call", lambda c: any(s["status"] == "away" for s in c["seats"]))
    # Negotiation meant for the client meanwhile is kept for their return.
    offer = {"type": "offer", "sdp": "v=0"}
    assert (await worker.send("signal", {"id": "s1", "to": client_id, "description": offer}))["ok"]
    world.clock.advance(timedelta(seconds=30))  # within the grace period (60 s)
    worker.heard["call"].clear()
    back = peers()
    token = await join_token(world, appointment)
    await back.connect(world, {"appointment_id": appointment["id"], "join_token": token})
    assert (await back.wait_for("signal"))["description"] == offer
    state = await worker.wait_for(
        "call", lambda c: all(s["status"] == "in_call" for s in c["seats"])
    )
    assert len(state["seats"]) == 2
    assert not [c for c in worker.heard["cue"][1:]]  # no second "someone waits"


async def test_after_the_grace_period_the_place_is_released_and_the_host_sees_it(
    world: World, peers: Any
) -> None:
    appointment, worker, client = await in_call(world, peers)
    client_id = pid(appointment, "client")
    await client.close()
    await worker.wait_for("call", lambda c: any(s["status"] == "away" for s in c["seats"]))
    world.clock.advance(timedelta(seconds=61))
    await world.app[HUB].tick()
    notice = await worker.wait_for("notice", lambda n: n["what"] == "seat_released")
    assert notice["about"] == client_id
    # Coming back now means waiting to be admitted again.
    back = peers()
    token = await join_token(world, appointment)
    await back.connect(world, {"appointment_id": appointment["id"], "join_token": token})
    await worker.wait_for("cue", lambda c: c["about"] == client_id)
    assert back.seat(client_id) == "waiting"


async def refused_connection(world: World, auth: dict[str, Any]) -> Any:
    peer = Peer()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peer.connect(world, auth)
    await peer.close()
    return peer.heard["connect_error"]


async def test_connections_are_refused_for_the_wrong_appointment_an_old_token_a_revoked_link(
    world: World,
) -> None:
    first = await scheduled_call(world)
    second = await scheduled_call(
        world,
        starts_at=(NOW + timedelta(hours=2)).isoformat(),
        ends_at=(NOW + timedelta(hours=3)).isoformat(),
    )
    token = await join_token(world, first)
    args = await refused_connection(world, {"appointment_id": second["id"], "join_token": token})
    assert "another appointment" in str(args)
    assert "unauthenticated" in str(
        await refused_connection(world, {"appointment_id": first["id"]})
    )
    assert "not valid" in str(
        await refused_connection(world, {"appointment_id": first["id"], "join_token": "x.y.z"})
    )
    # A worker who does not take part is refused too.
    assert "do not take part" in str(
        await refused_connection(world, worker_auth(world, first, "daan"))
    )
    # Expired: the join token lives ten minutes.
    world.clock.advance(timedelta(minutes=11))
    assert "expired" in str(
        await refused_connection(world, {"appointment_id": first["id"], "join_token": token})
    )
    # Revoked: the appointment is cancelled.
    fresh = await join_token(world, first)
    current = await world.http.get(
        f"/api/v1/appointments/{first['id']}", headers=world.headers("anouk")
    )
    cancelled = await world.http.post(
        f"/api/v1/appointments/{first['id']}/cancel",
        json={"version": (await current.json())["version"]},
        headers=world.headers("anouk"),
    )
    assert cancelled.status == 200
    assert "geannuleerd" in str(
        await refused_connection(world, {"appointment_id": first["id"], "join_token": fresh})
    )


async def test_a_guest_is_refused_once_the_client_withdraws_consent_and_calls_with_guests_relay(
    world: World, peers: Any
) -> None:
    client = await world.create_client(name="Gerrit Nijhuis")
    await world.set_care_team(client["id"], "anouk")
    for decision in ("given",):
        response = await world.http.post(
            f"/api/v1/clients/{client['id']}/consent",
            json={"topic": "guests_in_calls", "decision": decision, "how": "spoken"},
            headers=world.headers("anouk"),
        )
        assert response.status == 201
    appointment = await scheduled_call(world, client["id"], guests=[{"name": "Tolk Ayşe"}])
    worker = peers()
    await worker.connect(world, worker_auth(world, appointment))
    assert worker.heard["welcome"][0]["ice"]["iceTransportPolicy"] == "relay"
    guest_token = await join_token(world, appointment, "guest")
    response = await world.http.post(
        f"/api/v1/clients/{client['id']}/consent",
        json={"topic": "guests_in_calls", "decision": "withdrawn", "how": "spoken"},
        headers=world.headers("anouk"),
    )
    assert response.status == 201
    args = await refused_connection(
        world, {"appointment_id": appointment["id"], "join_token": guest_token}
    )
    assert "consent_required" in str(args)


async def test_bad_messages_get_error_acks_and_another_call_is_unaffected(
    world: World, peers: Any
) -> None:
    _appointment, _worker, client = await in_call(world, peers)
    for event, payload, reason in (
        ("nonsense", {"id": "1"}, "unknown_event"),
        ("signal", "not an object", "not_an_object"),
        ("signal", {"id": "2", "to": "not-a-uuid", "candidate": {"candidate": "x"}}, "invalid"),
        ("chat", {"id": "3", "text": ""}, "invalid"),
        ("chat", {"id": "4", "text": "x" * 1001}, "invalid"),
        ("admit", {"id": "5", "participant_id": None, "extra": 1}, "invalid"),
        (
            "signal",
            {"id": "6", "to": str(UUID(int=7)), "description": {"type": "offer", "sdp": ""}},
            "not_a_peer",
        ),
        ("admit", {"id": "7"}, "not_host"),
    ):
        ack = await client.send(event, payload)
        assert ack["ok"] is False, (event, payload, ack)
        assert ack["error"]["details"]["reason"] == reason, (event, ack)

    # A second call at the same time, with another worker and client.
    other_client = await world.create_client(name="Truus Oude Egberink")
    await world.set_care_team(other_client["id"], "anouk", "daan")
    response = await world.http.post(
        "/api/v1/appointments",
        json={
            "kind": "checkin",
            "team_id": str(world.home),
            "client_id": other_client["id"],
            "starts_at": (NOW + timedelta(minutes=5)).isoformat(),
            "ends_at": (NOW + timedelta(minutes=35)).isoformat(),
        },
        headers=world.headers("daan"),
    )
    other = (await response.json())["appointment"]
    daan = peers()
    await daan.connect(world, worker_auth(world, other, "daan"))

    # Flooding: refused with rate_limited acks, then the connection is closed.
    acks = await asyncio.gather(
        *(client.send("media", {"id": f"m{i}", "audio": True, "video": False}) for i in range(400)),
        return_exceptions=True,
    )
    refused = [a for a in acks if isinstance(a, dict) and not a["ok"]]
    assert refused
    assert all(a["error"]["code"] == "rate_limited" for a in refused)

    # Too large for the transport: the connection is closed, the server stays up.
    big = peers()
    token = await join_token(world, other)
    await big.connect(world, {"appointment_id": other["id"], "join_token": token})
    with pytest.raises(Exception):  # noqa: PT011, B017 - the socket closes under the sender
        await big.send("chat", {"id": "big", "text": "x" * (200 * 1024)})
    # The other call still works: Daan admits his client.
    await daan.wait_for("cue")
    daan_client = next(p["id"] for p in other["participants"] if p["role"] == "client")
    again = peers()
    await again.connect(
        world, {"appointment_id": other["id"], "join_token": await join_token(world, other)}
    )
    ack = await daan.send("admit", {"id": "d1", "participant_id": daan_client})
    assert ack["ok"] is True
    assert (await world.http.get("/healthz")).status == 200
    metrics = await (await world.http.get("/metrics")).text()
    assert 'beeldbel_signaling_rejected_total{reason="unknown_event"} 1.0' in metrics
    assert 'beeldbel_signaling_rejected_total{reason="rate"}' in metrics


async def test_a_check_in_the_client_never_joined_ends_as_not_joined_once(
    world: World, peers: Any
) -> None:
    from beeldbel.api.calls import CALLS

    waited = await scheduled_call(world)
    worker = peers()
    await worker.connect(world, worker_auth(world, waited))
    nobody = await scheduled_call(
        world,
        starts_at=(NOW + timedelta(hours=1)).isoformat(),
        ends_at=(NOW + timedelta(hours=1, minutes=30)).isoformat(),
    )
    service = world.app[CALLS]
    assert await service.close_unjoined() == 0  # their windows are not over yet
    world.clock.advance(timedelta(hours=2, minutes=1))
    assert await service.close_unjoined() == 2
    assert await service.close_unjoined() == 0  # filed once
    async with world.app[appkeys.DATABASE].transaction(read_only=True) as session:
        outcomes = {
            str(o.appointment_id): o for o in (await session.scalars(select(CallOutcomeRow))).all()
        }
    assert {o.reason for o in outcomes.values()} == {"not_joined"}
    assert [s["role"] for s in outcomes[waited["id"]].seats] == ["worker"]
    assert outcomes[nobody["id"]].seats == []
    for appointment in (waited, nobody):
        response = await world.http.get(
            f"/api/v1/appointments/{appointment['id']}", headers=world.headers("anouk")
        )
        assert (await response.json())["status"] == "no_show"


async def test_the_outcome_can_be_read_by_the_worker_and_is_audited(
    world: World, peers: Any
) -> None:
    appointment, worker, _ = await in_call(world, peers)
    url = f"/api/v1/appointments/{appointment['id']}/outcome"
    assert (await world.http.get(url, headers=world.headers("anouk"))).status == 404
    world.clock.advance(timedelta(minutes=3))
    assert (await worker.send("end", {"id": "e"}))["ok"] is True
    response = await world.http.get(url, headers=world.headers("anouk"))
    assert response.status == 200, await response.text()
    outcome = await response.json()
    assert outcome["reason"] == "ended_by_host"
    assert outcome["duration_s"] == 180
    assert sorted(p["role"] for p in outcome["participants"]) == ["client", "worker"]
    assert (await world.http.get(url, headers=world.headers("olaf"))).status == 403
    reads = await world.audit(event="read", object_type="appointment")
    assert reads


async def test_a_worker_coming_in_late_is_rung_and_the_waiting_see_only_themselves(
    world: World, peers: Any
) -> None:
    appointment = await scheduled_call(world)
    client, worker = peers(), peers()
    token = await join_token(world, appointment)
    await client.connect(world, {"appointment_id": appointment["id"], "join_token": token})
    client_id = pid(appointment, "client")
    await client.wait_for("call")
    assert [s["participant_id"] for s in client.heard["call"][-1]["seats"]] == [client_id]
    await worker.connect(world, worker_auth(world, appointment))
    cue = await worker.wait_for("cue")
    assert cue == {"what": "waiting", "about": client_id}
    # Still waiting, the client sees nobody else, and hears nothing of the worker's media.
    assert (await worker.send("media", {"id": "m", "audio": False, "video": True}))["ok"]
    await worker.wait_for("media")
    latest = client.heard["call"][-1]
    assert [s["participant_id"] for s in latest["seats"]] == [client_id]
    assert client.heard["media"] == []
