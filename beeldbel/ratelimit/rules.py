"""The generic cell rate algorithm (GCRA), as a pure function of the stored state and ``now``.

A limit of ``count`` requests per ``period`` seconds with a burst of ``burst`` means:
requests are spaced ``period / count`` apart on average, and up to ``burst`` may come
at once. The only state is the theoretical arrival time (TAT) of the next request.
``beeldbel.ratelimit.stores`` keeps the Redis Lua version of this in step; a shared
test table runs both.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decision", "Limit", "decide"]


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    period: float
    burst: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.period <= 0 or self.burst < 1:
            raise ValueError("a limit needs count >= 1, period > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        return self.period / self.count

    @classmethod
    def per_minute(cls, count: int) -> Limit:
        # A minute's worth may arrive at once: a page load fans out into several calls.
        return cls(count=count, period=60.0, burst=max(1, count // 4))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    tat: float
    retry_after: float


def decide(limit: Limit, tat: float | None, now: float) -> Decision:
    """Whether a request at ``now`` fits; returns the TAT to store if it does."""
    interval = limit.interval
    tolerance = interval * (limit.burst - 1)
    current = now if tat is None else max(tat, now)
    allow_at = current - tolerance
    if now < allow_at:
        return Decision(allowed=False, tat=current, retry_after=allow_at - now)
    return Decision(allowed=True, tat=current + interval, retry_after=0.0)
