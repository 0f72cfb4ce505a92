"""The link emulator's model, driven with a fake clock (plain floats) and seeded randomness."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beeldbel.linkemu.__main__ import parser, schedule_from
from beeldbel.linkemu.model import (
    PROFILES,
    DirectionProfile,
    LinkProfile,
    Schedule,
    Segment,
    parse_schedule,
)
from beeldbel.linkemu.rules import (
    Measurement,
    call_measurement,
    gilbert_elliott_transitions,
    measured_loss,
    verify,
)
from beeldbel.linkemu.state import (
    BernoulliLoss,
    Direction,
    DropReason,
    DropTailQueue,
    Fate,
    GilbertElliottLoss,
    Sends,
    TokenBucket,
)


def direction(profile: DirectionProfile, seed: int = 1) -> Direction:
    link = LinkProfile("test", profile, profile)
    return Direction(Schedule("test", (Segment(link),)), "down", random.Random(seed), 0.0)


def loss_runs(outcomes: list[bool]) -> list[int]:
    runs, current = [], 0
    for lost in outcomes:
        if lost:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


# token bucket


def test_a_saturated_bucket_spaces_packets_at_the_rate() -> None:
    bucket = TokenBucket(depth=1000, now=0.0)
    departures = [bucket.departure(0.0, 1000, rate_bytes_per_s=8000) for _ in range(5)]
    assert departures == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5])


def test_an_idle_bucket_lets_only_its_depth_through_at_once() -> None:
    bucket = TokenBucket(depth=1500, now=0.0)
    # A minute of idling fills the bucket to its depth, not beyond.
    departures = [bucket.departure(60.0, 500, rate_bytes_per_s=1000) for _ in range(5)]
    assert departures == pytest.approx([60.0, 60.0, 60.0, 60.5, 61.0])


def test_a_packet_larger_than_the_bucket_still_leaves() -> None:
    bucket = TokenBucket(depth=100, now=0.0)
    assert bucket.departure(0.0, 300, rate_bytes_per_s=100) == pytest.approx(2.0)


# queue


def test_the_queue_drops_the_newcomer_when_full_and_admits_again_once_drained() -> None:
    link = direction(DirectionProfile(rate_kbps=8, queue_packets=3, bucket_bytes=100))
    fates = [link.offer(0.0, 100) for _ in range(5)]
    # 1 000 bytes/s: the first leaves at once, three wait (0.1, 0.2, 0.3 s), the fifth is dropped
    assert [f.deliver_at for f in fates[:4]] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert fates[4].dropped is DropReason.QUEUE
    assert link.offer(0.15, 100).deliver_at == pytest.approx(0.4)  # one has left
    assert link.counters.dropped_queue == 1
    assert link.counters.delivered == 5


def test_a_queue_in_bytes_counts_bytes() -> None:
    queue = DropTailQueue(max_packets=None, max_bytes=1000)
    queue.hold(1.0, 600)
    assert queue.admits(0.5, 400)
    assert not queue.admits(0.5, 401)
    assert queue.admits(1.0, 1000)  # the first has left by then


def test_an_unlimited_link_never_queues() -> None:
    link = direction(DirectionProfile(rate_kbps=None, delay_ms=2))
    assert all(link.offer(0.0, 1200).deliver_at == pytest.approx(0.002) for _ in range(1000))


# delay and jitter


def test_jitter_stays_within_its_bounds_and_never_reorders_unless_asked() -> None:
    link = direction(DirectionProfile(delay_ms=100, jitter_ms=50))
    times = [i * 0.001 for i in range(2000)]
    delivered = [link.offer(t, 100).deliver_at for t in times]
    assert delivered == sorted(delivered)  # type: ignore[type-var]
    delays = [d - t for d, t in zip(delivered, times, strict=True)]  # type: ignore[operator]
    assert min(delays) >= 0.050 - 1e-9

    reordering = direction(DirectionProfile(delay_ms=100, jitter_ms=50, reorder=True))
    free = [reordering.offer(t, 100).deliver_at for t in times]
    assert free != sorted(free)  # type: ignore[type-var]
    free_delays = [d - t for d, t in zip(free, times, strict=True)]  # type: ignore[operator]
    assert min(free_delays) >= 0.050 - 1e-9
    assert max(free_delays) <= 0.150 + 1e-9
    assert sum(free_delays) / len(free_delays) == pytest.approx(0.100, abs=0.003)


def test_counters_record_the_delay_applied() -> None:
    link = direction(DirectionProfile(delay_ms=40))
    link.offer(0.0, 100)
    link.offer(1.0, 300)
    counters = link.counters.as_dict()
    assert counters["received"] == counters["delivered"] == 2
    assert counters["bytes_delivered"] == 400
    assert counters["delay_mean_ms"] == pytest.approx(40)


# loss models


@settings(max_examples=15, deadline=None, derandomize=True)
@given(loss=st.floats(0.005, 0.3), seed=st.integers(0, 2**32))
def test_random_loss_converges_to_the_configured_rate(loss: float, seed: int) -> None:
    model = BernoulliLoss(loss, random.Random(seed))
    n = 40_000
    measured = sum(model.lost() for _ in range(n)) / n
    assert abs(measured - loss) <= 5 * (loss * (1 - loss) / n) ** 0.5


@settings(max_examples=15, deadline=None, derandomize=True)
@given(loss=st.floats(0.01, 0.2), burst=st.floats(1.0, 5.0), seed=st.integers(0, 2**32))
def test_bursty_loss_converges_to_the_configured_rate_and_burst_length(
    loss: float, burst: float, seed: int
) -> None:
    model = GilbertElliottLoss(loss, burst, random.Random(seed))
    n = 200_000
    outcomes = [model.lost() for _ in range(n)]
    # Losses are correlated: the variance of their mean grows by (1 + rho) / (1 - rho).
    rho = 1 - model.good_to_bad - model.bad_to_good
    stderr = (loss * (1 - loss) / n * (1 + rho) / (1 - rho)) ** 0.5
    assert abs(sum(outcomes) / n - loss) <= 5 * stderr
    runs = loss_runs(outcomes)
    # A burst is geometric with mean ``burst``: variance (1 - r) / r**2, r = 1 / burst.
    run_stderr = ((1 - 1 / burst) * burst**2 / len(runs)) ** 0.5
    assert abs(sum(runs) / len(runs) - burst) <= 5 * run_stderr + 1e-9


def test_bursty_loss_of_the_edge_profile_converges_with_a_fixed_seed() -> None:
    model = GilbertElliottLoss(0.03, 3.0, random.Random(1))
    outcomes = [model.lost() for _ in range(1_000_000)]
    assert sum(outcomes) / len(outcomes) == pytest.approx(0.03, rel=0.05)
    runs = loss_runs(outcomes)
    assert sum(runs) / len(runs) == pytest.approx(3.0, rel=0.05)


def test_gilbert_elliott_transitions_give_the_stationary_loss() -> None:
    good_to_bad, bad_to_good = gilbert_elliott_transitions(0.05, 2.0)
    assert bad_to_good == 0.5
    assert good_to_bad / (good_to_bad + bad_to_good) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="cannot come in bursts"):
        gilbert_elliott_transitions(0.9, 1.0)


def test_the_same_seed_loses_the_same_packets_whatever_the_timing() -> None:
    profile = DirectionProfile(rate_kbps=64, loss=0.1, burst=2.0, jitter_ms=30, queue_packets=5)
    fast, slow = direction(profile, seed=5), direction(profile, seed=5)
    lost_fast = [fast.offer(i * 0.0001, 200).dropped is DropReason.LOSS for i in range(3000)]
    lost_slow = [slow.offer(i * 1.0, 200).dropped is DropReason.LOSS for i in range(3000)]
    assert lost_fast == lost_slow
    assert fast.counters.dropped_queue > 0
    assert slow.counters.dropped_queue == 0


# schedules


def test_a_schedule_switches_profiles_and_blacks_out_on_a_fake_clock() -> None:
    schedule = parse_schedule("4g:60,rural:60,blackout:10,4g")
    link = Direction(schedule, "down", random.Random(1), start=1000.0)
    assert link.profile_at(1000.0).rate_kbps == 8000  # type: ignore[union-attr]
    assert link.profile_at(1059.9).rate_kbps == 8000  # type: ignore[union-attr]
    assert link.profile_at(1060.0).rate_kbps == 384  # type: ignore[union-attr]
    assert link.offer(1125.0, 100).dropped is DropReason.BLACKOUT
    assert link.profile_at(1130.0).rate_kbps == 8000  # type: ignore[union-attr]
    assert link.profile_at(99999.0).rate_kbps == 8000  # type: ignore[union-attr]
    assert link.counters.dropped_blackout == 1


def test_the_outage_profile_is_4g_with_a_ten_second_blackout() -> None:
    link = Direction(PROFILES["outage"], "up", random.Random(1), start=0.0)
    assert link.profile_at(4.9).rate_kbps == 2000  # type: ignore[union-attr]
    assert all(link.offer(t, 100).dropped is DropReason.BLACKOUT for t in (5.0, 10.0, 14.99))
    assert link.offer(15.0, 100).dropped is None


def test_only_the_last_segment_may_be_open_ended() -> None:
    with pytest.raises(ValueError, match="open-ended"):
        parse_schedule("4g,rural:10")
    with pytest.raises(ValueError, match="unknown profile"):
        parse_schedule("5g:10,4g")


def test_named_profiles_follow_the_design() -> None:
    rural = PROFILES["rural"].segments[0].profile
    assert rural is not None
    assert (rural.down.rate_kbps, rural.up.rate_kbps) == (384, 128)
    assert (rural.down.delay_ms, rural.down.jitter_ms, rural.down.loss) == (150, 25, 0.02)
    worst = PROFILES["worst"].segments[0].profile
    assert worst is not None
    assert (worst.up.rate_kbps, worst.up.delay_ms, worst.up.loss, worst.up.burst) == (
        32,
        400,
        0.05,
        2.0,
    )
    assert set(PROFILES) == {"lan", "4g", "rural", "edge", "worst", "outage", "handover"}
    assert "address change" in PROFILES["handover"].note


def test_command_line_flags_make_a_custom_profile() -> None:
    args = parser().parse_args(
        [
            "--listen",
            "127.0.0.1:1",
            "--target",
            "127.0.0.1:2",
            "--rate-down",
            "384",
            "--rate-up",
            "128",
            "--delay",
            "150",
            "--jitter",
            "25",
            "--loss",
            "0.02",
            "--burst",
            "2",
            "--queue",
            "50",
        ]
    )
    link = schedule_from(args).segments[0].profile
    assert link is not None
    assert link.down == DirectionProfile(384, 150, 25, 0.02, 2.0, 50)
    assert link.up.rate_kbps == 128


# self-check


def test_the_self_check_accepts_ten_percent_and_no_more() -> None:
    configured = DirectionProfile(rate_kbps=384, delay_ms=150, loss=0.02)
    assert verify(configured, Measurement(rate_kbps=350, delay_ms=164, loss=0.0219)).valid
    verdict = verify(configured, Measurement(rate_kbps=340, delay_ms=170, loss=0.0225))
    assert not verdict.valid
    assert len(verdict.reasons) == 3


def test_the_self_check_has_no_rate_for_an_unlimited_link_and_a_floor_for_tiny_delays() -> None:
    lan = DirectionProfile()
    assert verify(lan, Measurement(rate_kbps=None, delay_ms=1.5, loss=0.0)).valid
    assert not verify(lan, Measurement(rate_kbps=None, delay_ms=1.5, loss=0.001)).valid


def test_loss_is_measured_without_queue_and_blackout_drops() -> None:
    # 1 000 sent: 100 in a blackout, 500 dropped by a full queue, 382 delivered: 18 lost
    assert measured_loss(1000, 382, 500, 100) == pytest.approx(18 / 900)


# what the relay can check during a call (no reference stream)


def test_packets_queued_behind_a_busy_bottleneck_are_marked_busy() -> None:
    link = direction(DirectionProfile(rate_kbps=8, bucket_bytes=100, delay_ms=50))
    fates = [link.offer(0.0, 100) for _ in range(3)]
    # 1 000 bytes/s: the first uses the bucket, the others wait 0.1 s each behind it
    assert [f.leaves for f in fates] == pytest.approx([0.0, 0.1, 0.2])
    assert [f.busy for f in fates] == [False, True, True]
    # one arriving after the queue drained finds the bottleneck idle
    assert not link.offer(5.0, 100).busy
    counters = link.counters.as_dict()
    assert counters["queue_mean_ms"] == pytest.approx(300 / 4)
    assert counters["propagation_mean_ms"] == pytest.approx(50)
    assert counters["hold_mean_ms"] == pytest.approx(0)
    assert counters["delay_mean_ms"] == pytest.approx(50 + 300 / 4)


def test_holding_packets_in_order_is_counted_apart_from_the_drawn_delay() -> None:
    link = direction(DirectionProfile(delay_ms=100, jitter_ms=50), seed=3)
    for i in range(2000):
        link.offer(i * 0.001, 100)
    counters = link.counters.as_dict()
    assert counters["propagation_mean_ms"] == pytest.approx(100, abs=3)
    assert counters["hold_mean_ms"] > 10  # dense traffic: no overtaking costs delay
    assert counters["delay_mean_ms"] == pytest.approx(
        counters["propagation_mean_ms"] + counters["hold_mean_ms"]
    )


def sends_of(fates: list[Fate], late: list[float]) -> Sends:
    sends = Sends()
    for fate, lateness in zip(fates, late, strict=True):
        assert fate.deliver_at is not None
        sends.record(fate.deliver_at + lateness, fate, 100)
    return sends


def test_the_busy_rate_is_the_configured_rate_when_the_relay_keeps_time() -> None:
    link = direction(DirectionProfile(rate_kbps=8, bucket_bytes=100, delay_ms=50, jitter_ms=20))
    fates = [link.offer(0.0, 100) for _ in range(11)]
    sends = sends_of(fates, [0.0] * 11)
    assert sends.busy_packets == 10
    assert sends.busy_rate_kbps() == pytest.approx(8)  # jitter does not blur it
    assert sends.as_dict()["late_max_ms"] == 0


def test_a_late_relay_shows_in_the_busy_rate_and_the_lateness() -> None:
    link = direction(DirectionProfile(rate_kbps=8, bucket_bytes=100))
    fates = [link.offer(0.0, 100) for _ in range(11)]
    # the last packet went out 250 ms late: 1 000 bytes took 1.25 s instead of 1 s
    sends = sends_of(fates, [0.0] * 10 + [0.25])
    assert sends.busy_rate_kbps() == pytest.approx(6.4)
    assert sends.as_dict()["late_max_ms"] == pytest.approx(250)
    assert Sends().busy_rate_kbps() is None
    with pytest.raises(ValueError, match="delivered"):
        Sends().record(0.0, Fate(None, DropReason.LOSS), 100)


def test_a_small_sample_widens_the_loss_tolerance_and_an_idle_link_skips_the_rate() -> None:
    configured = DirectionProfile(rate_kbps=128, delay_ms=150, loss=0.02)
    measured = Measurement(rate_kbps=None, delay_ms=150, loss=0.027)
    # 0.027 is 35 % off; over 1 000 packets three standard errors are 0.013
    assert not verify(configured, measured, check_rate=False).valid
    verdict = verify(configured, measured, loss_samples=1000, check_rate=False)
    assert verdict.valid
    assert verdict.unchecked
    assert "rate" in verdict.unchecked[0]
    assert not verify(configured, measured, loss_samples=1000).valid  # the rate is missing
    assert not verify(configured, Measurement(None, 150, 0.04), loss_samples=1000).valid
    assert not verify(configured, Measurement(None, 150, 0.0), loss_samples=1000).valid


def test_a_call_direction_is_measured_from_the_relay_counters() -> None:
    counters = {
        "received": 1100, "dropped_blackout": 100, "dropped_loss": 20,
        "busy_s": 2.0, "busy_bytes": 32_000, "propagation_mean_ms": 149.0,
        "late_mean_ms": 1.5, "queue_mean_ms": 80.0, "hold_mean_ms": 4.0,
    }  # fmt: skip
    measured = call_measurement(counters)
    assert measured.measurement == Measurement(rate_kbps=128.0, delay_ms=150.5, loss=0.02)
    assert measured.loss_samples == 1000
    assert measured.rate_checked
    assert measured.verdict(DirectionProfile(rate_kbps=128, delay_ms=150, loss=0.02)).valid
    assert not measured.verdict(DirectionProfile(rate_kbps=200, delay_ms=150, loss=0.02)).valid
    idle = call_measurement({**counters, "busy_s": 0.5})
    assert not idle.rate_checked
    assert idle.measurement.rate_kbps is None
    assert idle.verdict(DirectionProfile(rate_kbps=200, delay_ms=150, loss=0.02)).valid


# handover


def test_an_at_sign_moves_the_client_to_a_new_address() -> None:
    schedule = parse_schedule("4g:30,@rural:10,4g")
    assert [s.new_address for s in schedule.segments] == [False, True, False]
    assert schedule.as_dict()["segments"][1]["new_address"] is True
    handover = PROFILES["handover"]
    assert [s.new_address for s in handover.segments] == [False, True]
    assert {s.profile for s in handover.segments} == {PROFILES["4g"].segments[0].profile}
