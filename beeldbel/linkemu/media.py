"""The harness's media source: a synthetic "talking head" and a speech-like voice for aiortc.

Both are fixed and deterministic: frame ``n`` and audio frame ``n`` are always the same
picture and the same samples, whatever the machine or the link, so every variant
measured sends the same media. (Browsers use Chrome's fake devices instead: a
moving test pattern and a beep, the closest equivalent a browser offers.)

**Voice** (``SpeechTrack``): 48 kHz mono, 20 ms frames. A 3-second cycle of a
2-second phrase of eight syllables (180 ms voiced, 70 ms between them) and a 1-second
pause. A syllable is a glottal-like tone (fundamental gliding 120 → 160 Hz plus three
harmonics at 1/k amplitude) under a raised-cosine envelope peaking at -12 dBFS: about the
rhythm (4 syllables a second) and pitch of a calm adult voice. The pause is digital
silence, so a codec with DTX would stop sending there.

**Picture** (``TalkingHeadTrack``): 320x240 at 15 fps, a low-motion head and shoulders:
a static textured wall (a gradient with a fixed dither, so keyframes cost what a real
room costs), skin-toned oval face with eyes and hair that sways ±4 px every 4 s and a
mouth that opens with the voice's envelope. Little changes from one frame to the next,
as in a video check-in where someone sits in front of a tablet.

The tracks pace themselves on the event loop's clock and stamp frames by index (not by
clock), so a late event loop makes them catch up rather than skip.
"""

from __future__ import annotations

import asyncio
import fractions
import functools
import math
from array import array

import av
from aiortc.mediastreams import MediaStreamTrack

__all__ = [
    "AUDIO_FRAME_S",
    "SAMPLE_RATE",
    "VIDEO_FPS",
    "SpeechTrack",
    "TalkingHeadTrack",
    "speech_envelope",
    "talking_head_frame",
]

SAMPLE_RATE = 48_000
AUDIO_FRAME_S = 0.020
AUDIO_FRAME_SAMPLES = int(SAMPLE_RATE * AUDIO_FRAME_S)
VIDEO_FPS = 15
VIDEO_CLOCK = 90_000
WIDTH, HEIGHT = 320, 240

CYCLE_S = 3.0
SYLLABLES = 8
SYLLABLE_S = 0.180
SYLLABLE_GAP_S = 0.070
PEAK = 0.25 * 32767  # -12 dBFS


def speech_envelope(t: float) -> float:
    """The voice's loudness (0..1) ``t`` seconds into the stream."""
    t %= CYCLE_S
    index = int(t // (SYLLABLE_S + SYLLABLE_GAP_S))
    if index >= SYLLABLES:
        return 0.0  # the pause between phrases
    within = t - index * (SYLLABLE_S + SYLLABLE_GAP_S)
    if within >= SYLLABLE_S:
        return 0.0
    return 0.5 - 0.5 * math.cos(2 * math.pi * within / SYLLABLE_S)


@functools.cache
def _speech_cycle() -> bytes:
    """One cycle of the voice as s16 little-endian samples (computed once, 288 kB)."""
    samples = array("h")
    phase = 0.0
    for i in range(int(CYCLE_S * SAMPLE_RATE)):
        t = i / SAMPLE_RATE
        envelope = speech_envelope(t)
        if envelope == 0.0:
            samples.append(0)
            phase = 0.0
            continue
        within = (t % (SYLLABLE_S + SYLLABLE_GAP_S)) / SYLLABLE_S
        pitch = 120.0 + 40.0 * within
        phase += 2 * math.pi * pitch / SAMPLE_RATE
        tone = sum(math.sin(k * phase) / k for k in range(1, 5)) / 2.08
        samples.append(round(PEAK * envelope * tone))
    if samples.itemsize != 2:  # pragma: no cover - every supported platform
        raise RuntimeError("array('h') is not 16 bits here")
    return samples.tobytes()


def _speech_frame(index: int) -> bytes:
    cycle = _speech_cycle()
    frame_bytes = AUDIO_FRAME_SAMPLES * 2
    frames_per_cycle = len(cycle) // frame_bytes
    start = (index % frames_per_cycle) * frame_bytes
    return cycle[start : start + frame_bytes]


# The picture ---------------------------------------------------------------------------------

BACKGROUND_U, BACKGROUND_V = 124, 132
SKIN_Y, SKIN_U, SKIN_V = 172, 108, 152
HAIR_Y, HAIR_U, HAIR_V = 52, 124, 134
EYE_Y, MOUTH_Y, MOUTH_V = 34, 70, 160
SHIRT_Y, SHIRT_U, SHIRT_V = 80, 150, 112


@functools.cache
def _wall() -> bytes:
    """The static background: a vertical gradient with a fixed dither (an LCG)."""
    rows = bytearray()
    state = 12345
    for y in range(HEIGHT):
        base = 96 + y * 40 // HEIGHT
        for _ in range(WIDTH):
            state = (1103515245 * state + 12345) & 0x7FFFFFFF
            rows.append(base + (state >> 16) % 9 - 4)
    return bytes(rows)


def _span(cx: float, cy: float, rx: float, ry: float, y: float) -> tuple[int, int] | None:
    """Columns [x0, x1) of an ellipse on row ``y``, or None if the row misses it."""
    dy = (y - cy) / ry
    if abs(dy) >= 1.0:
        return None
    half = rx * math.sqrt(1.0 - dy * dy)
    return max(0, round(cx - half)), min(WIDTH, round(cx + half))


def _head(index: int) -> tuple[float, float, float]:
    """Centre x, centre y and mouth opening (px) of frame ``index``."""
    t = index / VIDEO_FPS
    sway = 4.0 * math.sin(2 * math.pi * t / 4.0)
    nod = 1.5 * math.sin(2 * math.pi * t / 5.5)
    return WIDTH / 2 + sway, HEIGHT * 0.42 + nod, 9.0 * speech_envelope(t)


def _paint(plane: bytearray, width: int, row: int, span: tuple[int, int] | None, v: int) -> None:
    if span is not None and span[1] > span[0]:
        start = row * width
        plane[start + span[0] : start + span[1]] = bytes((v,)) * (span[1] - span[0])


def talking_head_frame(index: int) -> tuple[bytes, bytes, bytes]:
    """Planes Y, U, V (yuv420p, tightly packed) of frame ``index``."""
    cx, cy, mouth = _head(index)
    luma = bytearray(_wall())
    chroma_w, chroma_h = WIDTH // 2, HEIGHT // 2
    u = bytearray((BACKGROUND_U,)) * (chroma_w * chroma_h)
    v = bytearray((BACKGROUND_V,)) * (chroma_w * chroma_h)
    # (ellipse centre x, centre y, radius x, radius y, Y, U, V, chroma too), back to front
    shapes = [
        (WIDTH / 2, HEIGHT * 1.05, 120.0, 70.0, SHIRT_Y, SHIRT_U, SHIRT_V),
        (cx, cy - 12, 62.0, 74.0, HAIR_Y, HAIR_U, HAIR_V),
        (cx, cy + 6, 54.0, 70.0, SKIN_Y, SKIN_U, SKIN_V),
        (cx - 20, cy - 6, 8.0, 4.5, EYE_Y, BACKGROUND_U, BACKGROUND_V),
        (cx + 20, cy - 6, 8.0, 4.5, EYE_Y, BACKGROUND_U, BACKGROUND_V),
    ]
    if mouth >= 0.5:
        shapes.append((cx, cy + 40, 16.0, mouth, MOUTH_Y, SKIN_U, MOUTH_V))
    for sx, sy, rx, ry, py, pu, pv in shapes:
        for y in range(max(0, int(sy - ry)), min(HEIGHT, int(sy + ry) + 1)):
            _paint(luma, WIDTH, y, _span(sx, sy, rx, ry, y), py)
        for y in range(max(0, int((sy - ry) / 2)), min(chroma_h, int((sy + ry) / 2) + 1)):
            span = _span(sx / 2, sy / 2, rx / 2, ry / 2, y)
            _paint(u, chroma_w, y, span, pu)
            _paint(v, chroma_w, y, span, pv)
    return bytes(luma), bytes(u), bytes(v)


def _fill(plane: av.video.plane.VideoPlane, packed: bytes, width: int) -> None:
    """Copies tightly packed rows into a plane whose rows may be padded."""
    if plane.line_size == width:
        plane.update(packed)
        return
    padding = b"\0" * (plane.line_size - width)
    rows = (packed[i : i + width] + padding for i in range(0, len(packed), width))
    plane.update(b"".join(rows))


# The tracks ----------------------------------------------------------------------------------


class _Paced(MediaStreamTrack):
    """Frame ``n`` is released ``n * interval`` seconds after the first, on the loop clock."""

    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.index = 0
        self._start: float | None = None

    async def _next_index(self) -> int:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self.index * self.interval
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        index = self.index
        self.index += 1
        return index


class SpeechTrack(_Paced):
    """The speech-like voice, 20 ms mono s16 frames at 48 kHz."""

    kind = "audio"
    interval = AUDIO_FRAME_S

    async def recv(self) -> av.AudioFrame:
        index = await self._next_index()
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(_speech_frame(index))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class TalkingHeadTrack(_Paced):
    """The synthetic head and shoulders, 320x240 yuv420p at 15 fps."""

    kind = "video"
    interval = 1.0 / VIDEO_FPS

    async def recv(self) -> av.VideoFrame:
        index = await self._next_index()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane, packed, width in zip(
            frame.planes, talking_head_frame(index), (WIDTH, WIDTH // 2, WIDTH // 2), strict=True
        ):
            _fill(plane, packed, width)
        frame.pts = index * (VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame
