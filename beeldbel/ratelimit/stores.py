"""Where rate-limit state lives: this process's memory, or Redis for several processes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis

from beeldbel.ratelimit.rules import Decision, Limit, decide

__all__ = ["MemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit, now: float) -> Decision:
        """Count one request for ``key``; the decision says whether it may go ahead."""

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """One process's limits. Bounded: the least recently seen keys are forgotten first."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys

    async def hit(self, key: str, limit: Limit, now: float) -> Decision:
        decision = decide(limit, self._tats.get(key), now)
        self._tats[key] = decision.tat
        self._tats.move_to_end(key)
        while len(self._tats) > self._max_keys:
            self._tats.popitem(last=False)
        return decision

    async def close(self) -> None:
        self._tats.clear()


# The same arithmetic as rules.decide, run atomically inside Redis. Numbers cross the
# boundary as '%.17g' strings: Lua's tostring keeps only 14 digits, which at epoch
# magnitudes rounds the TAT to 0.1 ms and makes Redis decide differently from Python.
_GCRA_LUA = """
local function exact(x) return string.format('%.17g', x) end
local tat = tonumber(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tolerance = interval * (burst - 1)
local current = now
if tat and tat > now then current = tat end
local allow_at = current - tolerance
if now < allow_at then
  return {0, exact(current), exact(allow_at - now)}
end
local new_tat = current + interval
local ttl_ms = math.ceil((new_tat - now) * 1000) + 1000
redis.call('SET', KEYS[1], exact(new_tat), 'PX', ttl_ms)
return {1, exact(new_tat), '0'}
"""


class RedisRateLimiter:
    """Limits shared by every process that talks to the same Redis."""

    def __init__(self, redis: Redis, prefix: str = "beeldbel:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_GCRA_LUA)

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        return cls(Redis.from_url(url))

    async def hit(self, key: str, limit: Limit, now: float) -> Decision:
        allowed, tat, retry_after = await self._script(
            keys=[self._prefix + key], args=[repr(now), repr(limit.interval), limit.burst]
        )
        return Decision(allowed=bool(int(allowed)), tat=float(tat), retry_after=float(retry_after))

    async def close(self) -> None:
        await self._redis.aclose()
