"""Graceful shutdown: in-flight requests finish, background tasks are cancelled and awaited."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from beeldbel.api import appkeys
from beeldbel.api.routing import Call, DataClass, Operation, register
from beeldbel.app import create_app
from beeldbel.ops.tasks import BackgroundTasks
from beeldbel.settings import Settings

SLOW_BODY = "klaar na een seconde"


async def wait_for(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=10)
    except TimeoutError:
        pytest.fail(f"timed out waiting until {what}")


async def test_shutdown_finishes_the_in_flight_request_then_cancels_background_tasks(
    settings: Settings,
) -> None:
    events: list[str] = []
    handler_started = asyncio.Event()
    probe_started = asyncio.Event()

    async def slow(call: Call) -> web.Response:
        handler_started.set()
        await asyncio.sleep(1)
        events.append("response ready")
        return web.Response(text=SLOW_BODY)

    async def probe() -> None:
        probe_started.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            events.append("background task cancelled")
            raise

    app = create_app(settings)
    register(
        app,
        [
            Operation(
                "GET",
                "/slow",
                slow,
                "testSlow",
                "Answers after a second",
                "test",
                DataClass.NONE,
                public=True,
                rate_limited=False,
            )
        ],
    )
    runner = web.AppRunner(app, shutdown_timeout=10)
    await runner.setup()
    cleaned_up = False
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        tasks = app[appkeys.TASKS]
        tasks.start("probe", probe())
        await wait_for(probe_started, "the background task runs")
        assert sorted(tasks.running) == [
            "close_unjoined_calls",
            "extend_agenda_horizon",
            "probe",
            "prune_idempotency_keys",
            "report_retention",
            "seal_audit_log",
            "tick_call_quality",
            "tick_calls",
        ]

        async with aiohttp.ClientSession() as session:

            async def fetch() -> tuple[int, str]:
                async with session.get(f"http://127.0.0.1:{port}/slow") as response:
                    return response.status, await response.text()

            request = asyncio.create_task(fetch())
            await wait_for(handler_started, "the slow handler runs")
            cleanup = asyncio.create_task(runner.cleanup())
            status, body = await asyncio.wait_for(request, timeout=10)
            await asyncio.wait_for(cleanup, timeout=15)
            cleaned_up = True
    finally:
        if not cleaned_up:
            await runner.cleanup()

    assert (status, body) == (200, SLOW_BODY)
    assert events == ["response ready", "background task cancelled"]
    assert tasks.running == []


# BackgroundTasks on its own -----------------------------------------------------------


async def test_every_keeps_running_after_a_failing_job() -> None:
    tasks = BackgroundTasks()
    calls = 0
    third_call = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third_call.set()
        if calls <= 2:
            raise RuntimeError(f"failure {calls}")

    with capture_logs() as logs:
        tasks.every("flaky", 0.001, flaky)
        try:
            await wait_for(third_call, "the job ran a third time")
            assert tasks.running == ["flaky"]
        finally:
            await tasks.close()

    failures = [entry for entry in logs if entry["event"] == "background_job_failed"]
    assert [entry["job"] for entry in failures] == ["flaky", "flaky"]
    assert tasks.running == []


async def test_close_cancels_and_awaits_every_task_and_is_safe_twice() -> None:
    tasks = BackgroundTasks()
    started = asyncio.Event()
    finished: list[str] = []

    async def sleeper() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("sleeper")

    tasks.start("sleeper", sleeper())
    await wait_for(started, "the task runs")

    await tasks.close()
    assert finished == ["sleeper"]  # awaited, not just cancelled
    await tasks.close()
    assert tasks.running == []
    assert finished == ["sleeper"]


async def test_close_right_after_start_closes_the_coroutine() -> None:
    tasks = BackgroundTasks()

    async def never_started() -> None:
        await asyncio.Event().wait()

    coroutine = never_started()
    tasks.start("early", coroutine)
    await tasks.close()

    assert coroutine.cr_frame is None  # finished, so it cannot warn "never awaited"
    assert tasks.running == []


async def test_start_after_close_raises_and_closes_the_refused_coroutine() -> None:
    tasks = BackgroundTasks()
    await tasks.close()

    async def late() -> None:
        await asyncio.sleep(0)

    coroutine = late()
    with pytest.raises(RuntimeError, match="shut down"):
        tasks.start("late", coroutine)
    assert coroutine.cr_frame is None
    with pytest.raises(RuntimeError, match="shut down"):
        tasks.every("late_loop", 60, late)
    assert tasks.running == []


async def test_a_second_task_with_the_same_name_is_refused() -> None:
    tasks = BackgroundTasks()
    try:
        tasks.start("only", asyncio.Event().wait())
        duplicate = asyncio.sleep(0)
        with pytest.raises(ValueError, match="'only' already runs"):
            tasks.start("only", duplicate)
        assert duplicate.cr_frame is None
        assert tasks.running == ["only"]
    finally:
        await tasks.close()
