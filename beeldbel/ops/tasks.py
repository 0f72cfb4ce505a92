"""Background tasks with an owner: started by name, cancelled and awaited on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

__all__ = ["BackgroundTasks"]

log = structlog.get_logger("beeldbel.tasks")


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def every(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        """Run ``job`` every ``seconds``; a failing run is logged and the loop goes on."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:
                    log.exception("background_job_failed", job=name)

        self.start(name, loop())

    def start(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        if self._closed or name in self._tasks:
            coroutine.close()  # refused: close it, or it warns "never awaited"
            if self._closed:
                raise RuntimeError("background tasks are shut down")
            raise ValueError(f"a background task named {name!r} already runs")
        # The coroutine itself becomes the task: a wrapper cancelled before its first
        # step would leave the coroutine un-awaited.
        self._tasks[name] = asyncio.create_task(coroutine, name=f"beeldbel:{name}")

    @property
    def running(self) -> list[str]:
        return [name for name, task in self._tasks.items() if not task.done()]

    async def close(self) -> None:
        """Cancel every task and wait until each has finished. Safe to call twice."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for name, result in zip(self._tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("background_task_failed", task=name, error=repr(result))
        self._tasks.clear()
