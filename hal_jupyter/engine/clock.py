"""The one source of time and randomness for every part of the engine.

Dispatch, polling, cancel, recovery and the coordinator read the time, sleep,
wait with a timeout and draw jitter only through a :class:`Clock` they are
given (as river's services share one stubbable time source). Production uses
:class:`Clock` itself; the unit tests give a fake one whose time moves only
when a test moves it, so retry backoff, poll schedules and lease expiry run
in milliseconds, and their jitter is seeded.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timezone


class Clock:
    """Monotonic seconds for schedules, wall-clock stamps for records, and jitter."""

    def __init__(self, rng: random.Random | None = None) -> None:
        #: the source of every random draw the engine makes (backoff and poll jitter)
        self.rng = rng or random.Random()

    def now(self) -> float:
        """Seconds on a monotonic clock (schedules, deadlines)."""
        return time.monotonic()

    def stamp(self) -> str:
        """The wall-clock time of a record's change: ISO 8601 UTC, microseconds."""
        return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait until ``event`` is set or ``timeout`` seconds passed (None: no limit); whether it was set."""
        if timeout is None:
            await event.wait()
            return True
        try:
            await asyncio.wait_for(event.wait(), max(0.0, timeout))
        except asyncio.TimeoutError:
            return event.is_set()
        return True

    def jitter(self, low: float, high: float) -> float:
        """A factor drawn uniformly from ``[low, high]``."""
        return self.rng.uniform(low, high)


__all__ = ["Clock"]
