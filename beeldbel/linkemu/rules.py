"""Pure rules of the link emulator: loss-model parameters and the self-check.

Self-check (``verify``): a measurement counts only if the link delivered what was
configured, each figure within ±10 % of the configured value:

- rate: a reference stream offered above the bottleneck rate is shaped to it, so the
  rate is the delivered payload bytes over the time they took to arrive, summed over
  inter-arrival gaps shorter than a second (a blackout is not time the link carried
  data). The token bucket holds one MTU, so only the first packet may skip the queue.
  Unlimited links have no rate to check.
- delay: the median one-way delay of a light probe (below the rate, spaced at least
  twice the jitter apart, so neither the queue nor the no-reordering rule adds delay).
  The tolerance never goes below ``DELAY_FLOOR_MS``: the relay's timers are that fine.
- loss: loss is decided when a packet arrives, before the queue, so a lost packet
  takes no capacity. When the queue also drops, the stream alone cannot tell the two
  apart; the relay's own counters of queue drops and blackout drops are subtracted:
  ``loss = (sent - delivered - dropped_queue - dropped_blackout) / (sent - dropped_blackout)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beeldbel.linkemu.model import DirectionProfile

__all__ = [
    "DELAY_FLOOR_MS",
    "TOLERANCE",
    "Measurement",
    "Verdict",
    "gilbert_elliott_transitions",
    "measured_loss",
    "verify",
]

TOLERANCE = 0.10
DELAY_FLOOR_MS = 2.0


def gilbert_elliott_transitions(loss: float, burst: float) -> tuple[float, float]:
    """(P(good → bad), P(bad → good)) per packet for a mean loss and mean burst length.

    The simple Gilbert-Elliott model: every packet in the bad state is lost, none in the
    good state. A bad spell lasts ``1 / P(bad → good)`` packets on average (the burst
    length) and the stationary share of the bad state is the mean loss.
    """
    if not 0.0 <= loss < 1.0 or burst < 1.0:
        raise ValueError("loss in [0, 1) and burst >= 1")
    bad_to_good = 1.0 / burst
    good_to_bad = loss * bad_to_good / (1.0 - loss)
    if good_to_bad > 1.0:
        raise ValueError("this loss cannot come in bursts that short")
    return good_to_bad, bad_to_good


def measured_loss(sent: int, delivered: int, dropped_queue: int, dropped_blackout: int) -> float:
    """Loss of a reference stream, with queue and blackout drops (relay counters) removed."""
    exposed = sent - dropped_blackout
    if exposed <= 0:
        return 0.0
    return max(0, exposed - delivered - dropped_queue) / exposed


@dataclass(frozen=True, slots=True)
class Measurement:
    """What a reference stream experienced in one direction."""

    rate_kbps: float | None
    delay_ms: float
    loss: float


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reasons: tuple[str, ...] = field(default=())


def _within(measured: float, configured: float, floor: float = 0.0) -> bool:
    return abs(measured - configured) <= max(TOLERANCE * configured, floor)


def verify(configured: DirectionProfile, measured: Measurement) -> Verdict:
    """Valid if rate, delay and loss are each within ±10 % of the configured values."""
    reasons = []
    if configured.rate_kbps is not None and (
        measured.rate_kbps is None or not _within(measured.rate_kbps, configured.rate_kbps)
    ):
        reasons.append(f"rate {measured.rate_kbps} kbit/s, configured {configured.rate_kbps}")
    if not _within(measured.delay_ms, configured.delay_ms, DELAY_FLOOR_MS):
        reasons.append(f"delay {measured.delay_ms:.1f} ms, configured {configured.delay_ms}")
    if not _within(measured.loss, configured.loss):
        reasons.append(f"loss {measured.loss:.4f}, configured {configured.loss}")
    return Verdict(not reasons, tuple(reasons))
