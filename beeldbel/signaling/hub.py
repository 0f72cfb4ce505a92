"""The ``/call`` Socket.IO namespace: who may connect, what each message does, who hears it.

Connecting needs ``auth = {"appointment_id": ..., "join_token": ...}`` (a client or guest,
from an invitation link) or ``{"appointment_id": ..., "access_token": ...}`` (a worker taking
part), in the Socket.IO auth payload, never the URL. A refused connection gets
``{"code", "message"}`` (the message in plain Dutch for people holding a link).

Every message after that is decoded by :func:`beeldbel.calls.model.decode`, limited in size
and rate per connection, and acknowledged: ``{"ok": true, "id": ...}`` or ``{"ok": false,
"id": ..., "error": {"code", "message"}}``. Refused messages are counted; a connection that
keeps flooding is closed. A participant reaches only the people in their own call, and
negotiation messages only between admitted participants.

A dropped socket is not "left the call": the seat waits for the grace period, messages meant
for the participant meanwhile are kept and delivered when they are back. One connection per
participant: a new one (a reload, another tab) replaces the old.

The hub keeps which socket belongs to which participant in this process. Several processes
need Socket.IO's Redis manager and sticky routing per call; the call's state itself lives in
the database (see :mod:`beeldbel.calls.service`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

import socketio
import structlog
from prometheus_client import CollectorRegistry, Counter

from beeldbel.calls import model as protocol
from beeldbel.calls.service import Applied, CallService
from beeldbel.calls.state import (
    Admit,
    Call,
    Connect,
    Disconnect,
    EndForAll,
    Finished,
    Leave,
    Phase,
    ReportPath,
    Seat,
    SeatStatus,
    Tell,
    Tick,
)
from beeldbel.clientfile.model import ConsentTopic
from beeldbel.clock import Clock
from beeldbel.db.engine import Database
from beeldbel.db.repositories.agenda import SqlAgenda
from beeldbel.db.repositories.clients import consent_given
from beeldbel.errors import BeeldbelError, Forbidden, InvalidInput, Unauthenticated
from beeldbel.identity.model import PrincipalKind
from beeldbel.identity.tokens import TokenService
from beeldbel.scheduling.model import Appointment, ParticipantRole
from beeldbel.scheduling.rules import JoinState, join_verdict
from beeldbel.scheduling.service import JOIN_MESSAGES
from beeldbel.settings import Settings
from beeldbel.signaling.quality import FALLBACK_SPECS, START, Emit, QualityDesk, spec_of

__all__ = ["NAMESPACE", "CallHub", "CallNamespace", "IceConfig"]

NAMESPACE: Final = "/call"
RATE_PER_SECOND: Final = 40.0  # a burst of ICE candidates is the busiest moment
BURST: Final = 120.0
STRIKES_BEFORE_CLOSE: Final = 200
PENDING_PER_PARTICIPANT: Final = 200
MAX_TURN_LIFETIME: Final = timedelta(hours=24)

log = structlog.get_logger("beeldbel.signaling")


@dataclass(frozen=True, slots=True)
class Who:
    appointment_id: UUID
    participant_id: UUID
    role: str


@dataclass
class _Bucket:
    tokens: float = BURST
    at: float = field(default_factory=time.monotonic)
    strikes: int = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.at) * RATE_PER_SECOND)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False


@dataclass(frozen=True, slots=True)
class IceConfig:
    stun_urls: tuple[str, ...]
    turn_urls: tuple[str, ...]
    turn_secret: bytes | None
    relay_only_calls: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> IceConfig:
        secret = None
        if settings.turn_secret_file is not None:
            secret = settings.turn_secret_file.read_bytes().strip()
        return cls(
            tuple(settings.stun_urls), tuple(settings.turn_urls), secret, settings.relay_only_calls
        )

    def servers(
        self, participant_id: UUID, appointment: Appointment, now: datetime
    ) -> dict[str, object]:
        """ICE servers for one participant: TURN credentials (coturn's REST scheme) valid
        until the appointment's end plus an hour and never more than 24 h, since coturn
        checks them only when an allocation is made. Relay only when a guest takes part."""
        servers: list[dict[str, object]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        expires = min(appointment.ends_at + timedelta(hours=1), now + MAX_TURN_LIFETIME)
        if self.turn_urls and self.turn_secret:
            username = f"{int(expires.timestamp())}:{participant_id}"
            digest = hmac.new(self.turn_secret, username.encode(), hashlib.sha1).digest()
            servers.append(
                {
                    "urls": list(self.turn_urls),
                    "username": username,
                    "credential": base64.b64encode(digest).decode(),
                }
            )
        guests = any(p.role is ParticipantRole.GUEST for p in appointment.participants)
        return {
            "iceServers": servers,
            "iceTransportPolicy": "relay" if guests or self.relay_only_calls else "all",
            "expiresAt": expires.isoformat(),
        }


class Refused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused connection; the client's ``connect_error`` gets ``{message, data: {code,
    message, details}}``."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message, {"code": code, "message": message, "details": details})
        self.code = code


class CallHub:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        db: Database,
        clock: Clock,
        tokens: TokenService,
        calls: CallService,
        ice: IceConfig,
        registry: CollectorRegistry,
        *,
        quality_control: bool = True,
    ) -> None:
        self._sio = sio
        self._db = db
        self._clock = clock
        self._tokens = tokens
        self._calls = calls
        self._ice = ice
        self._who: dict[str, Who] = {}
        self._sid_of: dict[UUID, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._pending: dict[UUID, deque[tuple[str, dict[str, object]]]] = {}
        self.quality = QualityDesk(clock, enabled=quality_control)
        calls.quality_of = self.quality.summary
        self.rejected = Counter(
            "beeldbel_signaling_rejected",
            "Signaling messages and connections refused, by reason.",
            ["reason"],
            registry=registry,
        )

    # --- connecting ----------------------------------------------------------------------

    async def connect(self, sid: str, auth: object) -> None:
        try:
            who, appointment = await self._admit_connection(auth)
        except Refused:
            self.rejected.labels("connect").inc()
            raise
        try:
            applied = await self._calls.apply(
                who.appointment_id, Connect(who.participant_id, who.role)
            )
        except BeeldbelError as error:
            self.rejected.labels("connect").inc()
            raise Refused(error.code, error.message, **dict(error.details)) from None
        older = self._sid_of.get(who.participant_id)
        self._who[sid] = who
        self._sid_of[who.participant_id] = sid
        self._buckets[sid] = _Bucket()
        await self._sio.enter_room(sid, _call_room(who.appointment_id), namespace=NAMESPACE)
        await self._sio.enter_room(sid, _person_room(who.participant_id), namespace=NAMESPACE)
        if older is not None and older != sid:
            self._who.pop(older, None)
            await self._sio.disconnect(older, namespace=NAMESPACE)
        await self._sio.emit(
            "welcome",
            {
                "participant_id": str(who.participant_id),
                "role": who.role,
                "call": snapshot(applied.call),
                "ice": self._ice.servers(who.participant_id, appointment, self._clock.now()),
                # The mode a sender starts in, before its first report (None: the browsers
                # adapt on their own; the service sets no modes).
                "start_mode": (
                    {"mode": START.value, "spec": spec_of(START), "fallback": FALLBACK_SPECS}
                    if self.quality.enabled
                    else None
                ),
            },
            to=sid,
            namespace=NAMESPACE,
        )
        await self._announce(applied)
        if who.role == ParticipantRole.WORKER.value:
            # Someone was already waiting when this worker came in: ring now, too.
            for waiting in applied.call.waiting():
                await self._deliver(
                    who.participant_id, "cue", {"what": "waiting", "about": str(waiting)}
                )
        for event, payload in self._pending.pop(who.participant_id, deque()):
            await self._sio.emit(event, payload, to=sid, namespace=NAMESPACE)

    async def _admit_connection(self, auth: object) -> tuple[Who, Appointment]:
        if not isinstance(auth, dict):
            raise Refused("unauthenticated", "send appointment_id and a token in auth")
        try:
            appointment_id = UUID(str(auth.get("appointment_id")))
        except ValueError:
            raise Refused("unauthenticated", "send appointment_id and a token in auth") from None
        now = self._clock.now()
        join_token, access_token = auth.get("join_token"), auth.get("access_token")
        async with self._db.transaction(read_only=True) as session:
            try:
                appointment = await SqlAgenda(session).get(appointment_id)
            except BeeldbelError:
                raise Refused("not_found", "no such appointment") from None
            try:
                if isinstance(join_token, str):
                    grant = self._tokens.verify_join(join_token, now)
                    if grant.appointment_id != appointment_id:
                        raise Refused("forbidden", "this join token is for another appointment")
                    participant = appointment.participant(grant.participant_id)
                    if participant is None:
                        raise Refused(
                            "forbidden",
                            "U bent niet (meer) uitgenodigd voor dit gesprek.",
                            reason="removed",
                        )
                elif isinstance(access_token, str):
                    principal = self._tokens.verify(access_token, now)
                    if principal.kind is not PrincipalKind.STAFF or not principal.second_factor:
                        raise Refused("forbidden", "sign in with your second factor first")
                    participant = next(
                        (p for p in appointment.participants if p.subject == principal.subject),
                        None,
                    )
                    if participant is None:
                        raise Refused("forbidden", "you do not take part in this appointment")
                else:
                    raise Refused("unauthenticated", "send a join_token or an access_token")
            except Unauthenticated as error:
                raise Refused(error.code, error.message, **dict(error.details)) from None
            verdict = join_verdict(appointment, participant, now)
            if verdict.state in JOIN_MESSAGES:
                raise Refused("join_refused", JOIN_MESSAGES[verdict.state], reason=verdict.state)
            if verdict.state is JoinState.EARLY:
                raise Refused(
                    "join_refused",
                    "De wachtkamer is nog niet open.",
                    reason="early",
                    opens_at=verdict.opens_at.isoformat(),
                )
            if participant.role is ParticipantRole.GUEST:
                for client_id in appointment.clients():
                    if not await consent_given(session, client_id, ConsentTopic.GUESTS_IN_CALLS):
                        raise Refused(
                            "consent_required",
                            "De cliënt heeft (nog) geen toestemming gegeven voor gasten in "
                            "gesprekken.",
                            reason="consent_required",
                        )
        return Who(appointment_id, participant.id, participant.role.value), appointment

    async def disconnect(self, sid: str) -> None:
        self._buckets.pop(sid, None)
        who = self._who.pop(sid, None)
        if who is None or self._sid_of.get(who.participant_id) != sid:
            return  # replaced by a newer connection, or never admitted
        del self._sid_of[who.participant_id]
        try:
            applied = await self._calls.apply(who.appointment_id, Disconnect(who.participant_id))
        except BeeldbelError:
            return
        await self._announce(applied)

    # --- messages ------------------------------------------------------------------------

    async def message(self, sid: str, event: str, args: tuple[Any, ...]) -> dict[str, object]:
        message_id: object = None
        try:
            who = self._who.get(sid)
            if who is None:
                raise Unauthenticated("connect to a call first")
            bucket = self._buckets.setdefault(sid, _Bucket())
            if not bucket.take():
                self.rejected.labels("rate").inc()
                if bucket.strikes >= STRIKES_BEFORE_CLOSE:
                    await self._sio.disconnect(sid, namespace=NAMESPACE)
                return _refusal(None, "rate_limited", "too many messages; slow down")
            if len(args) != 1:
                raise InvalidInput("a message has one argument", details={"reason": "arguments"})
            payload = args[0]
            if isinstance(payload, dict):
                message_id = payload.get("id")
            if len(json.dumps(payload, default=str)) > protocol.MAX_MESSAGE_BYTES:
                raise InvalidInput("the message is too large", details={"reason": "too_large"})
            decoded = protocol.decode(event, payload)
            extra = await self._handle(who, decoded)
            return {"ok": True, "id": decoded.id, **extra}
        except BeeldbelError as error:
            reason = str(error.details.get("reason", error.code))
            self.rejected.labels(reason).inc()
            return _refusal(message_id, error.code, error.message, reason=reason)
        except Exception:
            log.exception("signaling_message_failed", event=event)
            self.rejected.labels("internal").inc()
            return _refusal(message_id, "internal", "something went wrong on our side")

    async def _handle(self, who: Who, message: protocol.Message) -> dict[str, object]:
        if isinstance(message, protocol.Signal):
            await self._relay(who, message)
            return {}
        if isinstance(message, protocol.Admit):
            await self._apply(who, Admit(who.participant_id, message.participant_id))
        elif isinstance(message, protocol.Leave):
            await self._apply(who, Leave(who.participant_id))
        elif isinstance(message, protocol.End):
            await self._apply(who, EndForAll(who.participant_id))
        elif isinstance(message, protocol.Path):
            await self._apply(who, ReportPath(who.participant_id, message.path))
        elif isinstance(message, protocol.Media):
            call = await self._in_call(who)
            for participant_id in call.in_call():
                await self._deliver(
                    participant_id,
                    "media",
                    {
                        "participant_id": str(who.participant_id),
                        "audio": message.audio,
                        "video": message.video,
                        "screen": message.screen,
                    },
                )
        elif isinstance(message, protocol.Chat):
            call = await self._in_call(who)
            for participant_id in call.in_call():
                await self._deliver(
                    participant_id,
                    "chat",
                    {
                        "from": str(who.participant_id),
                        "text": message.text,
                        "at": self._clock.now().isoformat(),
                    },
                )
        elif isinstance(message, protocol.Stats):
            call = await self._in_call(who)
            await self._emit_all(self.quality.report(call, who.participant_id, who.role, message))
        elif isinstance(message, protocol.QualityControl):
            call = await self._in_call(who)
            await self._emit_all(self.quality.control(call, who.participant_id, who.role, message))
        elif isinstance(message, protocol.Ice):
            async with self._db.transaction(read_only=True) as session:
                appointment = await SqlAgenda(session).get(who.appointment_id)
            return {"ice": self._ice.servers(who.participant_id, appointment, self._clock.now())}
        return {}

    async def _in_call(self, who: Who) -> Call:
        call = await self._calls.state(who.appointment_id)
        seat = call.seat(who.participant_id) if call else None
        if call is None or seat is None or seat.status is not SeatStatus.IN_CALL:
            raise Forbidden(
                "only people in the call may do this", details={"reason": "not_in_call"}
            )
        return call

    async def _relay(self, who: Who, message: protocol.Signal) -> None:
        """Negotiation between two admitted people in one call; kept for an away peer."""
        call = await self._in_call(who)
        target = call.seat(message.to)
        if target is None or target.status not in (SeatStatus.IN_CALL, SeatStatus.AWAY):
            raise Forbidden("that person is not in your call", details={"reason": "not_a_peer"})
        payload: dict[str, object] = {"from": str(who.participant_id)}
        if message.description is not None:
            payload["description"] = message.description.model_dump()
        if message.candidate is not None:
            payload["candidate"] = message.candidate.model_dump()
        await self._deliver(message.to, "signal", payload, away=target.status is SeatStatus.AWAY)

    async def _deliver(
        self, participant_id: UUID, event: str, payload: dict[str, object], *, away: bool = False
    ) -> None:
        """To the participant's room (on whichever process their socket is, through the
        Redis manager); kept here for one who is away (delivered when they are back)."""
        if participant_id in self._sid_of or not away:
            await self._sio.emit(
                event, payload, room=_person_room(participant_id), namespace=NAMESPACE
            )
            return
        pending = self._pending.setdefault(participant_id, deque(maxlen=PENDING_PER_PARTICIPANT))
        pending.append((event, payload))

    async def _emit_all(self, emits: list[Emit]) -> None:
        for participant_id, event, payload in emits:
            await self._deliver(participant_id, event, payload)

    async def _apply(self, who: Who, event: Any) -> None:
        await self._announce(await self._calls.apply(who.appointment_id, event))

    async def _announce(self, applied: Applied) -> None:
        """Everyone in the call sees the new state; hosts get a cue when someone waits."""
        call = applied.call
        room = _call_room(call.appointment_id)
        # People in the call see everyone's seat; those waiting (or away, or gone) see the
        # call's phase and their own seat only: a waiting guest learns nothing of the others.
        full = snapshot(call)
        for seat in call.seats:
            view = full if seat.status is SeatStatus.IN_CALL else snapshot(call, only=seat)
            await self._sio.emit(
                "call", view, room=_person_room(seat.participant_id), namespace=NAMESPACE
            )
        for command in applied.commands:
            if isinstance(command, Tell) and command.cue:
                for host in command.to or ():
                    await self._deliver(
                        host, "cue", {"what": command.what, "about": str(command.about)}
                    )
            elif isinstance(command, Tell) and command.what in ("seat_released", "host_left"):
                await self._sio.emit(
                    "notice",
                    {"what": command.what, "about": str(command.about) if command.about else None},
                    room=room,
                    namespace=NAMESPACE,
                )
            elif isinstance(command, Finished):
                self._pending = {
                    pid: q for pid, q in self._pending.items() if call.seat(pid) is None
                }
                self.quality.forget(call.appointment_id)

    # --- time ----------------------------------------------------------------------------

    async def tick_quality(self) -> None:
        """Time for the quality controllers (at least once a second): silence is noticed."""
        calls = {}
        for appointment_id in self.quality.active():
            call = await self._calls.state(appointment_id)
            if call is None or call.phase is not Phase.LIVE:
                self.quality.forget(appointment_id)
                continue
            calls[appointment_id] = call
        await self._emit_all(self.quality.tick(calls))

    async def tick(self) -> None:
        """Let grace periods run out, and tell the calls what changed."""
        for appointment_id in await self._calls.unfinished():
            try:
                applied = await self._calls.apply(appointment_id, Tick())
            except BeeldbelError:
                continue
            if applied.commands:
                await self._announce(applied)


def snapshot(call: Call, only: Seat | None = None) -> dict[str, object]:
    seats = [only] if only is not None else sorted(call.seats, key=lambda s: str(s.participant_id))
    return {
        "appointment_id": str(call.appointment_id),
        "phase": call.phase.value,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "end_reason": call.end_reason.value if call.end_reason else None,
        "seats": [
            {"participant_id": str(s.participant_id), "role": s.role, "status": s.status.value}
            for s in seats
        ],
    }


def _refusal(message_id: object, code: str, message: str, **details: object) -> dict[str, object]:
    return {
        "ok": False,
        "id": message_id if isinstance(message_id, str) else None,
        "error": {"code": code, "message": message, "details": details},
    }


def _call_room(appointment_id: UUID) -> str:
    return f"call:{appointment_id}"


def _person_room(participant_id: UUID) -> str:
    return f"participant:{participant_id}"


class CallNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Routes every Socket.IO event of ``/call`` through the hub (one place decodes)."""

    def __init__(self, hub: CallHub) -> None:
        super().__init__(NAMESPACE)
        self._hub = hub

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid, _environ, *rest = args
            await self._hub.connect(sid, rest[0] if rest else None)
            return None
        if event == "disconnect":
            await self._hub.disconnect(args[0])
            return None
        sid, *data = args
        return await self._hub.message(sid, event, tuple(data))
