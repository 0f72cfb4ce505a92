"""Call-quality metrics from what an endpoint received, with made-up times (no clock, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from beeldbel.linkemu.quality import (
    AudioFrameSeen,
    audio_playout,
    browser_audio_continuity,
    browser_reception,
    jitter_buffer_delays_ms,
    percentile,
    recovery_s,
    unwrap,
    video_timeline,
)

SLOT = 0.020


def steady(count: int, delay: float = 0.1, start: float = 0.0) -> list[AudioFrameSeen]:
    """``count`` frames, 20 ms apart in the stream, each arriving ``delay`` after it was due."""
    return [AudioFrameSeen(start + i * SLOT, start + i * SLOT + delay) for i in range(count)]


# audio continuity (aiortc)


def test_every_frame_in_time_is_full_continuity() -> None:
    frames = steady(100)
    # the first frame arrives at 0.1 and plays at 0.35; slot 99 plays at 0.35 + 1.98
    playout = audio_playout(frames, end_s=0.35 + 99 * SLOT)
    assert len(playout.played) == 100
    assert playout.continuity == 1.0
    assert playout.largest_gap_s == 0.0


def test_slots_are_counted_to_the_end_of_the_run_even_when_nothing_comes() -> None:
    playout = audio_playout(steady(50), end_s=0.35 + 99 * SLOT)
    assert playout.continuity == pytest.approx(0.5)
    assert playout.largest_gap_s == pytest.approx(50 * SLOT)


def test_a_frame_later_than_the_deadline_is_not_played() -> None:
    frames = steady(100)
    # frames 40..49 come 300 ms after the first frame's delay: past the 250 ms deadline
    late = [
        AudioFrameSeen(f.media_s, f.arrival_s + 0.3) if 40 <= i < 50 else f
        for i, f in enumerate(frames)
    ]
    playout = audio_playout(late, end_s=0.35 + 99 * SLOT)
    assert playout.continuity == pytest.approx(0.9)
    assert playout.largest_gap_s == pytest.approx(10 * SLOT)
    # just inside the deadline is in time
    edge = [
        AudioFrameSeen(f.media_s, f.arrival_s + 0.25) if i == 40 else f
        for i, f in enumerate(frames)
    ]
    assert audio_playout(edge, end_s=0.35 + 99 * SLOT).continuity == 1.0


def test_the_playout_clock_starts_with_the_first_frame_to_arrive() -> None:
    frames = steady(100)
    # the first frame is held up 200 ms: everyone after it gets 200 ms more slack
    frames[0] = AudioFrameSeen(0.0, 0.3)
    later = [AudioFrameSeen(f.media_s, f.arrival_s + 0.4) for f in frames[1:]]
    playout = audio_playout([frames[0], *later], end_s=0.55 + 99 * SLOT)
    assert playout.first_playout_s == pytest.approx(0.55)
    assert playout.continuity == 1.0


def test_lost_frames_leave_gaps_and_duplicates_count_once() -> None:
    frames = [f for i, f in enumerate(steady(100)) if i % 10 != 3]
    playout = audio_playout([*frames, *frames[:5]], end_s=0.35 + 99 * SLOT)
    assert playout.continuity == pytest.approx(0.9)
    assert playout.largest_gap_s == pytest.approx(SLOT)


def test_declared_silence_counts_as_played() -> None:
    # DTX: the sender sent nothing for media time [0.4, 1.0): 30 slots
    frames = [f for f in steady(100) if not 0.4 <= f.media_s < 1.0 - 1e-9]
    end = 0.35 + 99 * SLOT
    assert audio_playout(frames, end_s=end).continuity == pytest.approx(0.7)
    assert audio_playout(frames, end_s=end, silent=[(0.4, 1.0)]).continuity == 1.0


def test_no_audio_at_all_has_no_continuity() -> None:
    playout = audio_playout([], end_s=10.0)
    assert playout.continuity is None
    assert playout.largest_gap_s is None
    assert recovery_s([], 5.0) is None


def test_frames_before_the_first_slot_are_ignored() -> None:
    frames = steady(10, start=1.0)
    stray = AudioFrameSeen(0.5, 1.15)  # older media that arrived after the first frame
    playout = audio_playout([*frames, stray], end_s=1.35 + 9 * SLOT)
    assert playout.continuity == 1.0


# recovery


def blackout(count: int, gone: range, delay: float = 0.1) -> list[AudioFrameSeen]:
    return [f for i, f in enumerate(steady(count, delay)) if i not in gone]


def test_recovery_is_measured_from_the_link_return_until_audio_flows_again() -> None:
    # slots 100..249 lost (3 s); slot 250 is media 5.0 and arrives at 5.1, slot 259 at 5.28
    frames = blackout(400, range(100, 250))
    playout = audio_playout(frames, end_s=0.35 + 399 * SLOT)
    assert playout.largest_gap_s == pytest.approx(3.0)
    assert recovery_s(frames, link_return_s=5.0) == pytest.approx(0.28)
    assert recovery_s([*frames, *frames[150:160]], link_return_s=5.0) == pytest.approx(0.28)


def test_a_stray_frame_is_not_recovery() -> None:
    # back at slot 250, but only slot 252 comes through before slot 260
    frames = blackout(400, range(100, 260))
    frames.append(steady(400)[252])
    assert recovery_s(frames, link_return_s=5.0) == pytest.approx(0.48)


def test_no_recovery_within_the_run_is_none() -> None:
    assert recovery_s(blackout(300, range(100, 300)), link_return_s=5.0) is None
    # what arrived before the link returned does not count, whatever its place
    early = [AudioFrameSeen(5.0 + i * SLOT, 4.0) for i in range(20)]
    assert recovery_s(early, link_return_s=5.0) is None


def test_audio_that_flows_again_too_late_to_play_recovers_but_is_not_continuous() -> None:
    late = [
        AudioFrameSeen(f.media_s, f.arrival_s + (0.5 if f.media_s >= 5.0 else 0.0))
        for f in blackout(400, range(100, 250))
    ]
    assert recovery_s(late, link_return_s=5.0) == pytest.approx(0.78)
    playout = audio_playout(late, end_s=0.35 + 399 * SLOT)
    assert playout.continuity == pytest.approx(100 / 400)  # only what came before


# video


def frames_at(fps: float, start: float, stop: float) -> list[float]:
    count = round((stop - start) * fps)
    return [start + i / fps for i in range(count)]


def test_a_steady_picture_has_its_rate_and_no_freezes() -> None:
    video = video_timeline(frames_at(15, 0.2, 10.0), start_s=0.0, end_s=10.0)
    assert video.frames == 147
    assert video.fps == pytest.approx(14.7)
    assert video.freeze_count == 0
    assert video.freeze_s == 0.0
    assert video.largest_gap_s == pytest.approx(1 / 15)
    assert video.first_picture_s == pytest.approx(0.2)


def test_a_freeze_is_three_mean_intervals_or_150_ms_more_than_the_mean() -> None:
    # at 15 fps (67 ms) the threshold is max(200 ms, 217 ms) = 217 ms
    base = frames_at(15, 0.0, 3.0)
    short = [*base, base[-1] + 0.21, *[base[-1] + 0.21 + (i + 1) / 15 for i in range(10)]]
    assert video_timeline(short, 0.0, 4.0).freeze_count == 0
    long = [*base, base[-1] + 0.23, *[base[-1] + 0.23 + (i + 1) / 15 for i in range(10)]]
    video = video_timeline(long, 0.0, 4.0)
    assert video.freeze_count == 1
    assert video.freeze_s == pytest.approx(0.23)
    # at 2 fps (500 ms) it takes three intervals: 1.5 s
    assert video_timeline([*frames_at(2, 0.0, 5.0), 4.5 + 1.4], 0.0, 10.0).freeze_count == 0
    video = video_timeline([*frames_at(2, 0.0, 5.0), 4.5 + 1.6], 0.0, 10.0)
    assert video.freeze_count == 1
    assert video.freeze_s == pytest.approx(1.6)
    # the mean follows the last 30 intervals: after a slow spell the bar is higher
    after = [*frames_at(2, 0.0, 5.0), 4.5 + 1.4, 4.5 + 1.4 + 1.6]
    assert video_timeline(after, 0.0, 10.0).freeze_count == 0


def test_a_picture_that_never_returns_is_the_largest_gap_but_no_freeze() -> None:
    video = video_timeline(frames_at(15, 0.0, 4.0), start_s=0.0, end_s=10.0)
    assert video.largest_gap_s == pytest.approx(10.0 - (4.0 - 1 / 15))
    assert video.freeze_count == 0


def test_pictures_outside_the_window_do_not_count() -> None:
    video = video_timeline([-1.0, 0.5, 1.0, 11.0], start_s=0.0, end_s=10.0)
    assert video.frames == 2
    assert video.fps == pytest.approx(0.2)
    empty = video_timeline([], 0.0, 10.0)
    assert (empty.frames, empty.fps, empty.largest_gap_s) == (0, 0.0, None)


# browsers


def test_browser_continuity_counts_only_concealed_sound_that_was_not_silence() -> None:
    assert browser_audio_continuity(48_000, 4_800, 0) == pytest.approx(0.9)
    assert browser_audio_continuity(48_000, 4_800, 4_800) == 1.0
    assert browser_audio_continuity(0, 0, 0) is None


def test_jitter_buffer_delay_per_interval_and_its_p95() -> None:
    # (jitterBufferDelay in seconds, jitterBufferEmittedCount), once a second
    samples = [(0.0, 0), (4.8, 48_000), (9.6, 96_000), (24.0, 144_000), (24.0, 144_000)]
    delays = jitter_buffer_delays_ms(samples)
    assert delays == pytest.approx([0.1, 0.1, 0.3])
    assert percentile(delays, 0.95) == pytest.approx(0.3)
    assert percentile(range(1, 101), 0.95) == 95
    assert percentile([], 0.95) is None


def test_rtp_timestamps_unwrap_across_the_32_bit_boundary() -> None:
    top = (1 << 32) - 960
    assert unwrap([top, 0, 960]) == [top, top + 960, top + 1920]
    assert unwrap([1920, 960, 2880]) == [1920, 960, 2880]  # out of order, not a wrap
    assert unwrap([]) == []


def stats(
    t: float, samples: int, concealed: int, silent: int, frames: int, freezes: int
) -> dict[str, Any]:
    return {
        "t": t,
        "audio": {
            "totalSamplesReceived": samples,
            "concealedSamples": concealed,
            "silentConcealedSamples": silent,
            "jitterBufferDelay": samples * 0.080,  # 80 ms for every sample emitted
            "jitterBufferEmittedCount": samples,
        },
        "video": {
            "framesDecoded": frames,
            "freezeCount": freezes,
            "totalFreezesDuration": freezes * 0.5,
        },
        "transport": {"bytesSent": 1000 * int(t), "bytesReceived": 2000 * int(t)},
    }


def test_a_browser_reception_is_what_the_counters_grew_by_over_the_window() -> None:
    samples = [
        {"t": 10.0, "audio": None, "video": None, "transport": None},  # nothing received yet
        stats(11.0, 48_000, 0, 0, 15, 0),
        stats(20.0, 480_000, 48_000, 24_000, 150, 2),
    ]
    pictures = [10.0 + i / 15 for i in range(150)]
    seen = browser_reception(samples, pictures)
    assert seen.audio_continuity == pytest.approx(1 - 24_000 / 480_000)
    assert seen.audio_jitter_buffer_p95_ms == pytest.approx(80)
    assert seen.audio_largest_gap_s is None  # not observable from counters
    assert seen.video_frames == 150
    assert seen.video_fps == pytest.approx(15)
    assert (seen.freeze_count, seen.freeze_s) == (2, 1.0)
    assert seen.largest_gap_s == pytest.approx(1 / 15)
    assert seen.first_picture_s == 0.0
    assert (seen.bytes_sent, seen.bytes_received) == (20_000, 40_000)
    assert seen.recovery_s is None
    assert set(seen.as_dict()) == {
        "audio_continuity", "audio_jitter_buffer_p95_ms", "audio_largest_gap_s", "video_fps",
        "video_frames", "freeze_count", "freeze_s", "largest_gap_s", "first_picture_s",
        "bytes_sent", "bytes_received", "recovery_s",
    }  # fmt: skip
    with pytest.raises(ValueError, match="two samples"):
        browser_reception(samples[:1], pictures)
