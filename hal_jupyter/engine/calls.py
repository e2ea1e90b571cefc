"""Provider calls off the event loop, and each provider's health.

Every blocking call of a provider (submit, poll, cancel, find_remote, listings)
runs in that provider's own bounded thread pool, so one slow cloud never
holds up another, or the server. A provider that calls back (its notifier:
"this batch changed") wakes the poller at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .contract import Provider

T = TypeVar("T")


class Health:
    """Failed calls in a row per provider: after ``degraded_after`` of them the
    provider is listed as degraded (its work is still retried), until a call succeeds."""

    def __init__(self, degraded_after: int) -> None:
        self.degraded_after = degraded_after
        self._streaks: dict[str, tuple[int, str]] = {}

    def succeeded(self, provider: str) -> None:
        self._streaks.pop(provider, None)

    def failed(self, provider: str, reason: str) -> None:
        count, _ = self._streaks.get(provider, (0, ""))
        self._streaks[provider] = (count + 1, reason)

    def degraded(self, provider: str) -> str | None:
        """Why the provider is degraded, or None."""
        count, reason = self._streaks.get(provider, (0, ""))
        if count < self.degraded_after:
            return None
        return f"degraded: its last {count} calls failed (retried with backoff); the last: {reason}"


class ProviderCalls:
    """One bounded pool per provider; ``on_notify(batch_id)`` runs on the event loop."""

    def __init__(self, degraded_after: int) -> None:
        self.health = Health(degraded_after)
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_notify: Callable[[str], None] = lambda _batch_id: None

    def start(self, on_notify: Callable[[str], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_notify = on_notify

    async def call(self, provider: Provider, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking provider call in that provider's own pool."""
        pool = self._pools.get(provider.name)
        if pool is None:
            pool = self._pools[provider.name] = ThreadPoolExecutor(
                max_workers=provider.max_concurrency, thread_name_prefix=f"hal-{provider.name}"
            )
            provider.set_notifier(self._notify_threadsafe)
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: fn(*args))

    def _notify_threadsafe(self, batch_id: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._on_notify, batch_id)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["Health", "ProviderCalls"]
