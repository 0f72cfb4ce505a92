"""The signaling decoder: every message a participant may send is decoded in one place, and
nothing that arrives makes it raise anything but InvalidInput (fuzzed with hypothesis)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beeldbel.calls import model as protocol
from beeldbel.errors import InvalidInput

PEER = str(uuid.UUID(int=42))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "id",
        "to",
        "description",
        "candidate",
        "participant_id",
        "audio",
        "video",
        "screen",
        "path",
        "text",
        "type",
        "sdp",
        "sdpMid",
        "sdpMLineIndex",
        "usernameFragment",
        "extra",
    ]
)
messages_like = st.dictionaries(field_names, json_values, max_size=6)


@settings(max_examples=600, deadline=None)
@given(event=st.one_of(st.sampled_from(sorted(protocol.EVENTS)), json_values), payload=json_values)
def test_any_json_is_decoded_or_refused_with_invalid_input(event: Any, payload: Any) -> None:
    try:
        message = protocol.decode(event, payload)
    except InvalidInput as error:
        reason = error.details["reason"]
        assert reason in {"unknown_event", "not_an_object", "invalid"}
        return
    assert message.id == payload["id"]


@settings(max_examples=600, deadline=None)
@given(event=st.sampled_from(sorted(protocol.EVENTS)), payload=messages_like)
def test_objects_with_the_right_field_names_are_decoded_or_refused(
    event: str, payload: dict[str, Any]
) -> None:
    try:
        message = protocol.decode(event, payload)
    except InvalidInput as error:
        assert (error.details["reason"], error.details["event"]) == ("invalid", event)  # noqa: PT017
        return
    assert type(message) is protocol.EVENTS[event]
    # What was accepted can be sent on as JSON.
    json.dumps(message.model_dump(mode="json"))


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("admit", {"id": "1"}),
        ("admit", {"id": "1", "participant_id": PEER}),
        ("signal", {"id": "1", "to": PEER, "description": {"type": "offer", "sdp": "v=0"}}),
        ("signal", {"id": "1", "to": PEER, "description": {"type": "rollback"}}),
        (
            "signal",
            {
                "id": "1",
                "to": PEER,
                "candidate": {
                    "candidate": "candidate:1 1 udp 1 192.0.2.1 5000 typ host",
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                    "usernameFragment": None,
                },
            },
        ),
        ("media", {"id": "1", "audio": True, "video": False}),
        ("path", {"id": "1", "path": "relay"}),
        ("chat", {"id": "1", "text": "Goedemorgen!"}),
        ("ice", {"id": "1"}),
        ("leave", {"id": "1"}),
        ("end", {"id": "1"}),
    ],
)
def test_each_message_the_protocol_names_is_accepted(event: str, payload: dict[str, Any]) -> None:
    assert protocol.decode(event, payload).id == "1"


@pytest.mark.parametrize(
    ("event", "payload", "fields"),
    [
        ("signal", {"id": "1", "to": PEER}, []),  # neither description nor candidate
        (
            "signal",
            {
                "id": "1",
                "to": PEER,
                "description": {"type": "offer", "sdp": ""},
                "candidate": {"candidate": ""},
            },
            [],
        ),
        (
            "signal",
            {"id": "1", "to": PEER, "description": {"type": "offer", "sdp": "x" * 50_000}},
            ["description"],
        ),
        ("signal", {"id": "1", "to": "someone", "description": {"type": "offer"}}, ["to"]),
        ("media", {"id": "1", "audio": 1, "video": 0}, ["audio", "video"]),
        ("path", {"id": "1", "path": "host"}, ["path"]),
        ("chat", {"id": "1", "text": ""}, ["text"]),
        ("chat", {"id": "", "text": "hoi"}, ["id"]),
        ("chat", {"id": "x" * 65, "text": "hoi"}, ["id"]),
        ("leave", {"id": "1", "why": "bye"}, ["why"]),
    ],
)
def test_bad_messages_are_refused_naming_the_fields(
    event: str, payload: dict[str, Any], fields: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        protocol.decode(event, payload)
    assert refused.value.details["fields"] == fields
