"""Cancel: a job this engine drives, wherever it is.

Queued or held, it leaves its group and is CANCELLED. Being submitted, it is
CANCELLED at once and, if the provider takes its batch after all, cancelled
there as soon as its remote id is known (:meth:`Canceller.after_sent`). At the
provider (or UNKNOWN with a remote id), the provider is asked to cancel it.

A cancel asked for on another server reaches this engine as a request in the
store (``cancel_requested``): :meth:`Canceller.carry_out_requests` carries
those out. Nobody waits inside an HTTP request for another engine.
"""

from __future__ import annotations

import logging

from . import lifecycle
from .boundary import message_of
from .calls import ProviderCalls
from .contract import BatchSpec, Provider
from .dispatch import Dispatcher
from .errors import HalError
from .ledger import Ledger
from .polling import Poller
from .registry import Registry

log = logging.getLogger("hal_jupyter")
S = lifecycle.JobStatus
CANCELLED_BY_USER = "cancelled by the user"


class Canceller:
    def __init__(self, ledger: Ledger, registry: Registry, calls: ProviderCalls, dispatcher: Dispatcher, poller: Poller) -> None:
        self.ledger = ledger
        self.registry = registry
        self.calls = calls
        self.dispatcher = dispatcher
        self.poller = poller
        #: batch id -> jobs cancelled while the batch was being submitted
        self._mid_submit: dict[str, set[str]] = {}
        dispatcher.after_sent = self.after_sent

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job this engine drives; False if it does not drive it (or it ended)."""
        row = self.ledger.get(job_id)
        if row is None:
            return False
        status, message = S(row["status"]), CANCELLED_BY_USER
        if status in (S.QUEUED, S.HELD):
            self.dispatcher.unqueue(job_id)
        elif status == S.SUBMITTING:
            self._mid_submit.setdefault(row["batch_id"] or "", set()).add(job_id)
        elif row.get("remote_id"):
            message = await self._at_provider(row) or message
        done = await self.ledger.move(lifecycle.CANCEL, [job_id], status_message=message)
        return bool(done)

    async def _at_provider(self, row: dict) -> str | None:
        """Ask the provider to cancel a sent job; what went wrong, if anything."""
        try:
            provider = self.registry.get(row["provider"])
        except HalError as exc:
            return f"cancelled here; its provider cannot be reached from this engine: {exc.message}"
        known = self.poller.batch(row["batch_id"])
        if known is not None:
            spec, remote_ids = known
        else:  # a job taken over, or UNKNOWN: cancel it by its own remote id
            spec, remote_ids = self.dispatcher.spec(row["batch_id"] or "", [row]), {row["id"]: row["remote_id"]}
        return await self._remote(provider, spec, remote_ids, [row["id"]])

    async def after_sent(self, provider: Provider, spec: BatchSpec, remote_ids: dict[str, str]) -> None:
        """A batch was accepted (or given up): cancel at the provider what was cancelled meanwhile."""
        late = sorted(self._mid_submit.pop(spec.id, set()) & set(remote_ids))
        if late:
            await self._remote(provider, spec, remote_ids, late)

    async def _remote(self, provider: Provider, spec: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> str | None:
        try:
            await self.calls.call(provider, provider.cancel, spec, remote_ids, job_ids)
        except Exception as exc:  # noqa: BLE001 - reported on the job, not raised
            log.warning("hal_jupyter: cancel at %s failed: %s", provider.name, message_of(exc))
            return f"cancelled here; the cancel request to {provider.name} failed: {message_of(exc)}"
        return None

    async def carry_out_requests(self) -> None:
        """Cancel requests made on other servers for jobs this engine drives."""
        for job_id in await self.ledger.db(self.ledger.store.cancel_requests, self.ledger.engine_id):
            self.ledger.mark_cancel_requested(job_id)
            await self.cancel(job_id)

    def forget_all(self) -> None:
        self._mid_submit.clear()


__all__ = ["Canceller"]
