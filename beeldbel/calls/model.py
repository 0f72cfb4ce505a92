"""The signaling protocol of the ``/call`` namespace: every message a participant may send,
decoded in one place. Pure: no Socket.IO, no I/O.

Each message is a Socket.IO event whose one argument is a JSON object with an ``id`` (the
sender's, echoed in the acknowledgement) and the fields below; unknown events, unknown
fields, wrong types and oversized values are refused with :class:`~beeldbel.errors.
InvalidInput` naming the reason, which the adapter sends back as an error acknowledgement.

=========  ==========================================================================
event      fields
=========  ==========================================================================
admit      ``participant_id`` (or null: everyone waiting) — a worker in the call only
signal     ``to`` and exactly one of ``description`` ({type, sdp}) or ``candidate``
           ({candidate, sdpMid, sdpMLineIndex, usernameFragment}) — perfect negotiation
media      ``audio``, ``video``, ``screen`` (booleans): what the sender is sending
path       ``path``: ``direct`` or ``relay`` (the selected candidate pair's kind)
chat       ``text`` (1 to 1000 characters)
ice        — fresh ICE servers (before every ICE restart)
stats      the sender's compact quality report (at most about 200 bytes): ``i`` the
           interval in seconds; about what it sends: ``bw`` the outgoing bandwidth
           estimate (kbit/s), ``rtt`` (ms), ``loss`` (share), ``jit`` (ms), ``fs`` frames
           sent; about what it receives: ``fd`` frames decoded, ``frz`` seconds frozen,
           ``cc`` share of audio concealed; ``m`` the mode it applies now and ``fb`` true
           when it fell back to ``audio`` by itself while signaling was unreachable
quality    a worker pins a participant's mode (``pin``: {participant_id, mode or null});
           anyone sets their own data saver (``saver``: the highest mode, or
           ``saver_off``); a worker says they phoned the client (``phoned``)
leave      — the sender leaves the call
end        — a worker ends the call for everyone
=========  ==========================================================================
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from beeldbel.errors import InvalidInput

__all__ = [
    "EVENTS",
    "MAX_MESSAGE_BYTES",
    "Admit",
    "Candidate",
    "Chat",
    "Description",
    "End",
    "Ice",
    "Leave",
    "Media",
    "Message",
    "Path",
    "QualityControl",
    "Signal",
    "Stats",
    "decode",
]

MAX_MESSAGE_BYTES: Final = 64 * 1024  # an SDP with many candidates stays well under this
MAX_SDP: Final = 48 * 1024
MessageId = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Id = Annotated[UUID, Field(strict=False)]  # a UUID arrives as its text


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: MessageId


class Admit(_Message):
    participant_id: Id | None = None


class Description(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: Annotated[StrictStr, Field(max_length=MAX_SDP)] = ""


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    candidate: Annotated[StrictStr, Field(max_length=1024)]
    sdpMid: Annotated[StrictStr, Field(max_length=64)] | None = None  # WebRTC's names
    sdpMLineIndex: Annotated[StrictInt, Field(ge=0, le=64)] | None = None
    usernameFragment: Annotated[StrictStr, Field(max_length=256)] | None = None


class Signal(_Message):
    to: Id
    description: Description | None = None
    candidate: Candidate | None = None

    def model_post_init(self, context: Any) -> None:
        if (self.description is None) == (self.candidate is None):
            raise ValueError("a signal carries a description or a candidate")


class Media(_Message):
    audio: StrictBool
    video: StrictBool
    screen: StrictBool = False


class Path(_Message):
    path: Literal["direct", "relay"]


class Chat(_Message):
    text: Annotated[StrictStr, Field(min_length=1, max_length=1000)]


class Ice(_Message):
    pass


ModeName = Literal["hd", "sd", "low", "stills", "audio"]
Kbps = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
Ms = Annotated[float, Field(ge=0, le=120_000, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[StrictInt, Field(ge=0, le=100_000)]


class Stats(_Message):
    i: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)]
    bw: Kbps | None = None
    rtt: Ms | None = None
    loss: Share = 0.0
    jit: Ms = 0.0
    fs: Count = 0
    fd: Count | None = None
    frz: Annotated[float, Field(ge=0, le=60, allow_inf_nan=False)] = 0.0
    cc: Share = 0.0
    gone: Share = 0.0  # ...and of it not arriving at all (silent concealment too)
    m: ModeName | None = None
    fb: StrictBool = False
    n: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] | None = None  # next report, s


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_id: Id
    mode: ModeName | None


class QualityControl(_Message):
    pin: PinIn | None = None
    saver: ModeName | None = None
    saver_off: StrictBool = False
    phoned: StrictBool = False  # the worker took the advice and phoned the client


class Leave(_Message):
    pass


class End(_Message):
    pass


Message = Admit | Signal | Media | Path | Chat | Ice | Stats | QualityControl | Leave | End

EVENTS: Final[dict[str, type[_Message]]] = {
    "admit": Admit,
    "signal": Signal,
    "media": Media,
    "path": Path,
    "chat": Chat,
    "ice": Ice,
    "stats": Stats,
    "quality": QualityControl,
    "leave": Leave,
    "end": End,
}


def decode(event: object, payload: object) -> Message:
    """The message, or InvalidInput (``details.reason``: unknown_event, not_an_object,
    invalid) — never any other exception, whatever arrives."""
    if not isinstance(event, str) or event not in EVENTS:
        raise InvalidInput("unknown message", details={"reason": "unknown_event"})
    if not isinstance(payload, dict):
        raise InvalidInput("a message is a JSON object", details={"reason": "not_an_object"})
    model = EVENTS[event]
    try:
        message = model.model_validate(payload)
    except (ValidationError, ValueError, TypeError) as error:
        fields = []
        if isinstance(error, ValidationError):
            fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        raise InvalidInput(
            f"not a valid {event} message",
            details={"reason": "invalid", "event": event, "fields": fields},
        ) from None
    assert isinstance(
        message, Admit | Signal | Media | Path | Chat | Ice | Stats | QualityControl | Leave | End
    )
    return message
