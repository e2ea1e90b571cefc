"""Recovery: taking up jobs nobody drives, after a restart or another engine's death.

Both are one case: a claim (:mod:`.leases`) hands this engine unfinished jobs
whose engine is gone (this server's own previous process, or another engine
whose lease expired) and queued jobs nobody drives. Queued jobs are queued
again. For a batch that was in flight, its provider decides (README
"Guarantees"):

- free local work that died with its engine runs again (at least once);
- remote work whose remote ids are known is re-attached and polled;
- a batch the provider takes twice as once (an idempotency token) is sent again;
- otherwise the provider is asked whether it has the batch (``find_remote``):
  found, its remote ids are stored; surely not, it is queued again; when the
  provider cannot tell, the jobs become UNKNOWN, never sent again on a guess.

Also here: jobs the store says this engine drives but memory lost (a write
that failed while the store was down), and a lapsed lease (every job dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import lifecycle
from .cancel import Canceller
from .contract import Provider, Submission
from .dispatch import Dispatcher
from .errors import HalError
from .leases import Leases
from .ledger import Ledger, Row
from .polling import Poller
from .registry import Registry

log = logging.getLogger("hal_jupyter")
S = lifecycle.JobStatus
IN_FLIGHT_NAMES = lifecycle.names(lifecycle.IN_FLIGHT)
AGAIN = "queued again: the engine that was submitting it stopped"
RAN_AGAIN = "queued again: its free local run died with the engine that ran it"


class Recovery:
    def __init__(self, ledger: Ledger, leases: Leases, registry: Registry, dispatcher: Dispatcher, poller: Poller, canceller: Canceller) -> None:
        self.ledger = ledger
        self.leases = leases
        self.registry = registry
        self.dispatcher = dispatcher
        self.poller = poller
        self.canceller = canceller
        self._missing: set[str] = set()

    def providers(self) -> list[str]:
        """The providers this engine drives: the registry's (after its filters)."""
        return self.registry.names()

    async def claim(self) -> int:
        """Claim what the store lets this engine drive and resume it; how many jobs."""
        engine_id, providers = self.ledger.engine_id, self.providers()
        if not await self.ledger.db(self.leases.has_work, engine_id, providers):
            return 0
        rows = await self.ledger.db(self.leases.claim, engine_id, providers)
        if not rows:
            return 0
        self.ledger.adopt(rows)
        taken = sum(1 for r in rows if r["status"] != S.QUEUED.value or r.get("batch_id"))
        log.info("hal_jupyter: engine %s claimed %d job(s) (%d in flight from a gone engine)", engine_id, len(rows), taken)
        await self.resume(rows)
        return len(rows)

    async def resume(self, rows: list[Row]) -> None:
        """Take up jobs this engine just claimed (module docstring)."""
        queued = [r for r in rows if r["status"] == S.QUEUED.value]
        by_batch: dict[str, list[Row]] = {}
        for row in rows:
            if row["status"] in IN_FLIGHT_NAMES:
                by_batch.setdefault(row["batch_id"] or "", []).append(row)
        for batch_id, batch_rows in by_batch.items():
            try:
                provider = self.registry.get(batch_rows[0]["provider"])
            except HalError as exc:
                log.warning("hal_jupyter: cannot resume batch %s: %s", batch_id, exc.message)
                continue
            queued += await self._resume_batch(provider, batch_id, batch_rows)
        self.dispatcher.enqueue_rows(queued, trigger="recovery")

    async def _resume_batch(self, provider: Provider, batch_id: str, rows: list[Row]) -> list[Row]:
        """Re-attach, resubmit or give up (UNKNOWN) on one batch; returns jobs to queue again."""
        ids = [r["id"] for r in rows]
        backend = rows[0]["backend"]
        safe, survives = provider.resubmit_safe_on(backend), provider.survives_restart_on(backend)
        if safe and not survives:  # free local work died with its engine: run it again (at least once)
            return await self._again(rows, RAN_AGAIN)
        spec = self.dispatcher.spec(batch_id, rows)
        remote_ids = {r["id"]: r["remote_id"] for r in rows if r["remote_id"]}
        if survives and len(remote_ids) == len(rows):
            self.poller.track(spec, remote_ids, provider)
            return []
        if safe:
            await self.dispatcher.submit(provider, spec)  # same batch id: the provider's idempotency token
            return []
        found = await self.dispatcher.find_remote(provider, spec)
        if found is not None and not found.empty:  # found by its tag (or token): store its remote ids, then poll it
            merged = Submission({**remote_ids, **found.remote_ids}, found.not_sent, found.cost, found.session_id)
            await self.dispatcher.accepted(provider, spec, merged)
            return []
        if found is not None:  # the provider surely never accepted it
            return await self._again(rows, AGAIN)
        message = "the server stopped while submitting and the provider's record could not be checked; not resubmitted"
        await self.ledger.move(lifecycle.LOSE_CONTACT, ids, status_message=message)
        return []

    async def _again(self, rows: list[Row], message: str) -> list[Row]:
        """Queue again: SUBMITTING jobs (not sent) and sent free local ones (run again)."""
        changes = [(r["id"], {"status_message": message}, None) for r in rows]
        moved = await self.ledger.apply([(lifecycle.REQUEUE, changes), (lifecycle.RERUN, changes)])
        return [r for r in moved if r["status"] == S.QUEUED.value]

    async def take_assigned(self, job_ids: list[str]) -> None:
        """Jobs another engine accepted and handed to this one (it holds their group)."""
        try:
            rows = await self.ledger.db(self.ledger.store.get_jobs, job_ids)
        except HalError as exc:
            log.warning("hal_jupyter: jobs handed to this engine are read later: %s", exc.message)
            return  # reconciliation finds them
        mine = [
            r for r in rows
            if r["engine_id"] == self.ledger.engine_id and r["status"] == S.QUEUED.value and not self.ledger.drives(r["id"])
        ]
        self.ledger.adopt(mine)
        self.dispatcher.enqueue_rows(mine, trigger="priority")

    async def reconcile(self) -> None:
        """Jobs the store says this engine drives but memory lost (a write that failed
        while the store was down) are resumed, if they are still missing next time."""
        missing = await self.ledger.db(self.ledger.store.driven_ids, self.ledger.engine_id) - self.ledger.driven()
        again, self._missing = missing & self._missing, missing - self._missing
        if again:
            rows = await self.ledger.db(self.ledger.store.get_jobs, sorted(again))
            self.ledger.adopt(rows)
            await self.resume(rows)

    def drop_everything(self, new_engine_id: Callable[[], str]) -> str:
        """The lease lapsed: other engines may drive our jobs now. Drop them all (queue,
        polls, pending cancels, memory) and come back under a new engine id."""
        self.dispatcher.forget_all()
        self.poller.forget_all()
        self.canceller.forget_all()
        self.ledger.forget()
        self.ledger.engine_id = new_engine_id()
        return self.ledger.engine_id


__all__ = ["Recovery"]
