"""TURN credentials per join (coturn's REST scheme, ``use-auth-secret``): valid until the
appointment's end plus an hour and never more than 24 hours; relay only when a guest takes part
or the site says so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

from beeldbel.scheduling.model import Appointment, Kind, Participant, ParticipantRole, Status
from beeldbel.signaling.hub import IceConfig

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = b"coturn-static-auth-secret"
PERSON = uuid.UUID(int=5)


def appointment(ends_in: timedelta, *, guest: bool = False) -> Appointment:
    people = [
        Participant(uuid.UUID(int=1), ParticipantRole.WORKER, "a" * 12, subject="staff:anouk"),
        Participant(uuid.UUID(int=2), ParticipantRole.CLIENT, "b" * 12, client_id=uuid.UUID(int=9)),
    ]
    if guest:
        people.append(Participant(uuid.UUID(int=3), ParticipantRole.GUEST, "c" * 12, name="Tolk"))
    return Appointment(
        id=uuid.UUID(int=100),
        team_id=uuid.UUID(int=200),
        kind=Kind.CHECKIN,
        status=Status.LOBBY_OPEN,
        starts_at=NOW,
        ends_at=NOW + ends_in,
        created_by="staff:anouk",
        created_at=NOW,
        updated_at=NOW,
        client_id=uuid.UUID(int=9),
        participants=tuple(people),
    )


def config(relay_only: bool = False) -> IceConfig:
    return IceConfig(
        ("stun:turn.example.nl:3478",),
        ("turn:turn.example.nl:3478?transport=udp", "turns:turn.example.nl:443?transport=tcp"),
        SECRET,
        relay_only,
    )


def test_credentials_follow_coturns_rest_scheme_and_last_until_the_end_plus_an_hour() -> None:
    answer = config().servers(PERSON, appointment(timedelta(minutes=30)), NOW)
    stun, turn = answer["iceServers"]
    assert stun == {"urls": ["stun:turn.example.nl:3478"]}
    expires = NOW + timedelta(minutes=90)
    assert turn["username"] == f"{int(expires.timestamp())}:{PERSON}"
    expected = hmac.new(SECRET, turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(expected).decode()
    assert turn["urls"][1].startswith("turns:")
    assert answer["expiresAt"] == expires.isoformat()
    assert answer["iceTransportPolicy"] == "all"


def test_credentials_never_last_more_than_a_day() -> None:
    answer = config().servers(PERSON, appointment(timedelta(hours=8)), NOW - timedelta(hours=20))
    assert answer["expiresAt"] == (NOW + timedelta(hours=4)).isoformat()


def test_a_guest_or_the_site_makes_the_call_relay_only() -> None:
    assert (
        config().servers(PERSON, appointment(timedelta(minutes=30), guest=True), NOW)[
            "iceTransportPolicy"
        ]
        == "relay"
    )
    assert (
        config(relay_only=True).servers(PERSON, appointment(timedelta(minutes=30)), NOW)[
            "iceTransportPolicy"
        ]
        == "relay"
    )


def test_without_a_secret_there_are_no_turn_credentials() -> None:
    bare = IceConfig(("stun:turn.example.nl:3478",), ("turn:turn.example.nl:3478",), None, False)
    servers = bare.servers(PERSON, appointment(timedelta(minutes=30)), NOW)["iceServers"]
    assert servers == [{"urls": ["stun:turn.example.nl:3478"]}]
