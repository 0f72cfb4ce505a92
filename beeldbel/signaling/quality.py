"""The quality desk: runs the pure quality controller (:mod:`beeldbel.quality.model`) for each
call in this process and says what to tell whom.

Browsers send ``stats``; the desk turns each into a controller :class:`Report` (whose
``received`` part is about the other sender of a 1:1 call), steps the controller and turns its
commands into messages:

* ``mode`` to the sender: the mode to apply, whether it is a probe, and what the mode means
  (video bitrate, picture size, frame rate, still interval, audio bitrate and packet time);
* ``quality`` to everyone in the call: each direction's mode, so the worker's screen shows it,
  and ``hint`` (whose link is weak, an outage, recovered) for the plain-language line;
* ``phone`` to the workers when even audio fails: offer "bel de cliënt".

The controller's clock is the service clock's seconds, so tests move it like any other. The
desk keeps its state in memory, like the hub's sockets: a call's signaling stays on one
process (sticky routing). What a call went through (:func:`summary`) goes into its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

import structlog

from beeldbel.calls import model as protocol
from beeldbel.calls.state import Call
from beeldbel.clock import Clock
from beeldbel.errors import Forbidden
from beeldbel.quality.model import (
    SPECS,
    DataSaver,
    Event,
    FellBack,
    Hint,
    Mode,
    Pin,
    Probe,
    Quality,
    Received,
    RecommendPhone,
    Report,
    SetMode,
    Tick,
    Unpin,
    add_sender,
    cap_kbps,
    new_quality,
    outcome_of,
    step,
)

__all__ = ["FALLBACK_SPECS", "START", "Emit", "QualityDesk", "spec_of"]

log = structlog.get_logger("beeldbel.signaling.quality")

Emit = tuple[UUID, str, dict[str, object]]  # to whom, which event, what
# A new sender sends its voice only until its first report shows the round trip; under
# SLOW_RTT_MS it then starts in `low`. On a weak link the first seconds at full rate would
# fill the queue before any report could say so, and on a 2G-class link any video would
# (see SLOW_RTT_MS); a good link is probed up from `low` within 20 s.
START = Mode.AUDIO
MEASURED_START = Mode.LOW


def spec_of(mode: Mode) -> dict[str, object]:
    spec = SPECS[mode]
    return {
        "video_kbps": spec.video_kbps,
        "width": spec.width,
        "height": spec.height,
        "fps": spec.max_fps,
        "still_every_s": spec.still_every_s,
        "audio_kbps": spec.audio_kbps,
        "ptime_ms": spec.ptime_ms,
        "red": spec.red,
        "max_kbps": cap_kbps(spec.mode),
    }


# The rungs a page may go down to on its own (web/quality.js fallBack), sent with the start.
FALLBACK_SPECS: Final = {mode.value: spec_of(mode) for mode in (Mode.STILLS, Mode.AUDIO)}


@dataclass
class _Desk:
    quality: Quality
    roles: dict[str, str] = field(default_factory=dict)  # sender: role
    fallbacks: int = 0  # browsers that dropped to audio on their own
    phoned: bool = False  # the worker took the advice and phoned


class QualityDesk:
    def __init__(self, clock: Clock, *, enabled: bool = True) -> None:
        self._clock = clock
        self._calls: dict[UUID, _Desk] = {}
        self.enabled = enabled  # off: reports are acknowledged and nothing is decided

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _desk(self, call: Call, sender: str, role: str) -> tuple[_Desk, list[Emit]]:
        """The call's desk, with a link for ``sender``; a new link's first mode is sent."""
        now = self._now()
        desk = self._calls.get(call.appointment_id)
        if desk is None:
            desk = _Desk(new_quality([], now))
            self._calls[call.appointment_id] = desk
        desk.roles[sender] = role
        return desk, self._add(call, desk, sender)

    def _add(self, call: Call, desk: _Desk, sender: str) -> list[Emit]:
        if any(link.sender == sender for link in desk.quality.links):
            return []
        seat = call.seat(UUID(sender))
        if seat is not None:
            desk.roles.setdefault(sender, seat.role)
        now = self._now()
        desk.quality = add_sender(
            desk.quality, sender, now, start=START, measured_start=MEASURED_START
        )
        return self._mode_emits(call, desk, sender, START, "start", probe=False)

    def report(self, call: Call, who: UUID, role: str, stats: protocol.Stats) -> list[Emit]:
        if not self.enabled:
            return []
        sender = str(who)
        desk, emits = self._desk(call, sender, role)
        others = [p for p in call.in_call() if p != who]
        received = None
        if len(others) == 1 and stats.fd is not None:
            received = Received(
                sender=str(others[0]),
                frames_decoded=stats.fd,
                frozen_s=min(stats.frz, stats.i),
                audio_concealed=stats.cc,
                audio_missing=stats.gone,
            )
            emits += self._add(call, desk, str(others[0]))
        if stats.fb:
            # The mode the page went to: stills or audio (anything else reads as audio, the
            # fallback pages have always had).
            fell_to = Mode.STILLS if stats.m == Mode.STILLS.value else Mode.AUDIO
            desk.fallbacks += 1
            emits += self._step(call, desk, FellBack(sender, fell_to))
        report = Report(
            sender=sender,
            interval_s=stats.i,
            available_kbps=stats.bw,
            rtt_ms=stats.rtt,
            loss=stats.loss,
            jitter_ms=stats.jit,
            frames_sent=stats.fs,
            received=received,
            next_s=stats.n,
        )
        return emits + self._step(call, desk, report)

    def control(
        self, call: Call, who: UUID, role: str, message: protocol.QualityControl
    ) -> list[Emit]:
        if not self.enabled:
            return []
        sender = str(who)
        desk, emits = self._desk(call, sender, role)
        if message.pin is not None:
            if role != "worker":
                raise Forbidden("only a worker pins a mode", details={"reason": "not_a_worker"})
            target = message.pin.participant_id
            if target not in call.in_call():
                raise Forbidden("that person is not in your call", details={"reason": "not_a_peer"})
            emits += self._add(call, desk, str(target))
            pin: Event = (
                Unpin(str(target))
                if message.pin.mode is None
                else Pin(str(target), Mode(message.pin.mode))
            )
            emits += self._step(call, desk, pin)
        if message.phoned:
            if role != "worker":
                raise Forbidden("only a worker phones", details={"reason": "not_a_worker"})
            desk.phoned = True
        if message.saver is not None or message.saver_off:
            cap = None if message.saver_off else Mode(message.saver or "hd")
            emits += self._step(call, desk, DataSaver(sender, cap))
        return emits

    def tick(self, calls: dict[UUID, Call]) -> list[Emit]:
        emits: list[Emit] = []
        for appointment_id, desk in list(self._calls.items()):
            call = calls.get(appointment_id)
            if call is None:
                continue
            emits += self._step(call, desk, Tick())
        return emits

    def active(self) -> list[UUID]:
        return list(self._calls)

    def summary(self, appointment_id: UUID) -> dict[str, object] | None:
        """What the call went through, for its outcome: each direction's modes (by role),
        the lowest, probes, and whether phoning was advised."""
        desk = self._calls.get(appointment_id)
        if desk is None:
            return None
        outcome = outcome_of(desk.quality)
        return {
            "directions": [
                {
                    "role": desk.roles.get(link.sender, "unknown"),
                    "participant_id": link.sender,
                    "modes": _distinct([change.mode.value for change in link.modes]),
                    "lowest": link.lowest.value,
                    "probes_ok": link.probes_ok,
                    "probes_failed": link.probes_failed,
                }
                for link in outcome.links
            ],
            "phone_recommended": bool(outcome.phone),
            "phoned": desk.phoned,
            "self_fallbacks": desk.fallbacks,
        }

    def forget(self, appointment_id: UUID) -> None:
        self._calls.pop(appointment_id, None)

    def _mode_emits(
        self, call: Call, desk: _Desk, sender: str, mode: Mode, reason: str, probe: bool
    ) -> list[Emit]:
        """The mode to its sender; each direction's mode to everyone in the call."""
        log.info(
            "quality_mode",
            appointment_id=str(call.appointment_id),
            role=desk.roles.get(sender),
            mode=mode.value,
            reason=reason,
            probe=probe,
        )
        emits: list[Emit] = [
            (
                UUID(sender),
                "mode",
                {
                    "participant_id": sender,
                    "mode": mode.value,
                    "reason": reason,
                    "probe": probe,
                    "spec": spec_of(mode),
                },
            )
        ]
        pinned = desk.quality.link(sender).pin is not None
        for person in call.in_call():
            emits.append(
                (
                    person,
                    "quality",
                    {
                        "participant_id": sender,
                        "mode": mode.value,
                        "probe": probe,
                        "pinned": pinned,
                    },
                )
            )
        return emits

    def _step(self, call: Call, desk: _Desk, event: Event) -> list[Emit]:
        desk.quality, commands = step(desk.quality, event, self._now())
        emits: list[Emit] = []
        everyone = list(call.in_call())
        workers = [s.participant_id for s in call.seats if s.role == "worker"]
        for command in commands:
            if isinstance(command, SetMode | Probe):
                probe = isinstance(command, Probe)
                reason = "probe" if probe else command.reason.value  # type: ignore[union-attr]
                emits += self._mode_emits(call, desk, command.sender, command.mode, reason, probe)
            elif isinstance(command, Hint):
                for person in everyone:
                    emits.append(
                        (person, "hint", {"about": command.sender, "reason": command.reason.value})
                    )
            elif isinstance(command, RecommendPhone):
                for worker in workers:
                    emits.append(
                        (worker, "phone", {"about": command.sender, "reason": command.reason.value})
                    )
        return emits


def _distinct(modes: list[str]) -> list[str]:
    """Consecutive repeats out: the way down and up, as it went."""
    out: list[str] = []
    for mode in modes:
        if not out or out[-1] != mode:
            out.append(mode)
    return out
