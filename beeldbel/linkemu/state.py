"""The link emulator's state machines, sans I/O: every call takes ``now`` (seconds).

One ``Direction`` per direction of a link: a packet goes in with ``offer(now, size)``
and comes back as a ``Fate``: when it is to be delivered, or why it was dropped. The
order inside is: blackout → loss (decided on arrival, so a lost packet takes no
capacity) → drop-tail queue → token bucket → fixed delay plus jitter. Randomness comes
from the ``random.Random`` passed in, so a seed replays the same losses and jitter.
A blackout drops what arrives during it; packets already past the model when it
begins are still delivered (the verdict is given on arrival).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from beeldbel.linkemu.model import DirectionProfile, Schedule
from beeldbel.linkemu.rules import gilbert_elliott_transitions

__all__ = [
    "BernoulliLoss",
    "Counters",
    "Direction",
    "DropReason",
    "DropTailQueue",
    "Fate",
    "GilbertElliottLoss",
    "Sends",
    "TokenBucket",
]


class DropReason(StrEnum):
    QUEUE = "queue"
    LOSS = "loss"
    BLACKOUT = "blackout"


@dataclass(frozen=True, slots=True)
class Fate:
    """``deliver_at`` (seconds, same clock as ``now``) or the reason it was dropped.

    ``leaves`` is when a delivered packet left the bottleneck (before delay and jitter);
    ``busy`` says it arrived while the bottleneck was still sending the packet before it
    with an empty bucket, so it left exactly its own size's worth of time after that one:
    such packets are what a rate can be measured on when the sender does not saturate.
    """

    deliver_at: float | None
    dropped: DropReason | None = None
    leaves: float | None = None
    busy: bool = False


class TokenBucket:
    """Tokens (bytes) accrue at the rate up to ``depth``; packets leave in order."""

    def __init__(self, depth: int, now: float) -> None:
        self.depth = depth
        self.tokens = float(depth)
        self.last = now  # when the last packet left (or the bucket was made)

    def departure(self, now: float, size: int, rate_bytes_per_s: float) -> float:
        """When a packet of ``size`` bytes arriving at ``now`` leaves the bottleneck."""
        start = max(now, self.last)
        self.tokens = min(float(self.depth), self.tokens + (start - self.last) * rate_bytes_per_s)
        if self.tokens >= size:
            self.tokens -= size
            leaves = start
        else:
            leaves = start + (size - self.tokens) / rate_bytes_per_s
            self.tokens = 0.0
        self.last = leaves
        return leaves


class DropTailQueue:
    """Packets admitted but not yet past the bottleneck; full means the newcomer is dropped."""

    def __init__(self, max_packets: int | None, max_bytes: int | None) -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self._waiting: deque[tuple[float, int]] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def _drain(self, now: float) -> None:
        while self._waiting and self._waiting[0][0] <= now:
            self.bytes -= self._waiting.popleft()[1]

    def admits(self, now: float, size: int) -> bool:
        self._drain(now)
        if self.max_packets is not None and len(self._waiting) >= self.max_packets:
            return False
        return self.max_bytes is None or self.bytes + size <= self.max_bytes

    def hold(self, leaves: float, size: int) -> None:
        self._waiting.append((leaves, size))
        self.bytes += size


class BernoulliLoss:
    """Each packet is lost independently with probability ``loss``."""

    def __init__(self, loss: float, rng: random.Random) -> None:
        self.loss = loss
        self.rng = rng

    def lost(self) -> bool:
        return self.loss > 0.0 and self.rng.random() < self.loss


class GilbertElliottLoss:
    """Bursty loss: a good state (no loss) and a bad state (every packet lost)."""

    def __init__(self, loss: float, burst: float, rng: random.Random) -> None:
        self.good_to_bad, self.bad_to_good = gilbert_elliott_transitions(loss, burst)
        self.rng = rng
        self.bad = False

    def lost(self) -> bool:
        flip = self.rng.random()
        self.bad = flip >= self.bad_to_good if self.bad else flip < self.good_to_bad
        return self.bad


@dataclass(slots=True)
class Counters:
    received: int = 0
    delivered: int = 0
    dropped_queue: int = 0
    dropped_loss: int = 0
    dropped_blackout: int = 0
    bytes_received: int = 0
    bytes_delivered: int = 0
    delay_total_ms: float = 0.0
    delay_min_ms: float | None = None
    delay_max_ms: float | None = None
    # The delay's parts: waiting for the bottleneck (the sender's own doing), the drawn
    # delay plus jitter (the link's), and holding back so as not to overtake (no reordering).
    queue_total_ms: float = 0.0
    propagation_total_ms: float = 0.0
    hold_total_ms: float = 0.0

    def record_delay(
        self, delay_ms: float, queue_ms: float = 0.0, propagation_ms: float | None = None
    ) -> None:
        propagation = delay_ms - queue_ms if propagation_ms is None else propagation_ms
        self.queue_total_ms += queue_ms
        self.propagation_total_ms += propagation
        self.hold_total_ms += max(0.0, delay_ms - queue_ms - propagation)
        self.delay_total_ms += delay_ms
        self.delay_min_ms = (
            delay_ms if self.delay_min_ms is None else min(self.delay_min_ms, delay_ms)
        )
        self.delay_max_ms = (
            delay_ms if self.delay_max_ms is None else max(self.delay_max_ms, delay_ms)
        )

    def as_dict(self) -> dict[str, Any]:
        def mean_of(total: float) -> float | None:
            return total / self.delivered if self.delivered else None

        mean = mean_of(self.delay_total_ms)
        return {
            "received": self.received,
            "delivered": self.delivered,
            "dropped_queue": self.dropped_queue,
            "dropped_loss": self.dropped_loss,
            "dropped_blackout": self.dropped_blackout,
            "bytes_received": self.bytes_received,
            "bytes_delivered": self.bytes_delivered,
            "delay_mean_ms": mean,
            "delay_min_ms": self.delay_min_ms,
            "delay_max_ms": self.delay_max_ms,
            "queue_mean_ms": mean_of(self.queue_total_ms),
            "propagation_mean_ms": mean_of(self.propagation_total_ms),
            "hold_mean_ms": mean_of(self.hold_total_ms),
        }


def _loss_model(
    profile: DirectionProfile, rng: random.Random
) -> BernoulliLoss | GilbertElliottLoss:
    if profile.burst is None or profile.loss == 0.0:
        return BernoulliLoss(profile.loss, rng)
    return GilbertElliottLoss(profile.loss, profile.burst, rng)


class Direction:
    """One direction of an emulated link following a schedule that starts at ``start``.

    ``pick`` chooses this direction's profile from each segment's ``LinkProfile``
    (``"down"`` or ``"up"``). The queue and token bucket carry over from one segment to
    the next; each segment has its own loss process.
    """

    def __init__(self, schedule: Schedule, pick: str, rng: random.Random, start: float) -> None:
        if pick not in {"down", "up"}:
            raise ValueError("pick is 'down' or 'up'")
        self.schedule = schedule
        self.pick = pick
        # Loss and jitter draw from their own generators, both seeded from ``rng``: which
        # packets are lost then depends only on their order, not on queue timing.
        self._loss_rng = random.Random(rng.getrandbits(64))  # noqa: S311 (emulation)
        self._jitter_rng = random.Random(rng.getrandbits(64))  # noqa: S311
        self.start = start
        self.counters = Counters()
        self._bucket = TokenBucket(1500, start)
        self._queue = DropTailQueue(None, None)
        self._segment = -1
        self._profile: DirectionProfile | None = None
        self._loss: BernoulliLoss | GilbertElliottLoss = BernoulliLoss(0.0, self._loss_rng)
        self._last_delivery = start

    def profile_at(self, now: float) -> DirectionProfile | None:
        """This direction's profile at ``now``; None during a blackout."""
        self._enter(now)
        return self._profile

    def _enter(self, now: float) -> None:
        index = self.schedule.index_at(now - self.start)
        if index == self._segment:
            return
        self._segment = index
        link = self.schedule.segments[index].profile
        self._profile = None if link is None else getattr(link, self.pick)
        if self._profile is not None:
            self._loss = _loss_model(self._profile, self._loss_rng)
            self._bucket.depth = self._profile.bucket_bytes
            self._queue.max_packets = self._profile.queue_packets
            self._queue.max_bytes = self._profile.queue_bytes

    def offer(self, now: float, size: int) -> Fate:
        """A packet of ``size`` bytes arrives at ``now``: when is it delivered, if at all?"""
        counters = self.counters
        counters.received += 1
        counters.bytes_received += size
        profile = self.profile_at(now)
        if profile is None:
            counters.dropped_blackout += 1
            return Fate(None, DropReason.BLACKOUT)
        if self._loss.lost():
            counters.dropped_loss += 1
            return Fate(None, DropReason.LOSS)
        busy = False
        if profile.rate_kbps is None:
            leaves = now
        else:
            if not self._queue.admits(now, size):
                counters.dropped_queue += 1
                return Fate(None, DropReason.QUEUE)
            busy = now <= self._bucket.last and self._bucket.tokens <= 0.0
            leaves = self._bucket.departure(now, size, profile.rate_kbps * 1000 / 8)
            if leaves > now:
                self._queue.hold(leaves, size)
        jitter = (
            self._jitter_rng.uniform(-profile.jitter_ms, profile.jitter_ms)
            if profile.jitter_ms
            else 0.0
        )
        propagation_ms = max(0.0, profile.delay_ms + jitter)
        deliver_at = leaves + propagation_ms / 1000
        if not profile.reorder:
            deliver_at = max(deliver_at, self._last_delivery)
        self._last_delivery = max(self._last_delivery, deliver_at)
        counters.delivered += 1
        counters.bytes_delivered += size
        counters.record_delay((deliver_at - now) * 1000, (leaves - now) * 1000, propagation_ms)
        return Fate(deliver_at, leaves=leaves, busy=busy)


@dataclass(slots=True)
class Sends:
    """What the relay actually did with delivered packets, against what the model asked.

    ``record(sent_at, fate, size)`` for every packet as it is sent: how late the timer
    fired (``late_*``), and for ``busy`` packets (see ``Fate``) the realized time between
    leaving the bottleneck and the packet before it: the delivery time minus the
    emulated delay (``sent_at - (deliver_at - leaves)``), so jitter does not blur it but
    a late event loop does. ``busy_bytes / busy_s`` is the rate the bottleneck delivered
    while it was busy. Packets must be recorded in the order they left the bottleneck,
    which is the order they are sent when the link does not reorder.
    """

    sent: int = 0
    late_total_ms: float = 0.0
    late_max_ms: float = 0.0
    busy_packets: int = 0
    busy_bytes: int = 0
    busy_s: float = 0.0
    _last_left: float | None = None

    def record(self, sent_at: float, fate: Fate, size: int) -> None:
        if fate.deliver_at is None or fate.leaves is None:
            raise ValueError("only delivered packets are sent")
        late = max(0.0, sent_at - fate.deliver_at)
        self.sent += 1
        self.late_total_ms += late * 1000
        self.late_max_ms = max(self.late_max_ms, late * 1000)
        left = fate.leaves + late
        if fate.busy and self._last_left is not None and left > self._last_left:
            self.busy_packets += 1
            self.busy_bytes += size
            self.busy_s += left - self._last_left
        self._last_left = left

    def busy_rate_kbps(self) -> float | None:
        return self.busy_bytes * 8 / self.busy_s / 1000 if self.busy_s > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "late_mean_ms": self.late_total_ms / self.sent if self.sent else None,
            "late_max_ms": self.late_max_ms,
            "busy_packets": self.busy_packets,
            "busy_bytes": self.busy_bytes,
            "busy_s": self.busy_s,
        }
