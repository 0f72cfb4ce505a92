"""Link profiles and schedules: what a link is configured to do, as plain frozen data.

A ``DirectionProfile`` describes one direction of a link (rates in kbit/s of UDP
payload, one-way delay and jitter in ms, loss as a fraction, mean loss-burst length in
packets, queue depth). A ``LinkProfile`` pairs the client's downlink and uplink. A
``Schedule`` strings profiles and blackouts together in time; every named profile is a
schedule (most of one segment), so the relay only ever runs schedules.

The named profiles follow DESIGN.md, "Network profiles": a round trip of ``R ± J`` ms
becomes a one-way delay of ``R/2`` ms and a jitter of ``J/2`` ms in each direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "PROFILES",
    "DirectionProfile",
    "LinkProfile",
    "Schedule",
    "Segment",
    "named_schedule",
    "parse_schedule",
]


@dataclass(frozen=True, slots=True)
class DirectionProfile:
    """One direction of a link.

    ``rate_kbps`` None means unlimited (no bottleneck, no queue). ``burst`` None means
    independent (Bernoulli) loss; a number means Gilbert-Elliott loss with that mean
    burst length in packets. The queue holds at most ``queue_packets`` packets and, if
    set, ``queue_bytes`` bytes, counting the packet waiting for the bottleneck.
    ``bucket_bytes`` is the token bucket's depth: one MTU, so a saturated stream is
    shaped to the rate from its second packet on.
    """

    rate_kbps: float | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    burst: float | None = None
    queue_packets: int | None = 50
    queue_bytes: int | None = None
    bucket_bytes: int = 1500
    reorder: bool = False

    def __post_init__(self) -> None:
        if self.rate_kbps is not None and self.rate_kbps <= 0:
            raise ValueError("rate must be positive (or None for unlimited)")
        if self.delay_ms < 0 or self.jitter_ms < 0:
            raise ValueError("delay and jitter cannot be negative")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError("loss is a fraction in [0, 1)")
        if self.burst is not None and self.burst < 1.0:
            raise ValueError("the mean burst length is at least one packet")
        if self.queue_packets is not None and self.queue_packets < 1:
            raise ValueError("a queue holds at least one packet")
        if self.queue_bytes is not None and self.queue_bytes < 1:
            raise ValueError("a queue holds at least one byte")
        if self.bucket_bytes < 1:
            raise ValueError("the token bucket holds at least one byte")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """Both directions of a link, seen from the client: ``down`` reaches the client."""

    name: str
    down: DirectionProfile
    up: DirectionProfile

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "down": self.down.as_dict(), "up": self.up.as_dict()}


@dataclass(frozen=True, slots=True)
class Segment:
    """``profile`` for ``duration_s`` seconds (None: for ever); a None profile is a blackout.

    ``new_address``: the client's address, as the far end sees it, changes when this
    segment begins (a handover from Wi-Fi to mobile): the relay sends on from a new
    port, and what the far end still sends to the old one is lost.
    """

    profile: LinkProfile | None
    duration_s: float | None = None
    new_address: bool = False


@dataclass(frozen=True, slots=True)
class Schedule:
    """Segments one after the other from the start of the run; the last one holds."""

    name: str
    segments: tuple[Segment, ...]
    note: str = ""
    starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a schedule needs at least one segment")
        starts = [0.0]
        for segment in self.segments[:-1]:
            if segment.duration_s is None or segment.duration_s <= 0:
                raise ValueError("only the last segment may be open-ended")
            starts.append(starts[-1] + segment.duration_s)
        object.__setattr__(self, "starts", tuple(starts))

    def index_at(self, elapsed: float) -> int:
        """The segment in force ``elapsed`` seconds after the start."""
        index = 0
        for i, start in enumerate(self.starts):
            if elapsed >= start:
                index = i
        return index

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "note": self.note,
            "segments": [
                {
                    "profile": None if s.profile is None else s.profile.as_dict(),
                    "duration_s": s.duration_s,
                    "new_address": s.new_address,
                }
                for s in self.segments
            ],
        }


def _symmetric(
    name: str,
    down_kbps: float | None,
    up_kbps: float | None,
    rtt_ms: float,
    rtt_jitter_ms: float = 0.0,
    loss: float = 0.0,
    burst: float | None = None,
) -> LinkProfile:
    def direction(rate: float | None) -> DirectionProfile:
        return DirectionProfile(
            rate_kbps=rate,
            delay_ms=rtt_ms / 2,
            jitter_ms=rtt_jitter_ms / 2,
            loss=loss,
            burst=burst,
        )

    return LinkProfile(name, direction(down_kbps), direction(up_kbps))


LAN = _symmetric("lan", None, None, rtt_ms=0.0)
FOUR_G = _symmetric("4g", 8000, 2000, rtt_ms=60, loss=0.005)
RURAL = _symmetric("rural", 384, 128, rtt_ms=300, rtt_jitter_ms=50, loss=0.02)
# DESIGN.md says "3 %, bursty" without a length; three packets is our choice.
EDGE = _symmetric("edge", 200, 100, rtt_ms=500, rtt_jitter_ms=100, loss=0.03, burst=3.0)
WORST = _symmetric("worst", 64, 32, rtt_ms=800, loss=0.05, burst=2.0)

OUTAGE_AFTER_S = 5.0
OUTAGE_S = 10.0
HANDOVER_AFTER_S = 5.0

PROFILES: dict[str, Schedule] = {
    "lan": Schedule("lan", (Segment(LAN),)),
    "4g": Schedule("4g", (Segment(FOUR_G),)),
    "rural": Schedule("rural", (Segment(RURAL),)),
    "edge": Schedule("edge", (Segment(EDGE),)),
    "worst": Schedule("worst", (Segment(WORST),)),
    "outage": Schedule(
        "outage",
        (Segment(FOUR_G, OUTAGE_AFTER_S), Segment(None, OUTAGE_S), Segment(FOUR_G)),
        note=f"4g with a {OUTAGE_S:g} s blackout starting {OUTAGE_AFTER_S:g} s into the run",
    ),
    "handover": Schedule(
        "handover",
        (Segment(FOUR_G, HANDOVER_AFTER_S), Segment(FOUR_G, new_address=True)),
        note=f"4g; the client's address changes {HANDOVER_AFTER_S:g} s into the run "
        "(Wi-Fi to mobile)",
    ),
}


def named_schedule(name: str) -> Schedule:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def parse_schedule(text: str) -> Schedule:
    """``"4g:60,rural:60,blackout:10,4g"``: named profiles (or ``blackout``) with seconds.

    Every segment but the last needs a duration; a named profile that is itself a
    schedule contributes its first segment's link. An ``@`` before a segment moves the
    client to a new address when it begins (``"4g:30,@rural"``: a handover to mobile).
    """
    segments = []
    for part in text.split(","):
        name, _, seconds = part.strip().partition(":")
        new_address = name.startswith("@")
        name = name.removeprefix("@")
        duration = float(seconds) if seconds else None
        profile = None if name == "blackout" else named_schedule(name).segments[0].profile
        segments.append(Segment(profile, duration, new_address))
    return Schedule(text, tuple(segments))
