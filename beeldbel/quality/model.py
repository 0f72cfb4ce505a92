"""The fallback ladder: the slow outer loop that sets a mode per sending direction. Pure.

Every browser in a call sends a compact :class:`Report` now and then (every 1 to 2 s on a
good link, every 4 s on a weak one): what it measured about what it *sends* (the
bandwidth estimate, round trip, loss and jitter the far end reported, frames sent) and
about what it *receives* (:class:`Received`: frames decoded, frozen time, concealed
audio). The browser's own congestion control stays the fast inner loop; this controller
only picks a rung of the ladder for each sending direction (a *link*, named by its
sender):

``hd`` → ``sd`` → ``low`` → ``stills`` → ``audio``   (:data:`SPECS` says what each costs)

and, when even ``audio`` fails, recommends phoning the client (``phone`` is advice for the
whole call, not a mode). :func:`step` takes the state, one event and ``now`` (seconds on
a monotonic clock) and returns the new state and the commands for the adapter; nothing
here does I/O or reads a clock. The adapter sends a :class:`Tick` at least once a second
so that silence (no reports) is noticed.

The rules, with the constants that carry them:

* **Down quickly.** A report whose estimate is far below what the mode needs (under
  :data:`SEVERE_FRACTION` of :attr:`ModeSpec.need_kbps`), or audio that stops arriving,
  steps down at once, several rungs if the estimate says so, whatever the hold. Heavy
  loss (:data:`HEAVY_LOSS`) and audio breaking up beside moving video
  (:data:`AUDIO_BROKEN`; down to ``stills`` at most, where a picture now and then no longer
  competes with the voice) step down once they have lasted :data:`SUSTAIN_S` of reported
  time, whatever the hold; a quarter of the voice missing in one report
  (:data:`AUDIO_COLLAPSED`) at once. Milder trouble
  (an estimate under :data:`SHORT_FRACTION` of the need, where video moves only while the
  link shows it too: see below; loss above :data:`RANDOM_LOSS`
  with a rising round trip, moving video with loss above :data:`LOSSY`, audio concealed
  above :data:`AUDIO_HURT` or video the far side does not show) steps down once it has
  lasted :data:`SUSTAIN_S` and the mode has held for :data:`HOLD_S`. The estimate is
  trusted downwards: it only falls below what is sent when the link pushes back.
* **A little short is the browser's business.** Where video moves, the browser adapts its
  rate within the mode by itself: an estimate short of the need but not far below it
  (between :data:`SEVERE_FRACTION` and :data:`SHORT_FRACTION`) is trouble only while the
  link shows it too (loss above :data:`RANDOM_LOSS` or a rising round trip). Measured on the
  emulator's rural link: after a probe's losses Chrome's estimate sat at 65-70 kbit/s for
  minutes while the sender, in sd, sent about that much without loss or queue and the far
  side showed 9-11 fps; judged on that estimate alone the link went down to low, then
  stills.
* **Random loss is not congestion.** Loss of :data:`RANDOM_LOSS` or less is ignored, and
  so is loss up to :data:`LOSSY` while the round trip does not rise (FEC and
  retransmission carry it). Loss and concealed audio are judged on their mean over the
  reports of the last :data:`SMOOTH_S`, so one burst in a short report is not a trend.
* **Up slowly, only through a probe.** A sender that sends less than it could learns
  little about the link, so its estimate never raises the mode. After :data:`HOLD_S` in a
  mode and :data:`CLEAN_BEFORE_PROBE_S` of clean reports the controller sends
  :class:`Probe`: the browser tries one rung up. Reports that arrive from
  :data:`PROBE_SETTLE_S` into the probe judge it; a rising round trip, loss above both
  :data:`LOSSY` and the recent mean plus :data:`PROBE_LOSS_RISE`, breaking audio,
  stalling video or any other trouble roll it back at once (``SetMode`` with the old
  mode), and what the probe itself caused never steps the committed mode down (only an
  estimate far below even the old mode's need does, at once). A report
  at or after :data:`PROBE_S` with none of that, and an estimate that covers the new
  mode's whole need (:data:`PROBE_PASS_FRACTION`; the sender now sends at that mode, so
  its estimate means something), commits it (``SetMode`` with reason ``probe_ok``); a
  clean probe whose estimate is still climbing towards the need (by :data:`PROBE_CLIMB`
  since it began) runs on up to :data:`PROBE_MAX_S`. Going
  up needs the whole need and going down a shortfall below :data:`SHORT_FRACTION` of it:
  an estimate sitting on a boundary does not flap. No report by
  :data:`PROBE_S` + :data:`PROBE_WAIT_S` is a failure too. Failed probes back off
  (:data:`PROBE_BACKOFF_S`, doubling up to :data:`PROBE_BACKOFF_MAX_S`); the count
  starts again once a rung reached by a probe has held :data:`SETTLED_S`, but not for a
  probe whose estimate never reached :data:`SEVERE_FRACTION` of the new rung's need (nor
  for one that ended before a report of its own). Such a hopeless probe is not tried again
  for :data:`PROBE_BACKOFF_MAX_S` unless the estimate climbs above its peak (by
  :data:`PROBE_CLIMB`) or an outage comes between (:func:`_hopeless_again`). In a
  1:1 call neither link probes while the other shows trouble: both cross the same access
  networks.
* **At most one change per** :data:`HOLD_S` on a steady link: only a severe or urgent
  step-down, an outage, a data-saver cap or the worker's pin may come sooner; a step up
  never does (a probe starts :data:`HOLD_S` after the last change at the earliest).
* **Start.** Links start in ``sd`` (:func:`new_quality`): a weak link drops at its first
  report, a good one reaches ``hd`` through its first probe. With ``measured_start`` a
  link starts in a cheap mode (the service starts in ``audio``: no load but the voice)
  and its first report that carries a round trip picks the start: ``measured_start`` if
  the round trip is under :data:`EDGE_RTT_MS`, one rung below it under
  :data:`SLOW_RTT_MS`, else it stays. That choice is the start, not a step up; every
  later step up is a probe.
* **Long round trips.** A round trip of :data:`SLOW_RTT_MS` or more (a 2G/EDGE-class
  link, or a queue that long) is no place for pictures. The browser's congestion control
  answers too late there to keep video from queueing ahead of the voice, and with any video
  sender active it probes the link with bursts of padding (measured on the emulator's worst
  profile, 32 kbit/s up: even ``stills`` brought queues of 1-2 s every 20-40 s); each such
  queue makes the far side's jitter buffer grow for tens of seconds. A link not in
  ``audio`` steps down once such a round trip lasts :data:`SUSTAIN_S` (whatever the hold):
  to ``audio`` when even its shortest recent round trip is that long (the link itself is
  that slow), one rung otherwise (a queue on a faster link, which drains), but stills stay
  until every round trip of the last :data:`SLOW_CONFIRM_S` was that long (or at once where
  a probe reached them less than that long ago: :func:`_probed_lately`). A round trip
  :data:`FLOOD_MS` or more above the recent minimum (and that long) is a queue of seconds: the
  link has fallen under what is sent, and any rung goes to ``audio`` at once; in a 1:1 call
  the round trip is the path's, so one the other side reported counts too. No probe starts
  while the round trip is that long. A round trip standing :data:`QUEUE_MS` above the
  recent minimum with moving video is mild trouble even without loss: a queue that long is
  delay the voice waits in.
* **Stills spare the voice.** A picture every few seconds hardly competes with the voice,
  so queues and congestion (loss with a rising round trip) do not take a link from
  ``stills`` to ``audio``: that takes an estimate short of what stills need, heavy loss, a
  2G-class link or a queue that stands (above). Measured on the emulator's edge profile,
  stepping from stills to audio on a queue cost a 20 s picture gap for no better voice.
* **A probe's aftermath.** A probe that congested the link (loss or round trip rose)
  knocks the browser's estimate down with its own losses; for :data:`PROBE_AFTERMATH_S`
  after it the estimate does not judge the committed mode (loss, round trip and
  concealment still do) unless the round trip shows a queue: then the link may have fallen
  meanwhile, and the estimate is believed. A probe that failed only because the estimate
  did not cover the new mode leaves the estimate trusted: far below even the committed
  mode, it steps down at once.
* **The far side's voice gone.** In a 1:1 call both links cross both access networks. When
  this link's sender hears almost none of the far side's voice (:data:`MEDIA_GONE`
  concealed), the far side's link has failed or flooded, and this link goes through it too:
  ``audio`` at once (``far_voice``), with no hint about this sender's connection (where the
  far side sends a still now and then or the voice alone, only once more than a burst shows
  it: see :func:`_media_gone`; the same holds for a link's own voice going missing). The far
  side's own reports cross that failing link and come late; this sender's come over its
  own. Nor is it set aside after this link's failed probe, which did not cause it. A
  quarter of it missing (:data:`AUDIO_COLLAPSED`) beside the far side's moving video, and
  no probe of the far side's to explain it, takes this link's moving video to ``stills``
  with the far side's (:func:`_far_voice_fell`).
  Measured on the bench's schedule (rural to worst, the client's signaling on the
  emulated link too): the worker heard 0-20 % of the client's voice 1-2 s after the fall,
  and its video (sd, 100 kbit/s into the client's 64) went on for 5 s more, until a round
  trip of seconds came through; the client then heard the worker 2 s late.
* **A page's own fallback.** A page whose signaling hangs or queues for seconds while its
  media is degraded goes to ``audio`` on its own and says so (``fb``) when a report gets
  through: the link is then committed to ``audio`` (``fell_back``), and pictures come back
  through probes. A page that hears a quarter of the far side's voice go missing beside its
  own moving video, with no probe of the far side's to explain it, goes to ``stills`` on its
  own the same way (:class:`FellBack` carries the mode; it only ever takes a link down).
* **Outage.** No report for :data:`OUTAGE_AFTER_S` (or 1.6 report intervals when they
  come rarely, or when the last report said the next comes that late;
  :data:`FIRST_REPORT_GRACE_S` before the first one), or nearly all audio concealed at the
  far end: ``audio`` at once and an ``outage`` hint. Reports coming back
  give a ``recovered`` hint; audio flows at once, pictures come back only through probes.
* **Phone.** Only a link already in ``audio`` whose audio keeps failing (an outage, or
  concealment of :data:`AUDIO_FAILING` or more) for :data:`PHONE_AFTER_S` makes the
  controller recommend phoning, once per stay in ``audio``.
* **Pin and data saver.** The worker may pin a link's mode: the controller then changes
  nothing on that link (not even for an outage: the worker chose) until it is unpinned,
  but still sends hints and may still recommend phoning if the pin is ``audio``. A
  data-saver cap is the highest mode a link may use; it wins over a pin above it.
* **History.** Every committed mode of a link, with time and reason, is kept in
  :attr:`Link.history`; :func:`outcome_of` gives it to the call outcome.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from beeldbel.errors import InvalidInput, NotFound

__all__ = [
    "CLEAN_BEFORE_PROBE_S",
    "EDGE_RTT_MS",
    "FIRST_REPORT_GRACE_S",
    "FLOOD_MS",
    "HOLD_S",
    "LADDER",
    "OUTAGE_AFTER_S",
    "PHONE_AFTER_S",
    "PROBE_AFTERMATH_S",
    "PROBE_CLIMB",
    "PROBE_MAX_S",
    "PROBE_S",
    "PROBE_SETTLE_S",
    "PROBE_WAIT_S",
    "QUEUE_MS",
    "SEVERE_FRACTION",
    "SLOW_CONFIRM_S",
    "SLOW_RTT_MS",
    "SPECS",
    "SUSTAIN_S",
    "Command",
    "Condition",
    "Coverage",
    "DataSaver",
    "Event",
    "FellBack",
    "Hint",
    "Link",
    "LinkOutcome",
    "Mode",
    "ModeChange",
    "ModeSpec",
    "PhoneAdvice",
    "Pin",
    "Probe",
    "Quality",
    "QualityOutcome",
    "Reason",
    "Received",
    "RecommendPhone",
    "Report",
    "Sample",
    "SetMode",
    "Tick",
    "Trial",
    "Unpin",
    "add_sender",
    "cap_kbps",
    "fitting_mode",
    "new_quality",
    "outcome_of",
    "rank",
    "step",
]


class Mode(StrEnum):
    HD = "hd"
    SD = "sd"
    LOW = "low"
    STILLS = "stills"
    AUDIO = "audio"


LADDER: Final = (Mode.AUDIO, Mode.STILLS, Mode.LOW, Mode.SD, Mode.HD)  # worst first


def rank(mode: Mode) -> int:
    """The mode's rung: 0 for ``audio`` up to 4 for ``hd``."""
    return LADDER.index(mode)


def _down(mode: Mode) -> Mode:
    return LADDER[max(rank(mode) - 1, 0)]


def _up(mode: Mode) -> Mode | None:
    return LADDER[rank(mode) + 1] if mode is not Mode.HD else None


def _lowest(*modes: Mode) -> Mode:
    return min(modes, key=rank)


# IPv4 + UDP + RTP + SRTP tag: what every audio packet costs on top of its payload.
PACKET_OVERHEAD_BYTES: Final = 50
HEADROOM: Final = 1.15  # a mode's need is its wire rate plus 15 %


@dataclass(frozen=True, slots=True)
class ModeSpec:
    """What a sender does in a mode, and the estimate the mode needs.

    ``video_kbps`` is the video ``maxBitrate`` (0: video stopped); ``width`` x ``height``
    the largest picture (``scaleResolutionDownBy`` from the camera's), ``max_fps`` its
    ``maxFramerate`` (0 for stills and audio). ``still_every_s``: in ``stills`` a fresh
    picture this often. Audio is Opus at ``audio_kbps`` in ``ptime_ms`` packets: 60 ms on
    the weak rungs (``sd`` and below), where 20 ms headers alone would cost 20 kbit/s.
    With ``red`` every packet also carries the one before it (RFC 2198, Chrome's
    ``audio/red``), so a single lost packet is not heard: Opus's own in-band FEC is no
    help at these rates (libopus adds it only above about 21 kbit/s at wideband, and only
    in its speech modes), and on the emulator's rural 2 % loss was concealed whole. Where
    video moves there is room for it; on the thinnest rungs there is not. ``need_kbps``
    (the wire rate plus :data:`HEADROOM`, rounded) is the bandwidth estimate at which the
    mode is comfortable.
    """

    mode: Mode
    need_kbps: float
    video_kbps: float
    width: int
    height: int
    max_fps: float
    still_every_s: float | None
    audio_kbps: float
    ptime_ms: int
    red: bool = False

    @property
    def audio_wire_kbps(self) -> float:
        """Audio as it crosses the link: payload (twice, with RED) plus packet headers."""
        payload = self.audio_kbps * (2 if self.red else 1)
        return payload + PACKET_OVERHEAD_BYTES * 8 / self.ptime_ms

    @property
    def moving_video(self) -> bool:
        return self.max_fps > 0


SPECS: Final[dict[Mode, ModeSpec]] = {
    # 500 + 2 x 32 + 20 headers = 584 kbit/s on the wire
    Mode.HD: ModeSpec(Mode.HD, 672, 500, 640, 480, 25, None, 32, 20, red=True),
    # 56 + 2 x 16 + 6.7 = 95: moving video above 10 fps on a rural uplink of 128 kbit/s
    Mode.SD: ModeSpec(Mode.SD, 109, 56, 320, 240, 15, None, 16, 60, red=True),
    # 32 + 2 x 16 + 6.7 = 71: fits a weak uplink of ~100 kbit/s (2G/EDGE-class at its best);
    # the encoder may go down to 160x120 at 5 fps on its own
    Mode.LOW: ModeSpec(Mode.LOW, 81, 32, 320, 180, 10, None, 16, 60, red=True),
    # a ~4 kB picture every 3 s (11 kbit/s) + 16 + 6.7 = 34
    Mode.STILLS: ModeSpec(Mode.STILLS, 40, 12, 320, 240, 0, 3.0, 16, 60),
    # 16 + 6.7 = 23
    Mode.AUDIO: ModeSpec(Mode.AUDIO, 26, 0, 0, 0, 0, None, 16, 60),
}


def cap_kbps(mode: Mode) -> float | None:
    """The most the browser's congestion control may estimate in ``mode`` (None: no cap).

    On the rungs without moving video, the need: a browser that sends less than it may pads
    up towards its estimate now and then, and on a thin link that padding queues ahead of
    the voice. Where video moves there is no cap: the estimate must be free to show more
    than the mode sends (a probe is judged on it), and measured on the emulator's rural link
    a cap at the next rung's need let ordinary dips of the estimate on a 384 kbit/s link
    read as a weak link. A probe raises the cap with the mode it tries.
    """
    spec = SPECS[mode]
    return None if spec.moving_video else spec.need_kbps


HOLD_S: Final = 15.0  # at most one change per this on a steady link
SUSTAIN_S: Final = 3.0  # reported time mild trouble must last before a step down
SEVERE_FRACTION: Final = 0.6  # estimate below this share of the need: down at once
SHORT_FRACTION: Final = 0.85  # estimate below this share of the need: trouble
RANDOM_LOSS: Final = 0.03  # this much loss without a rising round trip is no congestion
LOSSY: Final = 0.10  # more than this is too much for moving video, rising delay or not
HEAVY_LOSS: Final = 0.25  # at least this: one rung down at once
SLOW_RTT_MS: Final = 650.0  # a round trip this long carries the voice only
# A first round trip this long (EDGE-class) starts a rung lower: nothing is known of the
# link's capacity yet, and the browser's start-up probing on top of moving video overran the
# emulator's edge uplink (100 kbit/s) for seconds (measured: 92-133 kbit/s sent in `low`).
EDGE_RTT_MS: Final = 400.0
# In stills a round trip of SLOW_RTT_MS on a faster link costs the picture only once it has
# lasted this long: a still now and then hardly competes with the voice, and a queue drains.
SLOW_CONFIRM_S: Final = 10.0
QUEUE_MS: Final = 300.0  # a round trip this far above the recent minimum: a standing queue
# A round trip this far above the recent minimum (and SLOW_RTT_MS long): a queue of seconds,
# the link fallen under what is sent. Voice only, at once. Measured on the bench's schedule,
# rural to worst (32 kbit/s up): the round trip rose from 300 ms to 3.5 s, and in stills (35
# kbit/s with the voice) the queue stood until the link went to audio 14 s after the fall.
FLOOD_MS: Final = 1000.0
RTT_RISE_MS: Final = 100.0  # a round trip this far above the recent minimum is rising...
RTT_RISE_FRACTION: Final = 0.5  # ...or this share of it, or twice the jitter, if larger
RTT_WINDOW_S: Final = 30.0  # the recent minimum round trip and mean loss are taken over this
SMOOTH_S: Final = 6.0  # loss and concealment are judged on their mean over this
# Concealed share of audio that is trouble with moving video. Random loss of 2-3 % alone
# conceals about as much even with FEC (measured on the emulator's rural and edge), and
# dropping video does not mend loss the link makes anyway.
AUDIO_HURT: Final = 0.05
AUDIO_BROKEN: Final = 0.10  # concealed share that steps moving video down (to stills at most)
AUDIO_FAILING: Final = 0.20  # concealed share that counts as audio failing
# Concealed share in one report that steps moving video down at once, not after SUSTAIN_S: a
# quarter of the voice missing is no burst of random loss but a link that has fallen under
# what is sent, and each second it waits is seconds of queue (measured on the bench's
# schedule, rural to worst, the client in sd: the worker's first report after the fall read
# 0.3, the step came 2.5 s later on the sustain rule, with the client sending 100 kbit/s into
# 32 meanwhile, and the queue then held the voice 3-4 s)
AUDIO_COLLAPSED: Final = 0.25
MEDIA_GONE: Final = 0.5  # concealed share that means the media is not arriving at all
STARVED_FRACTION: Final = 0.5  # far side decodes less than this share of frames sent
FROZEN_FRACTION: Final = 0.3  # share of the interval the far side's picture was frozen
OUTAGE_AFTER_S: Final = 5.0  # no report for this long (at least) is an outage
FIRST_REPORT_GRACE_S: Final = 15.0  # ...but before the first report, this long
LATE_FACTOR: Final = 1.6  # ...or for this many report intervals, when they come rarely
DEFAULT_INTERVAL_S: Final = 2.0  # expected report interval before the first report
CLEAN_BEFORE_PROBE_S: Final = 5.0  # clean reported time before a probe
PROBE_S: Final = 5.0  # how long a probe runs before it can be committed
PROBE_SETTLE_S: Final = 1.0  # reports earlier in a probe mostly describe the old mode
PROBE_WAIT_S: Final = 6.0  # past PROBE_S without a report: the probe failed
PROBE_PASS_FRACTION: Final = 1.0  # a probe commits if the estimate covers this much need
# A clean probe whose estimate has climbed by this factor since it began, but not yet to the
# need, runs on up to PROBE_MAX_S: the browser raises its estimate by some 8 % a second
# while it sends at it, so from a low start (measured on the emulator's rural uplink: 60
# kbit/s, with sd needing 109) five seconds are not enough, and the estimate went on
# climbing after the probe had been rolled back.
PROBE_CLIMB: Final = 1.15
PROBE_MAX_S: Final = 12.0
PROBE_LOSS_RISE: Final = 0.03  # loss this much above the recent mean (and above LOSSY)...
PROBE_RTT_FRACTION: Final = 0.25  # a probe fails on a rise of this share (or RTT_RISE_MS)
# After a failed probe the browser's estimate is knocked down by the probe's own losses (its
# loss-based part halves it and climbs back at ~8 % a second): for this long it says nothing
# about the committed mode. Measured on the emulator's rural link: a probe from sd into hd
# left an estimate of 65 kbit/s (sd sends ~95), and judged on it the link fell to stills and
# spent 100 s there. Loss, round trip and concealment still count.
PROBE_AFTERMATH_S: Final = 8.0
PROBE_BACKOFF_S: Final = 15.0  # wait after a failed probe, doubling each time...
PROBE_BACKOFF_MAX_S: Final = 120.0  # ...up to this
SETTLED_S: Final = 60.0  # a rung held this long was no fluke: failed probes count afresh
PHONE_AFTER_S: Final = 15.0  # audio failing this long in audio: recommend phoning
CALM_S: Final = 10.0  # clean reported time after which a weak link has recovered

# How bad trouble is: MILD steps down once sustained and held, URGENT once sustained
# whatever the hold, SEVERE at once.
MILD: Final = 1
URGENT: Final = 2
SEVERE: Final = 3


class Reason(StrEnum):
    """Why a mode changed, a hint was given or phoning is advised (plain codes for the UI)."""

    START = "start"
    WEAK_UPLINK = "weak_uplink"  # the estimate does not cover the mode
    CONGESTION = "congestion"  # loss with a rising round trip
    HEAVY_LOSS = "heavy_loss"
    VIDEO_STALLED = "video_stalled"  # the far side decodes few of the frames sent
    AUDIO_FIRST = "audio_first"  # audio breaks up: video makes way
    OUTAGE = "outage"
    RECOVERED = "recovered"
    PROBE_OK = "probe_ok"
    PROBE_FAILED = "probe_failed"
    PINNED = "pinned"
    DATA_SAVER = "data_saver"
    AUDIO_FAILING = "audio_failing"
    FELL_BACK = "fell_back"  # the page went down on its own (to audio or stills)
    FAR_VOICE = "far_voice"  # the far side's voice does not arrive: its link has failed


class Condition(StrEnum):
    """What the hints last told both sides about a link."""

    OK = "ok"
    WEAK = "weak"
    OUTAGE = "outage"


# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    """What a browser measured, over its report's interval, of the media from ``sender``."""

    sender: str
    frames_decoded: int = 0
    frozen_s: float = 0.0  # total freeze duration (webrtc-stats) in the interval
    audio_concealed: float = 0.0  # share of samples concealed, silence not counted
    # ... and the share that did not arrive: all concealment, silent included (a long gap
    # fades to silence, so ``audio_concealed`` hardly sees voice that stopped coming)
    audio_missing: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.audio_concealed <= 1.0:
            raise InvalidInput("concealment is a share", details={"field": "audio_concealed"})
        if not 0.0 <= self.audio_missing <= 1.0:
            raise InvalidInput("concealment is a share", details={"field": "audio_missing"})
        if self.frames_decoded < 0 or self.frozen_s < 0:
            raise InvalidInput("counts are not negative", details={"field": "frames_decoded"})


@dataclass(frozen=True, slots=True)
class Report:
    """One browser's compact report over the last ``interval_s`` seconds.

    The sending fields describe the link of ``sender`` (the reporting browser):
    ``available_kbps`` is its outgoing bandwidth estimate (None where the browser has
    none), ``rtt_ms``, ``loss`` (a share) and ``jitter_ms`` come from the far end's
    receiver reports. ``received`` describes the media it receives from the far sender.
    ``next_s``: when the browser will send its next report, if it says.
    """

    sender: str
    interval_s: float
    available_kbps: float | None = None
    rtt_ms: float | None = None
    loss: float = 0.0
    jitter_ms: float = 0.0
    frames_sent: int = 0
    received: Received | None = None
    next_s: float | None = None

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise InvalidInput("a report covers some time", details={"field": "interval_s"})
        if self.next_s is not None and self.next_s <= 0:
            raise InvalidInput("the next report comes later", details={"field": "next_s"})
        for name in ("available_kbps", "rtt_ms", "jitter_ms", "frames_sent"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput("measurements are not negative", details={"field": name})
        if not 0.0 <= self.loss <= 1.0:
            raise InvalidInput("loss is a share", details={"field": "loss"})
        if self.received is not None and self.received.sender == self.sender:
            raise InvalidInput("a browser receives from the other", details={"field": "sender"})


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (at least once a second): silence and timers are noticed."""


@dataclass(frozen=True, slots=True)
class Pin:
    """The worker fixes ``sender``'s mode (capped by the data saver) until :class:`Unpin`."""

    sender: str
    mode: Mode


@dataclass(frozen=True, slots=True)
class Unpin:
    sender: str


@dataclass(frozen=True, slots=True)
class DataSaver:
    """``sender`` may use at most ``cap`` (None: no cap)."""

    sender: str
    cap: Mode | None


@dataclass(frozen=True, slots=True)
class FellBack:
    """``sender``'s page went down to ``mode`` on its own: to ``audio`` when its signaling
    hung or queued, to ``stills`` when it heard a quarter of the far side's voice go missing
    beside its own moving video (its access network fell, and the server's word would wait
    in the very queue its video fills)."""

    sender: str
    mode: Mode = Mode.AUDIO


Event = Report | Tick | Pin | Unpin | DataSaver | FellBack


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetMode:
    """Apply ``mode`` to ``sender``'s outgoing media (commits or rolls back a probe)."""

    sender: str
    mode: Mode
    reason: Reason


@dataclass(frozen=True, slots=True)
class Probe:
    """Try ``mode`` (one rung up) until a :class:`SetMode` commits or rolls it back."""

    sender: str
    mode: Mode


@dataclass(frozen=True, slots=True)
class Hint:
    """Tell both sides how ``sender``'s link is.

    ``weak_uplink`` when trouble has lasted :data:`SUSTAIN_S` or forced a step down,
    ``outage`` when reports stop, ``recovered`` when they come back or after
    :data:`CALM_S` of clean reports following ``weak_uplink``. The mode itself comes with
    :class:`SetMode`; the words are the UI's.
    """

    sender: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class RecommendPhone:
    """Even audio fails on ``sender``'s link: offer the worker "bel de cliënt"."""

    sender: str
    reason: Reason


Command = SetMode | Probe | Hint | RecommendPhone


# --- state ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModeChange:
    at: float
    mode: Mode
    reason: Reason


@dataclass(frozen=True, slots=True)
class Trial:
    """A probe in progress: ``mode`` is being tried since ``started_at``."""

    mode: Mode
    started_at: float
    loss_before: float  # the mean loss over the last RTT_WINDOW_S
    rtt_before: float | None
    evidence: int = 0  # reports from after the settling time
    available_before: float | None = None  # the estimate when it began
    available_peak: float | None = None  # the highest estimate reported since


@dataclass(frozen=True, slots=True)
class Hopeless:
    """A probe into ``mode`` whose estimate peaked at ``peak_kbps``, far below its need."""

    mode: Mode
    peak_kbps: float
    at: float


@dataclass(frozen=True, slots=True)
class Sample:
    """One report's number: taken in ``at``, covering the ``interval_s`` before it."""

    at: float
    interval_s: float
    value: float
    rtt_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """Reported time from ``start`` to ``end`` (the reports' own intervals, not ticks)."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class PhoneAdvice:
    at: float
    sender: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Link:
    """One sending direction: its committed mode and what the controller knows of it."""

    sender: str
    mode: Mode
    since: float  # when the committed mode last changed
    heard_at: float  # the last report from the sender (or when the link began)
    history: tuple[ModeChange, ...]
    cap: Mode = Mode.HD
    pin: Mode | None = None
    trial: Trial | None = None
    next_probe_at: float = 0.0
    failed_probes: int = 0
    probes_ok: int = 0
    probes_failed: int = 0
    interval_s: float = DEFAULT_INTERVAL_S  # how far apart the sender's reports come
    last: Report | None = None
    received: Received | None = None
    received_at: float | None = None
    received_interval_s: float = DEFAULT_INTERVAL_S
    sent: tuple[Sample, ...] = ()  # the sender's recent reports: value is the loss
    heard: tuple[Sample, ...] = ()  # the far side's: value is the concealed share of audio
    applied_at: float = 0.0  # when the sender began doing what it does now
    ignore_until: float = 0.0  # reports taken in until then show a rolled-back probe
    send_trouble: Coverage | None = None  # reported time the sending side showed trouble
    recv_trouble: Coverage | None = None  # ...and the receiving side
    clean_since: float | None = None
    condition: Condition = Condition.OK
    failing_since: float | None = None
    phoned: bool = False
    start_when_measured: Mode | None = None  # the start a short first round trip picks
    loss_ignored_until: float = 0.0  # loss reported until then is a rolled-back probe's
    estimate_ignored_until: float = 0.0  # ...and an estimate it knocked down
    path: Sample | None = None  # the latest round trip the other side of a 1:1 call reported
    far_voice: Sample | None = None  # ...and the share of its voice this sender's page concealed
    far_voice_confirmed: bool = False  # ...of which more than a burst could explain
    far_voice_fell: bool = False  # ...beside the far side's moving video, outside its probes
    gone_before: Sample | None = None  # the report before ``received``: the share gone
    hopeless: Hopeless | None = None  # the last probe that never came near its rung's need

    @property
    def trouble_since(self) -> float | None:
        spans = [c.start for c in (self.send_trouble, self.recv_trouble) if c is not None]
        return min(spans, default=None)

    @property
    def sustained(self) -> bool:
        """Trouble has lasted :data:`SUSTAIN_S` of reported time on one side."""
        return any(
            c.end - c.start >= SUSTAIN_S - 1e-9
            for c in (self.send_trouble, self.recv_trouble)
            if c is not None
        )

    @property
    def applied(self) -> Mode:
        """What the sender is doing now: the probed mode during a probe."""
        return self.trial.mode if self.trial is not None else self.mode

    @property
    def ceiling(self) -> Mode:
        return self.cap if self.pin is None else _lowest(self.pin, self.cap)


@dataclass(frozen=True, slots=True)
class Quality:
    links: tuple[Link, ...]
    phone: tuple[PhoneAdvice, ...] = ()
    version: int = 1

    def link(self, sender: str) -> Link:
        for link in self.links:
            if link.sender == sender:
                return link
        raise NotFound("no such sender in this call", details={"sender": sender})

    def _with(self, link: Link) -> Quality:
        return replace(
            self, links=tuple(link if x.sender == link.sender else x for x in self.links)
        )


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    sender: str
    modes: tuple[ModeChange, ...]
    lowest: Mode
    probes_ok: int
    probes_failed: int


@dataclass(frozen=True, slots=True)
class QualityOutcome:
    """What the call outcome records: the modes each link went through, phone advice."""

    links: tuple[LinkOutcome, ...]
    phone: tuple[PhoneAdvice, ...]


# --- the controller -------------------------------------------------------------------------


def new_quality(
    senders: Iterable[str],
    now: float,
    *,
    start: Mode = Mode.SD,
    caps: Mapping[str, Mode] | None = None,
    measured_start: Mode | None = None,
) -> Quality:
    """A controller for the links of ``senders``, from when their media starts.

    Links start in ``start`` (default ``sd``: a good link reaches ``hd`` by its first
    probe, a weak one drops at its first report), capped by ``caps``. With
    ``measured_start``, a link's first report with a round trip under
    :data:`EDGE_RTT_MS` moves it from ``start`` to ``measured_start`` (capped), one under
    :data:`SLOW_RTT_MS` to the rung below that (if above ``start``).
    """
    links = []
    for sender in senders:
        cap = (caps or {}).get(sender, Mode.HD)
        mode = _lowest(start, cap)
        history = (ModeChange(now, mode, Reason.START),)
        later = None
        if measured_start is not None and rank(_lowest(measured_start, cap)) > rank(mode):
            later = _lowest(measured_start, cap)
        links.append(
            Link(sender, mode, now, now, history, cap, applied_at=now, start_when_measured=later)
        )
    if len({link.sender for link in links}) != len(links):
        raise InvalidInput("each sender once", details={"field": "senders"})
    return Quality(tuple(links))


def add_sender(
    quality: Quality,
    sender: str,
    now: float,
    *,
    start: Mode = Mode.SD,
    cap: Mode | None = None,
    measured_start: Mode | None = None,
) -> Quality:
    """The controller with a link for ``sender`` too (someone whose media starts later);
    unchanged if it has one."""
    if any(link.sender == sender for link in quality.links):
        return quality
    caps = {sender: cap} if cap else None
    added = new_quality([sender], now, start=start, caps=caps, measured_start=measured_start)
    return replace(quality, links=(*quality.links, *added.links))


def step(quality: Quality, event: Event, now: float) -> tuple[Quality, list[Command]]:
    """The controller after ``event`` at ``now`` and what the adapter must do about it."""
    commands: list[Command] = []
    if isinstance(event, Report):
        # What the sender hears of the far side first: its own link goes through the far
        # side's too, and its sending is judged on it in the same report.
        if event.received is not None and _one_path(quality.links):
            quality = quality._with(_hear_far_voice(quality, event, now))
        link = _take_sending(quality.link(event.sender), event, now, commands)
        quality = quality._with(link)
        if event.rtt_ms is not None and _one_path(quality.links):
            path = Sample(now, event.interval_s, event.rtt_ms, event.rtt_ms)
            for other in quality.links:
                if other.sender != event.sender:
                    quality = quality._with(replace(other, path=path))
        if event.received is not None:
            other = quality.link(event.received.sender)
            other = _take_received(other, event.received, event.interval_s, now)
            quality = quality._with(other)
    elif isinstance(event, Pin):
        link = replace(quality.link(event.sender), pin=event.mode)
        quality = quality._with(_apply(link, link.ceiling, Reason.PINNED, now, commands))
    elif isinstance(event, Unpin):
        quality = quality._with(replace(quality.link(event.sender), pin=None))
    elif isinstance(event, FellBack):
        # The page sends less now: the controller takes it from there, up through probes,
        # rather than from a rung the page has left (a pin stays the worker's choice). Only
        # ever down: a page's word that crossed one of ours takes nothing back up.
        link = quality.link(event.sender)
        if link.pin is None and rank(event.mode) < rank(link.applied):
            if link.trial is not None:
                # A probe the page left is a failed one, and backs off like one: ended by
                # _apply alone it would start again at the same report (measured on the
                # emulator's edge profile, the worker's page left its probe into low twice,
                # and the next probe began at once each time).
                link = _end_trial(link, now, commands, ok=False)
            if rank(event.mode) < rank(link.mode):
                link = _apply(link, event.mode, Reason.FELL_BACK, now, commands)
            quality = quality._with(link)
    elif isinstance(event, DataSaver):
        quality = quality._with(_set_cap(quality.link(event.sender), event.cap, now, commands))
    # Calm is judged on the links as the event left them, before any is decided: a link that
    # steps down at this event has its trouble cleared, yet that trouble is the path's.
    links = quality.links
    calm = [_calm(link) for link in links]
    for i, link in enumerate(links):
        others_calm = all(calm[:i] + calm[i + 1 :]) if _one_path(links) else True
        links = (*links[:i], _decide(link, now, commands, others_calm), *links[i + 1 :])
    quality = replace(quality, links=links)
    advice = tuple(
        PhoneAdvice(now, c.sender, c.reason) for c in commands if isinstance(c, RecommendPhone)
    )
    return replace(quality, phone=quality.phone + advice, version=quality.version + 1), commands


def _one_path(links: tuple[Link, ...]) -> bool:
    """A 1:1 call: both links cross both access networks, so a round trip measured on either
    side is the path's, and trouble one way is trouble the other (in a case meeting each link
    crosses its sender's network and the media node's)."""
    return len(links) == 2


def fitting_mode(available_kbps: float) -> Mode:
    """The best mode an estimate of ``available_kbps`` is not short of."""
    fits = [m for m in LADDER if available_kbps >= SHORT_FRACTION * SPECS[m].need_kbps]
    return fits[-1] if fits else Mode.AUDIO


def outcome_of(quality: Quality) -> QualityOutcome:
    return QualityOutcome(
        links=tuple(
            LinkOutcome(
                sender=link.sender,
                modes=link.history,
                lowest=_lowest(*(change.mode for change in link.history)),
                probes_ok=link.probes_ok,
                probes_failed=link.probes_failed,
            )
            for link in quality.links
        ),
        phone=quality.phone,
    )


# --- taking reports in ----------------------------------------------------------------------


def _late_after(interval_s: float) -> float:
    return max(OUTAGE_AFTER_S, LATE_FACTOR * interval_s)


def _take_sending(link: Link, report: Report, now: float, commands: list[Command]) -> Link:
    sample = Sample(now, report.interval_s, report.loss, report.rtt_ms)
    sent = (*(x for x in link.sent if x.at >= now - RTT_WINDOW_S), sample)
    # Silence is judged on the longer of the pace the sender kept and the one it announces: a
    # page that has just measured its round trip goes from a report every 0.5 s to one every
    # 4 s on a weak link (measured on the emulator's edge profile: the first 4 s report came
    # 5.2 s after the last quick one, and the client's link went to audio on an outage, a 15.5 s
    # picture gap).
    pace = max(report.interval_s, report.next_s or 0.0)
    link = replace(link, last=report, heard_at=now, interval_s=pace, sent=sent)
    if link.condition is Condition.OUTAGE:
        commands.append(Hint(link.sender, Reason.RECOVERED))
        link = replace(link, condition=Condition.OK, send_trouble=None, recv_trouble=None)
        link = replace(link, clean_since=None)
    if link.start_when_measured is not None and report.rtt_ms is not None:
        link = _measured_start(link, report.rtt_ms, now, commands)
    level = _assess(link, now, after=link.ignore_until, receiving=False)[0]
    return _track(link, now, report.interval_s, level, sending=True)


def _measured_start(link: Link, rtt_ms: float, now: float, commands: list[Command]) -> Link:
    """The first round trip picks the start: moving video only if it is short enough."""
    wanted = link.start_when_measured
    link = replace(link, start_when_measured=None)
    if wanted is None or rtt_ms >= SLOW_RTT_MS or link.pin is not None or link.trial:
        return link
    if rtt_ms >= EDGE_RTT_MS:
        wanted = _down(wanted)
    if len(link.history) != 1 or rank(_lowest(wanted, link.cap)) <= rank(link.mode):
        return link  # something else moved it first
    return _apply(link, _lowest(wanted, link.cap), Reason.START, now, commands)


def _hear_far_voice(quality: Quality, report: Report, now: float) -> Link:
    """The report's sender's link, with what its page heard of the far side's voice."""
    assert report.received is not None
    link = quality.link(report.sender)
    far = quality.link(report.received.sender)
    gone = Sample(now, report.interval_s, _gone(report.received))
    # The far side's voice gone beside its moving video is that video flooding a fallen link;
    # beside a still now and then, or the voice alone, one report of it may be a burst of
    # the link's own loss, and the report before must show it too (see _media_gone).
    confirmed = SPECS[far.applied].moving_video or _collapsed_before(link.far_voice, gone)
    # A quarter of it missing beside the far side's moving video, with no probe of the far
    # side's to explain it: the far side's access network has fallen, and it carries this
    # link's media too (see _far_voice_fell).
    fell = SPECS[far.applied].moving_video and far.trial is None and now >= far.ignore_until
    return replace(link, far_voice=gone, far_voice_confirmed=confirmed, far_voice_fell=fell)


def _collapsed_before(before: Sample | None, latest: Sample) -> bool:
    """The report before ``latest`` (the one just before it) already missed a quarter."""
    return (
        before is not None
        and latest.at - before.at <= _late_after(latest.interval_s)
        and before.value >= AUDIO_COLLAPSED
    )


def _take_received(link: Link, received: Received, interval_s: float, now: float) -> Link:
    sample = Sample(now, interval_s, received.audio_concealed)
    heard = (*(x for x in link.heard if x.at >= now - SMOOTH_S), sample)
    before = None
    if link.received is not None and link.received_at is not None:
        before = Sample(link.received_at, link.received_interval_s, _gone(link.received))
    link = replace(
        link,
        received=received,
        received_at=now,
        received_interval_s=interval_s,
        heard=heard,
        gone_before=before,
    )
    level = _assess(link, now, after=link.ignore_until, sending=False)[0]
    return _track(link, now, interval_s, level, sending=False)


def _track(link: Link, now: float, covered_s: float, level: int, *, sending: bool) -> Link:
    """Note the reported time one side has shown trouble, and since when all is clean."""
    span = link.send_trouble if sending else link.recv_trouble
    if level == 0:
        span = None
    elif span is None:
        span = Coverage(now - covered_s, now)
    else:
        span = replace(span, end=now)
    link = replace(link, send_trouble=span) if sending else replace(link, recv_trouble=span)
    if link.trouble_since is not None:
        return replace(link, clean_since=None)
    if link.clean_since is None:
        return replace(link, clean_since=now - covered_s)
    return link


def _fresh_report(link: Link, now: float) -> Report | None:
    if link.last is None or now - link.heard_at > _late_after(link.interval_s):
        return None
    return link.last


def _fresh_received(link: Link, now: float) -> Received | None:
    if link.received_at is None or now - link.received_at > _late_after(link.received_interval_s):
        return None
    return link.received


def _rtt_floor(link: Link) -> float | None:
    return min((x.rtt_ms for x in link.sent if x.rtt_ms is not None), default=None)


def _mean(samples: Iterable[Sample]) -> float | None:
    """The mean of the samples' values, weighted by the time each covers."""
    pairs = [(x.value * x.interval_s, x.interval_s) for x in samples]
    covered = sum(weight for _, weight in pairs)
    return sum(value for value, _ in pairs) / covered if covered else None


def _recent(samples: tuple[Sample, ...], now: float, after: float) -> float | None:
    return _mean(x for x in samples if x.at > max(after, now - SMOOTH_S))


def _lasting_loss(link: Link) -> bool:
    """The last two reports both lost HEAVY_LOSS or more.

    Stills hardly compete with the voice, so one report's heavy loss with a flat round trip
    (a burst of the link's own loss on a few packets) is no reason to stop them: on the
    emulator's edge profile one such report, 4 s in stills, made a picture gap of 16 s.
    """
    last = link.sent[-2:]
    return len(last) == 2 and all(x.value >= HEAVY_LOSS for x in last)


def _delay_rising(link: Link, report: Report) -> bool:
    floor = _rtt_floor(link)
    if report.rtt_ms is None or floor is None:
        return False
    margin = max(RTT_RISE_MS, RTT_RISE_FRACTION * floor, 2 * report.jitter_ms)
    return report.rtt_ms > floor + margin


def _queued_ms(link: Link, report: Report) -> float:
    """How far the round trip stands above the recent minimum: the queue it waits in."""
    floor = _rtt_floor(link)
    if report.rtt_ms is None or floor is None:
        return 0.0
    return report.rtt_ms - floor


def _queueing(link: Link, report: Report) -> bool:
    """The round trip shows a queue: too long for pictures, or standing well above its floor."""
    return _too_slow(report) or _queued_ms(link, report) >= QUEUE_MS


def _too_slow(report: Report | None) -> bool:
    """The report's round trip is too long for anything but the voice (:data:`SLOW_RTT_MS`)."""
    return report is not None and report.rtt_ms is not None and report.rtt_ms >= SLOW_RTT_MS


def _slow_for(link: Link, now: float, seconds: float) -> bool:
    """Every round trip reported over the last ``seconds`` was too long for pictures."""
    recent = [x for x in link.sent if x.at > now - seconds]
    if not recent or min(x.at - x.interval_s for x in recent) > now - seconds + 0.5:
        return False  # the reports do not cover that long yet
    return all(x.rtt_ms is not None and x.rtt_ms >= SLOW_RTT_MS for x in recent)


def _probed_lately(link: Link, now: float) -> bool:
    """The committed mode was reached by a probe less than :data:`SLOW_CONFIRM_S` ago.

    Stills outlast a queue because a link that has carried them drains one; a rung a probe
    has only just reached has shown no such thing, and its queue is the probe's own or a
    fall. Measured on the bench's schedule: the client's probe into stills was committed
    2 s after the fall from rural to worst, on reports that did not show it yet, and stills
    on 32 kbit/s then queued until the SLOW_CONFIRM_S rule took them away 10 s later; the
    worker's voice waited 270-280 ms all that while, the run's 95th percentile.
    """
    last = link.history[-1] if link.history else None
    return last is not None and last.reason is Reason.PROBE_OK and now - link.since < SLOW_CONFIRM_S


def _sparing_stills(mode: Mode) -> Mode:
    """One rung down for a queue, but stills stay: a picture every few seconds hardly
    competes with the voice (on the emulator's edge profile, stepping from stills to audio
    on a queue made a picture gap of 20 s, and the voice was no better for it)."""
    return mode if mode is Mode.STILLS else _down(mode)


def _slow(link: Link, now: float) -> bool:
    """The last fresh round trip is too long for anything but the voice."""
    return _too_slow(_fresh_report(link, now))


def _assess(
    link: Link,
    now: float,
    after: float = -1.0,
    *,
    sending: bool = True,
    receiving: bool = True,
) -> tuple[int, Mode, Reason | None]:
    """How bad the link looks for its committed mode: 0 fine, MILD, URGENT or SEVERE.

    Also the mode to step down to and why. Only fresh reports count, and only those taken
    in after ``after``: a report judged once must not walk the link down the ladder.
    ``sending`` and ``receiving`` choose the sides to look at.
    """
    mode = link.mode
    need = SPECS[mode].need_kbps
    level, target, reason = 0, mode, None

    def worse(new_level: int, new_target: Mode, why: Reason) -> None:
        nonlocal level, target, reason
        if new_level > level:
            reason = why
        level = max(level, new_level)
        target = _lowest(target, new_target)

    report = _fresh_report(link, now)
    if sending and report is not None and link.heard_at > after:
        available = report.available_kbps
        probing = link.trial is not None or now < link.estimate_ignored_until
        if probing and not _queueing(link, report):
            # A probe's doing, not the committed mode's (PROBE_AFTERMATH_S); but with a queue
            # on the link the estimate is believed: the link may have fallen meanwhile.
            available = None
        loss = _recent(link.sent, now, max(after, link.loss_ignored_until)) or 0.0
        if available is not None and available < SHORT_FRACTION * need:
            severe = available < SEVERE_FRACTION * need
            felt = loss > RANDOM_LOSS or _delay_rising(link, report)
            if severe or felt or not SPECS[mode].moving_video:
                worse(SEVERE if severe else MILD, fitting_mode(available), Reason.WEAK_UPLINK)
        if loss >= HEAVY_LOSS and mode is not Mode.AUDIO:
            if mode is not Mode.STILLS or _delay_rising(link, report) or _lasting_loss(link):
                worse(URGENT, _down(mode), Reason.HEAVY_LOSS)
        elif loss > RANDOM_LOSS and _delay_rising(link, report):
            worse(MILD, _sparing_stills(mode), Reason.CONGESTION)
        elif loss > LOSSY and SPECS[mode].moving_video:
            worse(MILD, _down(mode), Reason.HEAVY_LOSS)
        if _too_slow(report):
            if mode is not Mode.AUDIO:
                # A 2G-class link (its shortest recent round trip is that long too) carries
                # the voice only; a faster link with a queue that long loses one rung, and
                # its stills only once the queue has stood for SLOW_CONFIRM_S.
                floor = _rtt_floor(link)
                to = _sparing_stills(mode)
                if floor is not None and floor >= SLOW_RTT_MS:
                    to = Mode.AUDIO
                elif _slow_for(link, now, SLOW_CONFIRM_S) or _probed_lately(link, now):
                    to = _down(mode)
                worse(URGENT, to, Reason.CONGESTION)
                if _flooded(link, report.rtt_ms):
                    # Seconds of queue: the link has fallen under what is sent (a fall in
                    # capacity), and every second more is a second the voice waits. Nothing
                    # but the voice until it has drained; pictures come back through probes.
                    worse(SEVERE, Mode.AUDIO, Reason.CONGESTION)
        elif SPECS[mode].moving_video and _queued_ms(link, report) >= QUEUE_MS:
            worse(MILD, _down(mode), Reason.CONGESTION)
    if sending and mode is not Mode.AUDIO and _flooded_path(link, now, after):
        worse(SEVERE, Mode.AUDIO, Reason.CONGESTION)
    # Not set aside after a failed probe (ignore_until): this link's probe did not do that.
    if sending and mode is not Mode.AUDIO and _far_voice_gone(link, now, min(after, link.since)):
        worse(SEVERE, Mode.AUDIO, Reason.FAR_VOICE)
    elif (
        sending and SPECS[mode].moving_video and _far_voice_fell(link, now, min(after, link.since))
    ):
        worse(SEVERE, Mode.STILLS, Reason.FAR_VOICE)
    received = _fresh_received(link, now)
    fresh = link.received_at is not None and link.received_at > after
    if receiving and received is not None and fresh:
        concealed = _recent(link.heard, now, after) or 0.0
        # Audio breaking up counts from the first report that shows it (the rule that
        # trouble must last SUSTAIN_S keeps one burst from stepping down), so the step
        # comes within SUSTAIN_S however far the longer mean lags.
        breaking = received.audio_concealed
        # A quarter missing counts silent concealment too: where a link falls, the gaps are
        # long, and NetEQ fades a long gap to silence (measured on the bench's schedule,
        # rural to worst: the worker's first report after the fall read 35 % of the client's
        # voice missing but only 14 % concealed with sound, and the step to the voice alone
        # came one report, 1.5 s of 70 kbit/s into 32, later).
        collapsed = _gone(received) >= AUDIO_COLLAPSED
        latest = Sample(link.received_at or now, link.received_interval_s, _gone(received))
        moving = SPECS[mode].moving_video or SPECS[link.applied].moving_video
        confirmed = moving or _collapsed_before(link.gone_before, latest)
        if _media_gone(link, now, latest.value, confirmed):  # no smoothing: it has stopped
            worse(SEVERE, Mode.AUDIO, Reason.AUDIO_FIRST)
        elif max(concealed, breaking) >= AUDIO_BROKEN or collapsed:
            if SPECS[mode].moving_video:
                level_now = SEVERE if collapsed else URGENT
                worse(level_now, _lowest(_down(mode), Mode.STILLS), Reason.AUDIO_FIRST)
            else:  # a still now and then hardly competes: no step, but no probe either
                worse(MILD, mode, Reason.AUDIO_FIRST)
        elif concealed > AUDIO_HURT and SPECS[mode].moving_video:
            # Moving video competes with audio; a still now and then hardly does, and
            # dropping it would not mend loss the link makes anyway.
            worse(MILD, _down(mode), Reason.AUDIO_FIRST)
        if _video_stalled(link, now):
            worse(MILD, _down(mode), Reason.VIDEO_STALLED)
    return level, target, reason


def _flooded_path(link: Link, now: float, after: float) -> bool:
    """The other side of a 1:1 call reported a round trip with a queue of seconds (FLOOD_MS).

    The two links cross the same path, so a round trip measured on either side is the round
    trip of both; and while a queue holds the connectivity checks back, the side whose
    own checks wait in it reports no fresh one for seconds. Measured on the bench's schedule
    (rural to worst): the client's page still reported its 300 ms of before the fall 4.5 s
    after it, while the worker's page already read 3.1 s.
    """
    path = _fresh(link.path, now, after)
    return path is not None and _flooded(link, path.value)


def _fresh(sample: Sample | None, now: float, after: float = -math.inf) -> Sample | None:
    """``sample`` if it came in after ``after`` and the next one is not late yet."""
    if sample is None or sample.at <= after or now - sample.at > _late_after(sample.interval_s):
        return None
    return sample


def _gone(received: Received) -> float:
    """The share of the voice that did not arrive (concealed, silently or not)."""
    return max(received.audio_concealed, received.audio_missing)


def _far_voice_gone(link: Link, now: float, after: float) -> bool:
    """This link's sender, in a 1:1 call, hears almost none of the far side's voice."""
    far = _fresh(link.far_voice, now, after)
    return far is not None and _media_gone(link, now, far.value, link.far_voice_confirmed)


def _far_voice_fell(link: Link, now: float, after: float) -> bool:
    """This link's sender, in a 1:1 call, misses :data:`AUDIO_COLLAPSED` of the far side's
    voice beside the far side's moving video, and no probe of the far side's explains it.

    The far side's link steps to stills on that (its own voice collapsed); this link, sending
    moving video through the same fallen access network, steps with it, to stills at most.
    Measured on the bench's schedule, rural to worst: the worker's report 1.5 s after the fall
    missed 40 % of the client's voice, and the client's link stepped to stills on it; the
    worker's sd (95 kbit/s into the client's 64) went on, and held the client's new mode in
    its queue for 1.7 s, until the next report missed more than half and took both to audio.
    """
    far = _fresh(link.far_voice, now, after)
    return far is not None and link.far_voice_fell and far.value >= AUDIO_COLLAPSED


def _media_gone(link: Link, now: float, gone: float, confirmed: bool) -> bool:
    """:data:`MEDIA_GONE` of the voice missing in a report, and more than a burst.

    Beside moving video it is that video flooding a fallen link (``confirmed``). Beside a
    still now and then, or the voice alone, one report of it may be a burst of the link's
    own loss: the report before must have missed a quarter too (``confirmed``), or the path
    show a queue. Measured on the emulator's edge profile (100 kbit/s up, the client in
    stills): one 1.5 s report missed 0.8 s of the client's voice with a flat round trip, the
    next was fine; both directions went to ``audio`` on it, and the pictures stayed away
    for 58 s.
    """
    return gone >= MEDIA_GONE and (confirmed or _path_queued(link, now))


def _path_queued(link: Link, now: float) -> bool:
    """A round trip of this link's path stands :data:`QUEUE_MS` above the recent minimum."""
    floor = _rtt_floor(link)
    if floor is None:
        return False
    report = _fresh_report(link, now)
    if report is not None and _queued_ms(link, report) >= QUEUE_MS:
        return True
    path = _fresh(link.path, now)
    return path is not None and path.value - floor >= QUEUE_MS


def _flooded(link: Link, rtt_ms: float | None) -> bool:
    """A round trip on ``link``'s path with a queue of seconds: :data:`FLOOD_MS` or more
    above the recent minimum, and :data:`SLOW_RTT_MS` or more."""
    floor = _rtt_floor(link)
    if rtt_ms is None or floor is None:
        return False
    return rtt_ms >= SLOW_RTT_MS and rtt_ms - floor >= FLOOD_MS


def _video_stalled(link: Link, now: float) -> bool:
    """Moving video the far side does not show, judged on reports of the current mode only."""
    received = _fresh_received(link, now)
    if not SPECS[link.applied].moving_video or received is None or link.received_at is None:
        return False
    if link.received_at - link.received_interval_s < link.applied_at:
        return False  # it describes, at least partly, what was sent before
    if received.frozen_s > FROZEN_FRACTION * link.received_interval_s:
        return True
    report = _fresh_report(link, now)
    if (
        report is None
        or report.frames_sent == 0
        or link.heard_at - report.interval_s < (link.applied_at)
    ):
        return False
    sent_fps = report.frames_sent / report.interval_s
    decoded_fps = received.frames_decoded / link.received_interval_s
    return sent_fps >= 1.0 and decoded_fps < STARVED_FRACTION * sent_fps


# --- probes ---------------------------------------------------------------------------------


def _judge_trial(link: Link, now: float, commands: list[Command]) -> Link:
    """Roll the probe back at the first sign of trouble; commit it when it has held."""
    trial = link.trial
    if trial is None:
        return link
    silent = link.heard_at < trial.started_at + PROBE_S or now - link.heard_at > PROBE_WAIT_S
    if now - trial.started_at >= PROBE_S + PROBE_WAIT_S and silent:
        return _end_trial(link, now, commands, ok=False)  # no word from the sender
    fresh = link.last.available_kbps if link.last is not None and link.heard_at == now else None
    if fresh is not None and (trial.available_peak is None or fresh > trial.available_peak):
        trial = replace(trial, available_peak=fresh)
        link = replace(link, trial=trial)
    settled = trial.started_at + PROBE_SETTLE_S
    if now < settled:
        return link
    level, _, _ = _assess(link, now, after=settled - 1e-6)  # the estimate aside
    if level > 0 or _trial_failure(link, trial, settled):
        # The probe congested the link, and its losses knocked the estimate down with it.
        return _end_trial(link, now, commands, ok=False, congested=True)
    if link.heard_at != now:
        return link
    trial = replace(trial, evidence=trial.evidence + 1)
    link = replace(link, trial=trial)
    if now - trial.started_at < PROBE_S:  # has it run PROBE_S? (so, not started + PROBE_S)
        return link
    available = link.last.available_kbps if link.last is not None else None
    need = SPECS[trial.mode].need_kbps
    covered = available is None or available >= PROBE_PASS_FRACTION * need
    before = trial.available_before
    climbing = available is not None and before is not None and available >= before * PROBE_CLIMB
    if not covered and climbing and now - trial.started_at < PROBE_MAX_S:
        return link  # clean, and the estimate is on its way up: give it the time it takes
    link = _end_trial(link, now, commands, ok=covered)
    level, target, reason = _assess(link, now)
    if level == SEVERE and reason is Reason.WEAK_UPLINK and rank(target) < rank(link.mode):
        # Nothing congested, yet the estimate is far below even the committed mode: the
        # link itself has fallen, and the probe did not do that. Down at once.
        link = _weak(_apply(link, target, Reason.WEAK_UPLINK, now, commands), commands)
    return link


def _trial_failure(link: Link, trial: Trial, settled: float) -> bool:
    """Loss or round trip rose during the probe (on a report from after it settled)."""
    report = link.last
    if report is None or link.heard_at < settled:
        return False
    if report.loss > max(LOSSY, trial.loss_before + PROBE_LOSS_RISE):
        return True
    if _too_slow(report):
        return True
    floor = _rtt_floor(link)
    if report.rtt_ms is None or trial.rtt_before is None or floor is None:
        return False
    margin = max(RTT_RISE_MS, PROBE_RTT_FRACTION * floor, 2 * report.jitter_ms)
    return report.rtt_ms > max(trial.rtt_before, floor) + margin


def _end_trial(
    link: Link,
    now: float,
    commands: list[Command],
    *,
    ok: bool,
    congested: bool = False,
    aside: bool = True,
) -> Link:
    """End the probe: commit its mode (``ok``) or roll it back.

    A rolled-back probe's reports are set aside for PROBE_SETTLE_S (``aside``), unless it
    ended on trouble that is not its own (the other direction's, see ``_decide``).
    """
    trial = link.trial
    assert trial is not None
    if ok:
        commands.append(SetMode(link.sender, trial.mode, Reason.PROBE_OK))
        return replace(
            link,
            trial=None,
            mode=trial.mode,
            since=now,
            history=(*link.history, ModeChange(now, trial.mode, Reason.PROBE_OK)),
            probes_ok=link.probes_ok + 1,
            send_trouble=None,
            recv_trouble=None,
            phoned=False,
        )
    commands.append(SetMode(link.sender, link.mode, Reason.PROBE_FAILED))
    # The count starts again once a rung reached by a probe has held a long while; not after
    # a probe whose estimate never came near the new rung's need (under SEVERE_FRACTION of
    # it): that link has no room for the rung, however long the one below has held. Measured
    # on the emulator's rural link: sd held, and a probe into hd (672 kbit/s on a 128 kbit/s
    # uplink, the estimate at 100-200) every 15-20 s, each a queue ahead of the voice.
    # Nor after a probe that ended before a report of its own: it showed nothing of the rung.
    last = link.history[-1] if link.history else None
    peak = trial.available_peak
    hopeless = peak is not None and peak < SEVERE_FRACTION * SPECS[trial.mode].need_kbps
    held = (
        not hopeless
        and peak is not None
        and last is not None
        and last.reason is Reason.PROBE_OK
        and now - last.at >= SETTLED_S
    )
    failed = 1 if held else link.failed_probes + 1
    backoff = min(PROBE_BACKOFF_S * 2 ** (failed - 1), PROBE_BACKOFF_MAX_S)
    return replace(
        link,
        trial=None,
        failed_probes=failed,
        probes_failed=link.probes_failed + 1,
        next_probe_at=now + backoff,
        applied_at=now,
        # What the probe caused, and the reports that still show it, is not the link's
        # trouble in its committed mode.
        ignore_until=now + PROBE_SETTLE_S if aside else link.ignore_until,
        # Receiver reports of the probe's losses still arrive a while after it (they come
        # every second or more, a round trip late), and loss is judged over SMOOTH_S.
        loss_ignored_until=now + SMOOTH_S,
        estimate_ignored_until=now + PROBE_AFTERMATH_S if congested else 0.0,
        send_trouble=None,
        recv_trouble=None,
        hopeless=Hopeless(trial.mode, peak, now)
        if hopeless and peak is not None
        else link.hopeless,
    )


def _may_probe(link: Link, now: float) -> bool:
    up = _up(link.mode)
    return (
        link.pin is None
        and link.trial is None
        and up is not None
        and rank(up) <= rank(link.cap)
        and link.condition is not Condition.OUTAGE
        and now - link.since >= HOLD_S
        and now >= link.next_probe_at
        and _fresh_report(link, now) is not None
        and link.trouble_since is None
        and link.clean_since is not None
        and now - link.clean_since >= CLEAN_BEFORE_PROBE_S
        and _assess(link, now)[0] == 0
        and not _slow(link, now)
        and not _hopeless_again(link, up, now)
    )


def _hopeless_again(link: Link, up: Mode, now: float) -> bool:
    """A probe into ``up`` would be as hopeless as the last one: its estimate then peaked far
    below the rung's need, and the estimate now is no higher (by :data:`PROBE_CLIMB`).

    For :data:`PROBE_BACKOFF_MAX_S` after it, or until an outage (a new network, often). The
    backoff alone tries again 15, 30 and 60 s later: measured on the emulator's rural link,
    probes into hd (672 kbit/s on a 128 kbit/s uplink, the estimate peaking at 150-360) at 40,
    63, 97 and 162 s, each leaving the far side's jitter buffer over 200 ms for 3-13 s.
    """
    hopeless = link.hopeless
    if hopeless is None or hopeless.mode is not up or now - hopeless.at >= PROBE_BACKOFF_MAX_S:
        return False
    report = _fresh_report(link, now)
    available = report.available_kbps if report is not None else None
    return available is None or available < hopeless.peak_kbps * PROBE_CLIMB


def _calm(link: Link) -> bool:
    """Another link of the call gives no reason to hold a probe back: it shows no trouble.

    The links of a call cross the same access networks (in a 1:1 call each crosses both), so
    trouble on one is often the other's too, before its own reports show it: a fall in the
    client's capacity shows first in the worker's report of the client's voice breaking, and
    the client's report of the worker's picture comes up to 4 s later. Measured on the bench's
    schedule (rural to worst): the worker's link started a probe into ``sd`` 3 s after the
    fall, on reports from before it, while the client's voice already broke up; the probe then
    kept the worker's link from stepping down for 4 s, sending 75 kbit/s into 64.
    """
    return link.trouble_since is None


def _start_trial(link: Link, now: float, commands: list[Command]) -> Link:
    up = _up(link.mode)
    assert up is not None
    last = link.last
    assert last is not None
    trial = Trial(up, now, _mean(link.sent) or 0.0, last.rtt_ms, 0, last.available_kbps)
    commands.append(Probe(link.sender, up))
    # A link that probes has found its way up: a first round trip reported later picks no
    # start any more (the start is no step up, and it must come before any probe).
    return replace(link, trial=trial, applied_at=now, start_when_measured=None)


# --- deciding -------------------------------------------------------------------------------


def _apply(link: Link, mode: Mode, reason: Reason, now: float, commands: list[Command]) -> Link:
    """Commit ``mode`` (ending any probe) and tell the sender if what it does changes."""
    applied = link.applied
    link = replace(link, trial=None)
    last = link.history[-1] if link.history else None
    if (
        rank(mode) < rank(link.mode)
        and last is not None
        and last.reason is Reason.PROBE_OK
        and now - last.at < SETTLED_S
    ):
        # A rung reached by a probe that did not last: as good as a failed probe, so the
        # next try waits longer (no flapping between two rungs on a link at their border).
        failed = link.failed_probes + 1
        backoff = min(PROBE_BACKOFF_S * 2 ** (failed - 1), PROBE_BACKOFF_MAX_S)
        link = replace(link, failed_probes=failed, next_probe_at=now + backoff)
    elif rank(mode) < rank(link.mode) and now - link.since >= SETTLED_S:
        link = replace(link, failed_probes=0)
    if mode is not link.mode:
        link = replace(
            link,
            mode=mode,
            since=now,
            history=(*link.history, ModeChange(now, mode, reason)),
            send_trouble=None,
            recv_trouble=None,
            phoned=link.phoned and mode is Mode.AUDIO,
        )
    if mode is not applied:
        commands.append(SetMode(link.sender, mode, reason))
        link = replace(link, applied_at=now)
    return link


def _set_cap(link: Link, cap: Mode | None, now: float, commands: list[Command]) -> Link:
    link = replace(link, cap=cap or Mode.HD)
    if link.pin is not None:
        target = _lowest(link.pin, link.cap)
        reason = Reason.DATA_SAVER if rank(target) < rank(link.mode) else Reason.PINNED
        return _apply(link, target, reason, now, commands)
    if rank(link.applied) > rank(link.cap):
        return _apply(link, _lowest(link.mode, link.cap), Reason.DATA_SAVER, now, commands)
    return link


def _decide(link: Link, now: float, commands: list[Command], calm: bool) -> Link:
    """Judge ``link`` at ``now``; ``calm``: the call's other link shows no trouble."""
    # Before its first report a link is connecting (ICE through TURN takes several round
    # trips, seconds on a 2G-class link): silence is an outage only after a longer grace.
    late = _late_after(link.interval_s) if link.last is not None else FIRST_REPORT_GRACE_S
    stale = now - link.heard_at > late
    if stale:
        link = _outage(link, now, commands)
    else:
        if link.trial is not None and not calm:
            # Trouble on the call's other link is this path's too (see _calm): a probe that
            # met it ends before it could be committed on reports from before it, and the
            # link may step down at once. Measured on the bench's schedule, rural to worst: a
            # probe into ``sd`` started 1 s before the fall was committed 1 s after it.
            # Nor are its reports set aside as the probe's (``aside``): the trouble is the
            # path's, and waiting out PROBE_SETTLE_S for a report that judges the committed
            # rung alone kept a probe into ``sd`` sending 100 kbit/s into 32 for a report
            # interval more (measured on the schedule: a queue that kept the worker's voice
            # waiting over 300 ms for 10 s of the call). The probe's knocked-down estimate
            # is set aside all the same (``congested``), unless the round trip shows a queue.
            link = _end_trial(link, now, commands, ok=False, congested=True, aside=False)
        link = _judge_trial(link, now, commands)
        link = _step_down(link, now, commands)
        link = _hint_weak(link, now, commands)
        if _may_probe(link, now) and calm:
            link = _start_trial(link, now, commands)
    return _advise_phone(link, now, stale, commands)


def _outage(link: Link, now: float, commands: list[Command]) -> Link:
    if link.condition is not Condition.OUTAGE:
        commands.append(Hint(link.sender, Reason.OUTAGE))
        link = replace(link, condition=Condition.OUTAGE, send_trouble=None, recv_trouble=None)
        link = replace(link, clean_since=None, hopeless=None)
    if link.pin is None and link.applied is not Mode.AUDIO:
        if link.trial is not None:
            link = replace(link, probes_failed=link.probes_failed + 1)
        link = _apply(link, Mode.AUDIO, Reason.OUTAGE, now, commands)
    return link


def _step_down(link: Link, now: float, commands: list[Command]) -> Link:
    if link.pin is not None or link.trial is not None:
        return link  # a probe's trouble ends the probe first (_judge_trial)
    # Only what was reported after the last change may move the mode again.
    level, target, reason = _assess(link, now, after=max(link.since, link.ignore_until))
    if level == 0 or reason is None or rank(target) >= rank(link.mode):
        return link
    held = now - link.since >= HOLD_S
    if level == SEVERE or (link.sustained and (held or level == URGENT)):
        link = _apply(link, target, reason, now, commands)
        if reason is not Reason.FAR_VOICE:  # the far side's link failed, not this one
            link = _weak(link, commands)
    return link


def _weak(link: Link, commands: list[Command]) -> Link:
    if link.condition is Condition.OK:
        commands.append(Hint(link.sender, Reason.WEAK_UPLINK))
        link = replace(link, condition=Condition.WEAK)
    return link


def _hint_weak(link: Link, now: float, commands: list[Command]) -> Link:
    if link.sustained:
        return _weak(link, commands)
    calm = link.clean_since is not None and now - link.clean_since >= CALM_S
    if link.condition is Condition.WEAK and calm:
        commands.append(Hint(link.sender, Reason.RECOVERED))
        return replace(link, condition=Condition.OK)
    return link


def _advise_phone(link: Link, now: float, stale: bool, commands: list[Command]) -> Link:
    received = _fresh_received(link, now)
    concealing = received is not None and received.audio_concealed >= AUDIO_FAILING
    failing = link.mode is Mode.AUDIO and link.trial is None and (stale or concealing)
    if not failing:
        return replace(link, failing_since=None)
    since = link.failing_since if link.failing_since is not None else now
    link = replace(link, failing_since=since)
    if not link.phoned and now - since >= PHONE_AFTER_S:
        reason = Reason.OUTAGE if stale else Reason.AUDIO_FAILING
        commands.append(RecommendPhone(link.sender, reason))
        link = replace(link, phoned=True)
    return link
