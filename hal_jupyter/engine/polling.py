"""Polling: asking providers about the batches they hold, with backoff.

Each batch a provider accepted is polled first after its provider's shortest
interval, then at doubling intervals (with jitter) up to its longest, and at
once when the provider says it changed (its notifier: :meth:`Poller.poke`).
What a poll reports goes to the ledger as transitions; an answer the job store
could not take is kept and applied at the next poll, before the provider is
asked again (a local provider answers a finished run once). A batch is dropped
once none of its jobs is in flight here; a provider that failed
``max_poll_failures`` status checks in a row has lost contact: its jobs
become UNKNOWN (the remote work may still run), never guessed finished.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from . import lifecycle
from .boundary import message_of
from .calls import ProviderCalls
from .clock import Clock
from .contract import BatchSpec, Provider, Report, Settings
from .errors import StoreUnavailable
from .ledger import Ledger
from .registry import Registry
from .tasks import Tasks

log = logging.getLogger("hal_jupyter")
IN_FLIGHT_NAMES = lifecycle.names(lifecycle.IN_FLIGHT)


@dataclass
class Tracked:
    """A batch the provider holds: what to ask about, and when."""

    spec: BatchSpec
    remote_ids: dict[str, str]
    due: float
    delay: float
    polling: bool = False
    poked: bool = False
    failures: int = 0
    #: an answer the job store did not take (an outage): applied before the provider is asked again
    unapplied: dict[str, Report] = field(default_factory=dict)


class Poller:
    def __init__(self, ledger: Ledger, registry: Registry, calls: ProviderCalls, clock: Clock, settings: Settings) -> None:
        self.ledger = ledger
        self.registry = registry
        self.calls = calls
        self.clock = clock
        self.settings = settings
        self._tracked: dict[str, Tracked] = {}
        self._early: set[str] = set()  # pokes that came before their batch was tracked
        self._wake = asyncio.Event()
        self._tasks = Tasks("polling")

    def start(self) -> None:
        self._tasks.spawn(self._run())

    async def stop(self) -> None:
        await self._tasks.cancel()

    def track(self, spec: BatchSpec, remote_ids: dict[str, str], provider: Provider) -> None:
        """Poll this batch from now on (its jobs that were sent: those with a remote id)."""
        first, _ = provider.poll_interval
        poked = spec.id in self._early
        self._early.discard(spec.id)
        self._tracked[spec.id] = Tracked(spec, remote_ids, due=self.clock.now() + (0 if poked else first), delay=first)
        self._wake.set()

    def batch(self, batch_id: str | None) -> tuple[BatchSpec, dict[str, str]] | None:
        """The batch as its provider knows it, with its remote ids, if polled here."""
        tracked = self._tracked.get(batch_id or "")
        return None if tracked is None else (tracked.spec, tracked.remote_ids)

    def poke(self, batch_id: str) -> None:
        """The provider says the batch changed: poll it now (on the event loop)."""
        tracked = self._tracked.get(batch_id)
        if tracked is None:
            self._early.add(batch_id)
            return
        if tracked.polling:
            tracked.poked = True
        else:
            tracked.due = self.clock.now()
        self._wake.set()

    def forget_all(self) -> None:
        """Stop polling everything (the lease lapsed: other engines drive these jobs now)."""
        self._tracked.clear()
        self._early.clear()

    def __len__(self) -> int:
        return len(self._tracked)

    @property
    def busy(self) -> bool:
        """Whether a status check is under way."""
        return any(t.polling for t in self._tracked.values())

    def next_poll(self, batch_id: str) -> tuple[float, float] | None:
        """When the batch is polled next (on the engine's clock), and the interval it is at."""
        tracked = self._tracked.get(batch_id)
        return None if tracked is None else (tracked.due, tracked.delay)

    async def _run(self) -> None:
        while True:
            now = self.clock.now()
            for batch_id, tracked in list(self._tracked.items()):
                if not tracked.polling and tracked.due <= now:
                    tracked.polling = True
                    self._tasks.spawn(self.poll(batch_id, tracked))
            waiting = [t.due for t in self._tracked.values() if not t.polling]
            timeout = max(0.0, min(waiting) - self.clock.now()) if waiting else None
            self._wake.clear()
            await self.clock.wait(self._wake, timeout)

    async def poll(self, batch_id: str, tracked: Tracked) -> None:
        """One status check of one batch, then its next one scheduled."""
        provider = self.registry.get(tracked.spec.provider)
        ids = [job.id for job in tracked.spec.jobs]
        try:
            await self._ask(provider, batch_id, tracked, ids)
        except StoreUnavailable as exc:  # the answer is kept: a provider may give it once (the local simulator)
            log.warning("hal_jupyter: batch %s: the job store did not take the poll's answer: %s", batch_id, exc.message)
        finally:
            tracked.polling = False
        if not any(self.ledger.status(job_id) in IN_FLIGHT_NAMES for job_id in ids):
            if self._tracked.get(batch_id) is tracked:
                del self._tracked[batch_id]
            return
        _, longest = provider.poll_interval
        if tracked.poked:
            tracked.poked, tracked.due = False, self.clock.now()
        else:
            tracked.delay = min(tracked.delay * 2, longest)
            tracked.due = self.clock.now() + tracked.delay * self.clock.jitter(0.8, 1.2)
        self._wake.set()

    async def _ask(self, provider: Provider, batch_id: str, tracked: Tracked, ids: list[str]) -> None:
        if tracked.unapplied:  # the last answer first, then the provider at the next poll
            await self.ledger.report(tracked.unapplied)
            tracked.unapplied = {}
            return
        try:
            reports = await self.calls.call(provider, provider.poll, tracked.spec, tracked.remote_ids)
        except Exception as exc:  # noqa: BLE001 - a failed poll is retried with backoff, a bounded number of times
            reason = message_of(exc)
            log.warning("hal_jupyter: polling batch %s at %s failed: %s", batch_id, provider.name, reason)
            self.calls.health.failed(provider.name, reason)
            tracked.failures += 1
            if tracked.failures >= self.settings.max_poll_failures:
                message = (
                    f"lost contact: {tracked.failures} status checks at {provider.name} failed in a row "
                    f"(the last: {reason}); the remote job may still run"
                )
                await self.ledger.move(lifecycle.LOSE_CONTACT, ids, status_message=message)
            return
        tracked.failures = 0
        self.calls.health.succeeded(provider.name)
        tracked.unapplied = {job_id: report for job_id, report in reports.items() if job_id in tracked.remote_ids}
        await self.ledger.report(tracked.unapplied)
        tracked.unapplied = {}


__all__ = ["Poller", "Tracked"]
