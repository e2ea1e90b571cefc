"""The one thread that runs an engine's store calls (:class:`StoreThread`)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StoreThread:
    """The one thread that runs an engine's store calls, one at a time, off the event
    loop. A result comes back with one wake-up of the loop (``call_soon_threadsafe``),
    without ``run_in_executor``'s chain of futures: every submission makes such a call."""

    def __init__(self, initializer: Callable[[], None]) -> None:
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        # a daemon: an engine never stopped does not hold the interpreter at exit (a commit is atomic)
        self._thread = threading.Thread(target=self._run, args=(initializer,), name="hal-store", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, fn))
        return future

    def _run(self, initializer: Callable[[], None]) -> None:
        initializer()
        while (item := self._queue.get()) is not None:
            loop, future, fn = item
            try:
                result, error = fn(), None
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody waits
                pass

    def shutdown(self) -> None:
        """Run what is queued, then stop."""
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)



__all__ = ["StoreThread"]
