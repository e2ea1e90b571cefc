"""The background tasks of one part of the engine: started, logged if they fail, cancelled together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("hal_jupyter")


class Tasks:
    """Tasks a part spawns; a failure is logged (never lost), :meth:`cancel` ends them all."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hal_jupyter: a %s task failed", self.name, exc_info=task.exception())

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


async def every(clock: Any, seconds: Callable[[], float], work: Callable[[], Awaitable[Any]], what: str) -> None:
    """Run ``work`` every ``seconds()`` on the engine's clock, for ever: a store that does not
    answer is a warning (it is tried again next time), any other failure is logged; the loop
    outlives both."""
    from .errors import StoreUnavailable

    while True:
        await clock.sleep(seconds())
        try:
            await work()
        except StoreUnavailable as exc:
            log.warning("hal_jupyter: %s waits for the store: %s", what, exc.message)
        except Exception:  # noqa: BLE001 - the loop outlives any one failure
            log.exception("hal_jupyter: %s failed", what)


__all__ = ["Tasks", "every"]
