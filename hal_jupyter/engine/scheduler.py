"""The scheduler: the parts that drive jobs, put together.

Each part has one job and its own module: :mod:`.dispatch` (the batching
policy's batches, submitted with retry), :mod:`.polling` (providers asked
about what they hold), :mod:`.cancel` and :mod:`.recovery` (resume after a
restart, takeover after another engine's death). They share one ledger, one
set of provider pools (:mod:`.calls`) and one clock, and call each other only
through public methods.
"""

from __future__ import annotations

from typing import Any

from .calls import ProviderCalls
from .cancel import Canceller
from .clock import Clock
from .dispatch import Dispatcher
from .leases import Leases
from .ledger import Ledger
from .policy import BatchPolicy
from .polling import Poller
from .recovery import Recovery
from .registry import Registry
from .sessions import Sessions


class Scheduler:
    def __init__(
        self, ledger: Ledger, registry: Registry, policy: BatchPolicy, leases: Leases, clock: Clock, session_idle_s: float = 300.0
    ) -> None:
        settings = registry.settings
        self.calls = ProviderCalls(settings.degraded_after)
        self.poller = Poller(ledger, registry, self.calls, clock, settings)
        self.dispatcher = Dispatcher(ledger, registry, policy, self.calls, self.poller, clock, settings)
        self.sessions = self.dispatcher.sessions = Sessions(ledger, registry, self.calls, clock, session_idle_s)
        self.canceller = Canceller(ledger, registry, self.calls, self.dispatcher, self.poller)
        self.recovery = Recovery(ledger, leases, registry, self.dispatcher, self.poller, self.canceller)
        self._running = False

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        self.calls.start(self.poller.poke)
        self.dispatcher.start()
        self.poller.start()
        self.sessions.start()

    async def stop(self) -> None:
        self._running = False
        await self.dispatcher.stop()
        await self.poller.stop()
        await self.sessions.stop()
        self.calls.close()

    def info(self) -> dict[str, Any]:
        return {**self.dispatcher.info(), "batches_in_flight": len(self.poller)}


__all__ = ["Scheduler"]
