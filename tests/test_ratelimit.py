"""Rate limits: the pure GCRA, its two stores (memory and Redis) and the API edge."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from beeldbel.app import create_app
from beeldbel.clock import FixedClock
from beeldbel.identity.model import Role
from beeldbel.ratelimit.rules import Limit, decide
from beeldbel.ratelimit.stores import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from beeldbel.settings import load_settings
from tests.conftest import auth, token_for

REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "beeldbel:rl:"  # what RedisRateLimiter.from_url uses, so the app's keys
T0 = 1_795_942_800.0  # 2026-11-29T09:00:00Z: realistic magnitudes expose precision loss


# --- the pure algorithm ---------------------------------------------------------------------


def test_a_burst_passes_at_once_and_the_next_request_waits_one_interval() -> None:
    limit = Limit(count=60, period=60, burst=10)
    tat = None
    for _ in range(10):
        decision = decide(limit, tat, T0)
        assert decision.allowed
        tat = decision.tat
    refused = decide(limit, tat, T0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(1.0)
    assert refused.tat == tat
    after_wait = decide(limit, tat, T0 + refused.retry_after)
    assert after_wait.allowed
    assert after_wait.retry_after == 0.0


def test_waiting_less_than_retry_after_is_still_refused() -> None:
    limit = Limit(count=60, period=60, burst=10)
    tat = None
    for _ in range(10):
        tat = decide(limit, tat, T0).tat
    refused = decide(limit, tat, T0)
    early = decide(limit, tat, T0 + refused.retry_after - 0.01)
    assert not early.allowed
    assert early.retry_after == pytest.approx(0.01)


def test_an_idle_period_never_saves_up_more_than_the_burst() -> None:
    limit = Limit(count=60, period=60, burst=3)
    tat = decide(limit, None, T0).tat
    later = T0 + 3600
    results = []
    for _ in range(5):
        decision = decide(limit, tat, later)
        results.append(decision.allowed)
        tat = decision.tat
    assert results == [True, True, True, False, False]


@pytest.mark.parametrize(
    ("count", "period", "burst"), [(0, 60, 1), (1, 0, 1), (1, -1, 1), (1, 60, 0)]
)
def test_a_limit_that_allows_nothing_is_refused(count: int, period: float, burst: int) -> None:
    with pytest.raises(ValueError, match="a limit needs"):
        Limit(count=count, period=period, burst=burst)


def test_per_minute_limit_allows_a_quarter_minute_at_once() -> None:
    assert Limit.per_minute(600) == Limit(count=600, period=60.0, burst=150)
    assert Limit.per_minute(2).burst == 1


limits = st.builds(
    Limit,
    count=st.integers(min_value=1, max_value=100),
    period=st.floats(min_value=1.0, max_value=3600.0),
    burst=st.integers(min_value=1, max_value=20),
)
request_times = st.tuples(
    st.floats(min_value=0.0, max_value=2e9),
    st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=80),
).map(lambda start_and_gaps: _cumulative(*start_and_gaps))


def _cumulative(start: float, gaps: list[float]) -> list[float]:
    times, now = [], start
    for gap in gaps:
        now += gap
        times.append(now)
    return times


@given(limit=limits, times=request_times)
def test_no_window_ever_admits_more_than_burst_plus_its_share(
    limit: Limit, times: list[float]
) -> None:
    tat: float | None = None
    allowed: list[float] = []
    for now in times:
        decision = decide(limit, tat, now)
        if decision.allowed:
            allowed.append(now)
            assert decision.retry_after == 0.0
        else:
            # A refusal costs nothing: the stored state is what it was.
            assert tat is not None
            assert decision.tat == tat
            assert decision.retry_after > 0
        tat = decision.tat
    # The fullest window of any length starts and ends at admitted requests.
    # The 0.01 absorbs float rounding in the TAT sums, far below one request.
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            in_window = j - i + 1
            assert in_window <= limit.burst + (allowed[j] - start) / limit.interval + 0.01


# Clock readings as the app makes them: seconds since the epoch, in this century.
epoch_times = st.tuples(
    st.floats(min_value=1e9, max_value=4e9),
    st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=80),
).map(lambda start_and_gaps: _cumulative(*start_and_gaps))


@given(limit=limits, times=epoch_times)
def test_a_request_that_waits_its_retry_after_is_admitted(limit: Limit, times: list[float]) -> None:
    # Exact, not approximately: at epoch magnitudes allow_at - now and back is lossless.
    tat: float | None = None
    for now in times:
        decision = decide(limit, tat, now)
        if not decision.allowed:
            assert decide(limit, tat, now + decision.retry_after).allowed
            # What the Retry-After header says: whole seconds, rounded up, at least one.
            header = max(1, math.ceil(decision.retry_after))
            assert decide(limit, tat, now + header).allowed
        tat = decision.tat


# --- the two stores: one table of scenarios, run against both ----------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    limit: Limit
    steps: tuple[tuple[float, bool], ...]  # (seconds after T0, expected allowed)


SCENARIOS = (
    Scenario(
        "burst_then_one_per_interval",
        Limit(count=60, period=60, burst=10),
        ((0, True),) * 10 + ((0, False), (0.5, False), (1, True), (1, False), (2, True)),
    ),
    Scenario(
        "steady_rate_without_burst",
        Limit(count=2, period=1, burst=1),
        ((0, True), (0.25, False), (0.5, True), (0.75, False), (1.0, True), (1.0, False)),
    ),
    Scenario(
        "jitter_within_the_tolerance",
        Limit(count=10, period=10, burst=3),
        (
            (0, True),
            (0, True),
            (0, True),
            (0, False),
            (1, True),
            (1, False),
            (1.5, False),
            (2, True),
        ),
    ),
    Scenario(
        "idle_time_refills_only_up_to_the_burst",
        Limit(count=60, period=60, burst=3),
        (
            (0, True),
            (0, True),
            (0, True),
            (0, False),
            (100, True),
            (100, True),
            (100, True),
            (100, False),
        ),
    ),
    Scenario(
        "refused_requests_do_not_push_the_next_slot_back",
        Limit(count=1, period=10, burst=1),
        ((0, True), *((float(s), False) for s in range(1, 10)), (10, True), (10, False)),
    ),
    Scenario(
        # The TAT here is T0 + 1/3: deciding right needs every bit of a double.
        "fractional_interval_at_epoch_magnitude",
        Limit(count=3, period=1, burst=1),
        ((0, True), (0.33333, False), (0.33334, True), (0.6666, False), (0.6668, True)),
    ),
    Scenario(
        "sub_millisecond_interval",
        Limit(count=10_000, period=1, burst=2),
        ((0, True), (0, True), (0, False), (0.00009, False), (0.00011, True), (0.00011, False)),
    ),
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    prefix = f"beeldbel-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
def redis_limiter(redis: Redis, redis_prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis, prefix=redis_prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter()
    result: RateLimiter = request.getfixturevalue("redis_limiter")
    return result


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_each_store_decides_every_scenario_as_the_table_says(
    limiter: RateLimiter, scenario: Scenario
) -> None:
    got = [
        (offset, (await limiter.hit("k", scenario.limit, T0 + offset)).allowed)
        for offset, _ in scenario.steps
    ]
    assert got == list(scenario.steps)


@pytest.mark.redis
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_redis_and_memory_return_identical_decisions(
    redis_limiter: RedisRateLimiter, scenario: Scenario
) -> None:
    memory = MemoryRateLimiter()
    for offset, _ in scenario.steps:
        now = T0 + offset
        from_memory = await memory.hit("k", scenario.limit, now)
        from_redis = await redis_limiter.hit("k", scenario.limit, now)
        assert from_redis == from_memory, f"at T0 + {offset}"


@pytest.mark.redis
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=limits, times=request_times)
async def test_redis_matches_the_python_algorithm_on_any_sequence(
    redis_limiter: RedisRateLimiter, limit: Limit, times: list[float]
) -> None:
    key = uuid.uuid4().hex  # a fresh key per example; the fixture clears them all
    tat: float | None = None
    for now in times:
        expected = decide(limit, tat, now)
        assert await redis_limiter.hit(key, limit, now) == expected
        tat = expected.tat


@pytest.mark.redis
async def test_fifty_concurrent_hits_on_redis_admit_exactly_the_burst(
    redis_limiter: RedisRateLimiter,
) -> None:
    limit = Limit(count=1, period=60, burst=10)
    decisions = await asyncio.gather(*(redis_limiter.hit("shared", limit, T0) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


@pytest.mark.redis
async def test_redis_keys_expire_once_their_state_no_longer_matters(
    redis: Redis, redis_prefix: str, redis_limiter: RedisRateLimiter
) -> None:
    await redis_limiter.hit("k", Limit(count=1, period=60, burst=1), T0)
    assert [key async for key in redis.scan_iter(match=f"{redis_prefix}*")] == [
        f"{redis_prefix}k".encode()
    ]
    ttl_ms = await redis.pttl(f"{redis_prefix}k")
    assert 0 < ttl_ms <= 61_000


async def test_memory_store_forgets_the_least_recently_seen_key_first() -> None:
    memory = MemoryRateLimiter(max_keys=2)
    limit = Limit(count=1, period=60, burst=1)
    await memory.hit("a", limit, T0)
    await memory.hit("b", limit, T0)
    assert not (await memory.hit("a", limit, T0)).allowed  # "a" is now the most recent
    await memory.hit("c", limit, T0)  # evicts "b"
    assert (await memory.hit("b", limit, T0)).allowed
    assert not (await memory.hit("c", limit, T0)).allowed


# --- through the API ---------------------------------------------------------------------


@pytest.fixture
def api_clock() -> FixedClock:
    # Tokens are also checked against the wall clock, so start the fixed clock at "now".
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def make_client(
    aiohttp_client: Any, tmp_path: Path, database_url: str, api_clock: FixedClock
) -> Callable[..., Awaitable[TestClient]]:
    async def make(*, server_kwargs: dict[str, Any] | None = None, **overrides: Any) -> TestClient:
        app_settings = load_settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            log_format="console",
            **overrides,
        )
        app = create_app(app_settings, clock=api_clock)
        client: TestClient = await aiohttp_client(app, server_kwargs=server_kwargs)
        return client

    return make


def _metric_values(text: str, sample_name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name
    }


async def test_exceeding_the_address_limit_is_a_429_with_retry_after_and_the_error_shape(
    make_client: Any, api_clock: FixedClock
) -> None:
    client = await make_client(rate_limit_per_address=8, rate_limit_per_principal=1000)
    headers = auth(token_for(client, Role.WORKER))
    for _ in range(2):  # per_minute(8): a burst of 2, then one per 7.5 s
        assert (await client.get("/api/v1/teams", headers=headers)).status == 200
    refused = await client.get("/api/v1/teams", headers=headers)
    assert refused.status == 429
    retry_after = refused.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    body = await refused.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "rate_limited"
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert body["error"]["details"] == {"scope": "address"}
    api_clock.advance(timedelta(seconds=int(retry_after)))
    assert (await client.get("/api/v1/teams", headers=headers)).status == 200


@pytest.mark.parametrize("elapsed", [0.0, 0.5, 9.9995, 10.0001, 14.999999])
async def test_waiting_the_retry_after_header_is_always_long_enough(
    make_client: Any, api_clock: FixedClock, elapsed: float
) -> None:
    client = await make_client(rate_limit_per_address=4)  # one request per 15 s, no burst
    assert (await client.get("/healthz")).status == 200  # not limited: must not count
    assert (await client.get("/api/openapi.json")).status == 200
    api_clock.advance(timedelta(seconds=elapsed))
    refused = await client.get("/api/openapi.json")
    assert refused.status == 429
    api_clock.advance(timedelta(seconds=int(refused.headers["Retry-After"])))
    assert (await client.get("/api/openapi.json")).status == 200


async def test_health_readiness_and_metrics_are_never_rate_limited(make_client: Any) -> None:
    client = await make_client(rate_limit_per_address=4)
    assert (await client.get("/api/v1/teams")).status == 401  # spends the address's budget
    assert (await client.get("/api/v1/teams")).status == 429
    for _ in range(10):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await client.get(path)
            assert response.status == 200, path
    assert (await client.get("/api/v1/teams")).status == 429


async def test_each_principal_has_its_own_budget(make_client: Any) -> None:
    client = await make_client(rate_limit_per_address=10_000, rate_limit_per_principal=4)
    alice = auth(token_for(client, Role.WORKER, subject="staff:alice"))
    alice_again = auth(token_for(client, Role.ADMIN, subject="staff:alice"))
    bob = auth(token_for(client, Role.WORKER, subject="staff:bob"))
    assert (await client.get("/api/v1/teams", headers=alice)).status == 200
    refused = await client.get("/api/v1/teams", headers=alice)
    assert refused.status == 429
    assert (await refused.json())["error"]["details"] == {"scope": "principal"}
    # Another token for the same subject shares the budget; another subject does not.
    assert (await client.get("/api/v1/teams", headers=alice_again)).status == 429
    assert (await client.get("/api/v1/teams", headers=bob)).status == 200
    assert (await client.get("/api/v1/teams", headers=bob)).status == 429


async def test_refused_requests_are_counted_by_scope_in_the_metrics(make_client: Any) -> None:
    client = await make_client(rate_limit_per_address=8, rate_limit_per_principal=4)
    alice = auth(token_for(client, Role.WORKER, subject="staff:alice"))
    statuses = [(await client.get("/api/v1/teams", headers=alice)).status for _ in range(5)]
    # Address burst 2, principal burst 1: the 2nd is the principal's refusal, then the address's.
    assert statuses == [200, 429, 429, 429, 429]
    metrics = await (await client.get("/metrics")).text()
    assert _metric_values(metrics, "beeldbel_rate_limited_total") == {
        (("scope", "address"),): 3.0,
        (("scope", "principal"),): 1.0,
    }
    requests = _metric_values(metrics, "beeldbel_http_requests_total")
    assert requests[(("method", "GET"), ("route", "/api/v1/teams"), ("status", "429"))] == 4.0


@pytest.fixture
def loopback_host() -> str:
    # A loopback address of this test's own, so the address budget in Redis is not shared.
    value = uuid.uuid4().int
    return f"127.{value % 250 + 1}.{value // 250 % 250 + 1}.{value // 62500 % 250 + 1}"


@pytest.fixture
def subject() -> str:
    return f"staff:{uuid.uuid4()}"


@pytest.fixture
async def cleanup_app_keys(redis: Redis, loopback_host: str, subject: str) -> AsyncIterator[None]:
    yield
    await redis.delete(
        f"{REDIS_PREFIX}address:{loopback_host}", f"{REDIS_PREFIX}principal:{subject}"
    )


@pytest.mark.redis
@pytest.mark.usefixtures("cleanup_app_keys")
async def test_two_app_instances_on_one_redis_share_a_principals_budget(
    make_client: Any, loopback_host: str, subject: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "rate_limit_per_address": 10_000,
        "rate_limit_per_principal": 4,
        "server_kwargs": {"host": loopback_host},
    }
    first = await make_client(**shared)
    second = await make_client(**shared)
    headers = auth(token_for(first, Role.WORKER, subject=subject))
    assert (await first.get("/api/v1/teams", headers=headers)).status == 200
    refused = await second.get("/api/v1/teams", headers=headers)
    assert refused.status == 429
    assert (await refused.json())["error"]["details"] == {"scope": "principal"}
    assert (await first.get("/api/v1/teams", headers=headers)).status == 429
