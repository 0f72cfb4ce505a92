"""Call quality as a person would hear and see it, computed from what an endpoint received.

Pure: every function takes plain numbers (seconds on one clock, counters), so the rules
can be tested with made-up times. The harness (``beeldbel.linkemu.calls``) feeds it what
aiortc's receivers decoded; the browser test feeds it ``getStats`` counters. Both end in
the same ``Reception`` shape.

- **Audio continuity (aiortc)**: the share of 20 ms slots that had a decoded frame by a
  fixed playout deadline. The playout clock starts with the first decoded frame: slot
  ``k`` (the ``k``-th 20 ms of the sender's stream after that frame) plays
  ``PLAYOUT_DEADLINE_S`` after the first frame's arrival plus ``k`` times 20 ms. A slot is
  played if its frame arrived by then, or if the sender declared it silent (DTX: the
  stream skipped it on purpose). Slots are counted up to the end of the run, so audio
  that stops early shows. aiortc sends no DTX and never conceals a loss, so for aiortc
  every slot is either decoded in time or missed. (``AudioPlayout``)
- **Audio continuity (browsers)**: ``1 - (concealedSamples - silentConcealedSamples) /
  totalSamplesReceived`` (``browser_audio_continuity``).
- **Jitter buffer p95 (browsers)**: per sampling interval, the added
  ``jitterBufferDelay`` over the added ``jitterBufferEmittedCount``, in ms; the 95th
  percentile of those (nearest rank). aiortc's jitter buffer exposes no such counter:
  ``None`` there.
- **Video**: pictures per second over the measured window; freezes as the W3C
  webrtc-stats define ``freezeCount``: an interval between two fresh pictures of at least
  ``max(3 * d, d + 150 ms)``, ``d`` the mean of the previous (up to) 30 intervals, and
  their total length; the largest gap between fresh pictures, including from the last
  one to the end of the run (a picture that never comes back is the largest gap of all).
- **Recovery**: after a blackout (or a handover), from the link's return (or the address
  change) until ``RECOVERY_RUN_SLOTS`` consecutive frames (200 ms of sound) sent since then
  have been decoded: when audio flows again. Whether it then comes in time to be played is
  continuity's business. ``None`` if audio did not flow again within the run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "AUDIO_SLOT_S",
    "PLAYOUT_DEADLINE_S",
    "RECOVERY_RUN_SLOTS",
    "AudioFrameSeen",
    "AudioPlayout",
    "Reception",
    "VideoTimeline",
    "audio_playout",
    "browser_audio_continuity",
    "browser_reception",
    "jitter_buffer_delays_ms",
    "percentile",
    "recovery_s",
    "unwrap",
    "video_timeline",
]

AUDIO_SLOT_S = 0.020
PLAYOUT_DEADLINE_S = 0.250
RECOVERY_RUN_SLOTS = 10
FREEZE_HISTORY = 30
FREEZE_MIN_EXTRA_S = 0.150
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class AudioFrameSeen:
    """A decoded audio frame: its place in the sender's stream and when it was decoded."""

    media_s: float
    arrival_s: float


@dataclass(frozen=True, slots=True)
class AudioPlayout:
    """Which 20 ms slots were played, slot 0 playing at ``first_playout_s``."""

    played: tuple[bool, ...]
    first_playout_s: float | None
    slot_s: float = AUDIO_SLOT_S

    def playout_at(self, slot: int) -> float:
        assert self.first_playout_s is not None
        return self.first_playout_s + slot * self.slot_s

    @property
    def continuity(self) -> float | None:
        return sum(self.played) / len(self.played) if self.played else None

    @property
    def largest_gap_s(self) -> float | None:
        """The longest run of slots not played, in seconds."""
        if not self.played:
            return None
        longest = current = 0
        for played in self.played:
            current = 0 if played else current + 1
            longest = max(longest, current)
        return longest * self.slot_s


def audio_playout(
    frames: Iterable[AudioFrameSeen],
    end_s: float,
    *,
    silent: Iterable[tuple[float, float]] = (),
    deadline_s: float = PLAYOUT_DEADLINE_S,
    slot_s: float = AUDIO_SLOT_S,
) -> AudioPlayout:
    """Plays ``frames`` out with a fixed deadline until ``end_s`` (see the module's docstring).

    ``silent``: ``[from, to)`` stretches of media time the sender declared silent (DTX).
    """
    seen = sorted(frames, key=lambda frame: frame.arrival_s)
    if not seen:
        return AudioPlayout((), None, slot_s)
    first = seen[0]
    first_playout = first.arrival_s + deadline_s
    count = math.floor((end_s - first_playout) / slot_s + _EPSILON) + 1
    if count <= 0:
        return AudioPlayout((), first_playout, slot_s)
    played = [False] * count

    def slot_of(media_s: float) -> int:
        return round((media_s - first.media_s) / slot_s)

    for frame in seen:
        slot = slot_of(frame.media_s)
        if 0 <= slot < count and frame.arrival_s <= first_playout + slot * slot_s + _EPSILON:
            played[slot] = True
    for start, stop in silent:
        low = max(0, math.ceil((start - first.media_s) / slot_s - _EPSILON))
        high = min(count, math.ceil((stop - first.media_s) / slot_s - _EPSILON))
        for slot in range(low, high):
            played[slot] = True
    return AudioPlayout(tuple(played), first_playout, slot_s)


def recovery_s(
    frames: Iterable[AudioFrameSeen],
    link_return_s: float,
    run: int = RECOVERY_RUN_SLOTS,
    slot_s: float = AUDIO_SLOT_S,
) -> float | None:
    """From ``link_return_s`` until ``run`` consecutive 20 ms of audio sent since had arrived.

    Only frames that arrived after the return count (nothing sent before a blackout is
    still on its way when it ends). Whether they came in time to be played is what
    continuity says; this is when sound flows again. None if it never did within the run.
    """
    after = sorted(
        (frame for frame in frames if frame.arrival_s >= link_return_s),
        key=lambda frame: frame.media_s,
    )
    streak: list[AudioFrameSeen] = []
    for frame in after:
        if streak and round((frame.media_s - streak[-1].media_s) / slot_s) == 0:
            continue  # a duplicate
        if streak and round((frame.media_s - streak[-1].media_s) / slot_s) != 1:
            streak = []
        streak.append(frame)
        if len(streak) == run:
            return max(f.arrival_s for f in streak) - link_return_s
    return None


@dataclass(frozen=True, slots=True)
class VideoTimeline:
    frames: int
    fps: float | None
    freeze_count: int
    freeze_s: float
    largest_gap_s: float | None
    first_picture_s: float | None


def video_timeline(arrivals: Iterable[float], start_s: float, end_s: float) -> VideoTimeline:
    """Fresh pictures shown at ``arrivals``, measured over ``[start_s, end_s]``."""
    times = sorted(t for t in arrivals if start_s <= t <= end_s)
    window = end_s - start_s
    fps = len(times) / window if window > 0 else None
    if not times:
        return VideoTimeline(0, fps, 0, 0.0, None, None)
    intervals = [b - a for a, b in itertools.pairwise(times)]
    freezes = 0
    frozen = 0.0
    for i, interval in enumerate(intervals):
        history = intervals[max(0, i - FREEZE_HISTORY) : i]
        if not history:
            continue
        mean = sum(history) / len(history)
        if interval >= max(3 * mean, mean + FREEZE_MIN_EXTRA_S):
            freezes += 1
            frozen += interval
    largest = max([*intervals, end_s - times[-1]])
    return VideoTimeline(len(times), fps, freezes, frozen, largest, times[0] - start_s)


def browser_audio_continuity(
    total_samples: int, concealed_samples: int, silent_concealed_samples: int
) -> float | None:
    """``1 - (concealed - silentConcealed) / totalSamplesReceived``; None before any sample."""
    if total_samples <= 0:
        return None
    return 1.0 - (concealed_samples - silent_concealed_samples) / total_samples


def jitter_buffer_delays_ms(samples: Sequence[tuple[float, int]]) -> list[float]:
    """Per interval between ``(jitterBufferDelay s, jitterBufferEmittedCount)`` samples, in ms."""
    delays = []
    for (delay_a, emitted_a), (delay_b, emitted_b) in itertools.pairwise(samples):
        if emitted_b > emitted_a:
            delays.append((delay_b - delay_a) / (emitted_b - emitted_a) * 1000)
    return delays


def percentile(values: Iterable[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0.95 for p95); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def unwrap(values: Iterable[int], bits: int = 32) -> list[int]:
    """RTP timestamps (``bits`` wide, wrapping) as one increasing line, first one kept."""
    span = 1 << bits
    result: list[int] = []
    for value in values:
        if not result:
            result.append(value)
            continue
        last = result[-1]
        delta = (value - last) % span
        if delta >= span // 2:
            delta -= span  # a little behind the last one (out of order), not a wrap
        result.append(last + delta)
    return result


@dataclass(frozen=True, slots=True)
class Reception:
    """What one participant received (and sent): the same shape for every variant.

    ``None`` means not observable for this variant (``audio_jitter_buffer_p95_ms`` for
    aiortc) or not applicable (``recovery_s`` without a blackout).
    """

    audio_continuity: float | None
    audio_jitter_buffer_p95_ms: float | None
    audio_largest_gap_s: float | None
    video_fps: float | None
    video_frames: int
    freeze_count: int
    freeze_s: float
    largest_gap_s: float | None
    first_picture_s: float | None
    bytes_sent: int
    bytes_received: int
    recovery_s: float | None

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: Any) -> Any:
            return round(value, 4) if isinstance(value, float) else value

        return {key: rounded(value) for key, value in asdict(self).items()}


def _delta(first: Mapping[str, Any] | None, last: Mapping[str, Any] | None, name: str) -> float:
    """How much a counter grew; a stream not there yet at first counted from zero."""
    if not last:
        return 0.0
    return float(last.get(name) or 0) - float((first or {}).get(name) or 0)


def browser_reception(samples: Sequence[Mapping[str, Any]], pictures: Iterable[float]) -> Reception:
    """One participant's ``Reception`` from its ``getStats`` samples and picture times.

    ``samples``: taken through the run (the first and the last bound the window), each
    ``{"t": seconds, "audio": inbound-rtp audio, "video": inbound-rtp video,
    "transport": transport}`` with the W3C field names; ``pictures``: when fresh pictures
    were shown (``requestVideoFrameCallback``), on the same clock as ``t``. Audio gaps are
    not observable at 20 ms from counters: ``audio_largest_gap_s`` is None.
    """
    if len(samples) < 2:
        raise ValueError("at least two samples bound a window")
    first, last = samples[0], samples[-1]
    window = float(last["t"]) - float(first["t"])
    audio_first, audio_last = first.get("audio"), last.get("audio")
    continuity = browser_audio_continuity(
        int(_delta(audio_first, audio_last, "totalSamplesReceived")),
        int(_delta(audio_first, audio_last, "concealedSamples")),
        int(_delta(audio_first, audio_last, "silentConcealedSamples")),
    )
    buffer = [
        (
            float(s["audio"]["jitterBufferDelay"] or 0),
            int(s["audio"]["jitterBufferEmittedCount"] or 0),
        )
        for s in samples
        if s.get("audio")
    ]
    video_first, video_last = first.get("video"), last.get("video")
    decoded = int(_delta(video_first, video_last, "framesDecoded"))
    timeline = video_timeline(pictures, float(first["t"]), float(last["t"]))
    transport = last.get("transport") or {}
    return Reception(
        audio_continuity=continuity,
        audio_jitter_buffer_p95_ms=percentile(jitter_buffer_delays_ms(buffer), 0.95),
        audio_largest_gap_s=None,
        video_fps=decoded / window if window > 0 else None,
        video_frames=decoded,
        freeze_count=int(_delta(video_first, video_last, "freezeCount")),
        freeze_s=_delta(video_first, video_last, "totalFreezesDuration"),
        largest_gap_s=timeline.largest_gap_s,
        first_picture_s=timeline.first_picture_s,
        bytes_sent=int(transport.get("bytesSent") or 0),
        bytes_received=int(transport.get("bytesReceived") or 0),
        recovery_s=None,
    )
