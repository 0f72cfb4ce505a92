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

During a call (``call_measurement``) there is no reference stream: the media is what it
is, so each figure comes from the relay's own counters instead:

- rate: only measured if the media kept the bottleneck busy (packets that queued behind
  the one before with an empty bucket) for at least ``MIN_BUSY_S`` in all: bytes of
  those packets over the realized time between their departures (the relay's send
  times with the emulated delay taken off, so a late event loop shows and jitter does
  not). A call that never filled the link leaves the rate unchecked (``Verdict.unchecked``
  says so): the reference stream of ``bench.linkemu`` verifies it.
- delay: the mean delay plus jitter the model drew for the packets it delivered, plus how
  late the relay's timers fired. Queueing (the sender's own doing) and the hold that
  keeps packets in order are reported beside it, not checked against the profile.
- loss: the model's loss drops over the packets exposed to it. A call direction carries
  a thousand or so packets, where 10 % of a 2 % loss is two packets: the tolerance is
  widened to ``LOSS_SIGMAS`` standard errors of that sample (``loss_stderr``) when that
  is wider than 10 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beeldbel.linkemu.model import DirectionProfile

__all__ = [
    "DELAY_FLOOR_MS",
    "LOSS_SIGMAS",
    "MIN_BUSY_S",
    "TOLERANCE",
    "CallMeasurement",
    "Measurement",
    "Verdict",
    "call_measurement",
    "gilbert_elliott_transitions",
    "loss_stderr",
    "measured_loss",
    "verify",
]

TOLERANCE = 0.10
DELAY_FLOOR_MS = 2.0
MIN_BUSY_S = 1.0
LOSS_SIGMAS = 3.0


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


def loss_stderr(profile: DirectionProfile, packets: int) -> float:
    """One standard error of the loss measured over ``packets`` packets.

    Bursty loss is correlated from packet to packet, which widens the error by
    ``(1 + rho) / (1 - rho)`` in variance, rho being the lag-one correlation of the
    Gilbert-Elliott state.
    """
    variance = profile.loss * (1 - profile.loss) / max(1, packets)
    if profile.burst is not None and profile.loss > 0:
        good_to_bad, bad_to_good = gilbert_elliott_transitions(profile.loss, profile.burst)
        rho = 1 - good_to_bad - bad_to_good
        variance *= (1 + rho) / (1 - rho)
    return math.sqrt(variance)


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
    """``unchecked`` names figures that could not be checked (and why); they do not count."""

    valid: bool
    reasons: tuple[str, ...] = field(default=())
    unchecked: tuple[str, ...] = field(default=())


def _within(measured: float, configured: float, floor: float = 0.0) -> bool:
    return abs(measured - configured) <= max(TOLERANCE * configured, floor)


def verify(
    configured: DirectionProfile,
    measured: Measurement,
    *,
    loss_samples: int | None = None,
    check_rate: bool = True,
) -> Verdict:
    """Valid if rate, delay and loss are each within ±10 % of the configured values.

    ``loss_samples`` (the packets the loss figure rests on) widens the loss tolerance to
    ``LOSS_SIGMAS`` standard errors when that is wider; ``check_rate=False`` leaves the
    rate unchecked (a call that never filled the link).
    """
    reasons = []
    unchecked = []
    if configured.rate_kbps is not None and not check_rate:
        unchecked.append("rate: the traffic never kept the bottleneck busy long enough")
    elif configured.rate_kbps is not None and (
        measured.rate_kbps is None or not _within(measured.rate_kbps, configured.rate_kbps)
    ):
        reasons.append(f"rate {measured.rate_kbps} kbit/s, configured {configured.rate_kbps}")
    if not _within(measured.delay_ms, configured.delay_ms, DELAY_FLOOR_MS):
        reasons.append(f"delay {measured.delay_ms:.1f} ms, configured {configured.delay_ms}")
    loss_floor = 0.0
    if loss_samples is not None:
        loss_floor = LOSS_SIGMAS * loss_stderr(configured, loss_samples)
    if not _within(measured.loss, configured.loss, loss_floor):
        reasons.append(f"loss {measured.loss:.4f}, configured {configured.loss}")
    return Verdict(not reasons, tuple(reasons), tuple(unchecked))


@dataclass(frozen=True, slots=True)
class CallMeasurement:
    """One direction of a call, from the relay's counters (see the module's docstring)."""

    measurement: Measurement
    loss_samples: int
    rate_checked: bool
    queue_mean_ms: float | None
    hold_mean_ms: float | None

    def verdict(self, configured: DirectionProfile) -> Verdict:
        return verify(
            configured,
            self.measurement,
            loss_samples=self.loss_samples,
            check_rate=self.rate_checked,
        )


def call_measurement(counters: Mapping[str, Any]) -> CallMeasurement:
    """``counters``: one direction of ``Relay.counters()`` (model counters plus sends)."""
    exposed = counters["received"] - counters["dropped_blackout"]
    loss = counters["dropped_loss"] / exposed if exposed > 0 else 0.0
    busy_s = counters["busy_s"]
    rate_checked = busy_s >= MIN_BUSY_S
    rate = counters["busy_bytes"] * 8 / busy_s / 1000 if rate_checked else None
    propagation = counters["propagation_mean_ms"]
    late = counters["late_mean_ms"] or 0.0
    delay = math.inf if propagation is None else propagation + late
    return CallMeasurement(
        Measurement(rate_kbps=rate, delay_ms=delay, loss=loss),
        loss_samples=max(0, exposed),
        rate_checked=rate_checked,
        queue_mean_ms=counters["queue_mean_ms"],
        hold_mean_ms=counters["hold_mean_ms"],
    )
