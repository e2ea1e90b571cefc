"""Fakes at the engine's boundaries: a clock that moves only when a test moves it, and
a provider whose every answer a test scripts (as procrastinate's InMemoryConnector
makes its worker testable).

Both are test doubles: they live here, never in the package.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from hal_jupyter.engine.clock import Clock
from hal_jupyter.engine.contract import BatchSpec, JobSpec, Provider, Report, Submission
from hal_jupyter.engine.models import BackendInfo, CostEstimate

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakeClock(Clock):
    """Time stands still until :meth:`advance`; sleepers wake in deadline order; jitter is seeded."""

    def __init__(self, seed: int = 7) -> None:
        super().__init__(random.Random(seed))
        self.t = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.sleeps: list[float] = []  # every sleep asked for, in order (backoff checks read it)

    def now(self) -> float:
        return self.t

    def stamp(self) -> str:
        moment = EPOCH + timedelta(seconds=self.t - 1000.0)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), future))
        await future

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout is None:
            await event.wait()
            return True
        if timeout <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        # the deadline is registered now, not by a task that runs later: a test that
        # advances the clock right away passes it
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + timeout, next(self._order), future))
        waiter = asyncio.ensure_future(event.wait())
        waiter.add_done_callback(lambda _: future.done() or future.set_result(None))
        try:
            await future
        finally:
            waiter.cancel()
            if not future.done():
                future.cancel()
        return event.is_set()

    async def advance(self, seconds: float) -> None:
        """Move time on, waking every sleeper whose deadline passes, in order."""
        await settle()  # what is ready registers its deadlines first
        target = self.t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, deadline)
            if not future.done():
                future.set_result(None)
                await settle()
        self.t = target
        await settle()

    def sleeping(self) -> int:
        """Sleepers still waiting (cancelled ones left out)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())


async def settle(rounds: int = 20) -> None:
    """Let the event loop run what is ready (no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def until(predicate: Callable[[], Any], what: str = "the condition", limit_s: float = 10.0) -> Any:
    """Yield to the loop until ``predicate()`` is truthy (work on the store's and the
    providers' threads finishes meanwhile); fail after ``limit_s`` of real time.
    No time passes on the engine's clock."""
    deadline = time.monotonic() + limit_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {limit_s} s")
        await asyncio.sleep(0)


class ScriptedProvider(Provider):
    """A provider whose answers the test scripts, per call, in order.

    ``submits``: what each ``submit`` does: an exception to raise, a ``Submission``,
    or a callable ``(batch) -> Submission``; when the script is empty, every job is
    accepted with remote id ``r-<job id>``. ``polls``: per call, an exception or a
    ``{job_id: Report}`` (or a callable ``(batch, remote_ids)``); empty: nothing new.
    ``found``: what ``find_remote`` answers. Every call is recorded.
    """

    name = "scripted"
    kind = "quantum"
    description = "a scripted provider for the unit tests"
    max_batch_size = 100
    resubmit_safe = False
    remote_survives_restart = True
    poll_interval = (1.0, 8.0)

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.submits: list[Any] = []
        self.polls: list[Any] = []
        self.found: Any = None
        self.submitted: list[BatchSpec] = []
        self.polled: list[tuple[str, dict[str, str]]] = []
        self.cancels: list[tuple[str, list[str]]] = []
        self.finds: list[str] = []
        self.gate: threading.Event | None = None  # set: submit waits for it (a call in flight)
        self.entered = threading.Event()
        self.cancel_error: Exception | None = None

    def backends(self) -> list[BackendInfo]:
        return [BackendInfo(name="fake", num_qubits=5, simulator=True)]

    def default_backend(self) -> str:
        return "fake"

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return CostEstimate(amount=0.5, basis="scripted")

    def submit(self, batch: BatchSpec) -> Submission:
        self.submitted.append(batch)
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        step = self.submits.pop(0) if self.submits else None
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(batch)
        if step is not None:
            return step
        return Submission(remote_ids={job.id: f"r-{job.id}" for job in batch.jobs})

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        self.polled.append((batch.id, dict(remote_ids)))
        step = self.polls.pop(0) if self.polls else {}
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(batch, remote_ids)
        return step

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        self.cancels.append((batch.id, list(job_ids)))
        if self.cancel_error is not None:
            raise self.cancel_error

    def find_remote(self, batch: BatchSpec) -> Submission | None:
        self.finds.append(batch.id)
        return self.found(batch) if callable(self.found) else self.found


class ScriptedClassical(ScriptedProvider):
    name = "scripted_classical"
    kind = "classical"


class TokenProvider(ScriptedProvider):
    """Takes a batch twice as once (an idempotency token): resubmitted, never looked up."""

    name = "tokened"
    resubmit_safe = True


class LocalProvider(ScriptedProvider):
    """Free local work that dies with its engine: run again after a restart."""

    name = "localish"
    resubmit_safe = True
    remote_survives_restart = False


class HttpError(Exception):
    """An SDK's HTTP error, told apart by its status (as :mod:`hal_jupyter.engine.retry` reads it)."""

    def __init__(self, status_code: int, message: str = "injected") -> None:
        super().__init__(f"{status_code} {message}")
        self.status_code = status_code


class ReadTimeout(Exception):
    """No answer: the call may have been taken."""
