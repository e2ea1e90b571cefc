"""Dispatch: from the queue to the provider, one batch per call.

The batching policy (:mod:`.policy`) says which QUEUED jobs travel together and
when; each batch it releases is written as an intent first (its jobs
SUBMITTING, on disk), then handed to its provider. Transient faults are
retried with backoff and jitter. A retry sends the same batch (the same id:
the provider's idempotency token) where the provider takes a batch twice as
once, or where the fault shows the first call was not taken (throttled,
refused); otherwise the provider is asked whether it has the batch
(``find_remote``) before anything is sent again, and if it cannot tell, the
jobs become UNKNOWN, never sent again on a guess. An accepted batch goes to
the poller; the jobs a provider could not send fail, each with its reason,
in the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from . import lifecycle, sweeps
from .boundary import message_of
from .calls import ProviderCalls
from .clock import Clock
from .contract import BatchSpec, JobSpec, Provider, Settings, Submission
from .errors import ErrorType, HalError, StoreUnavailable
from .faults import crash_point
from .ids import new_id
from .ledger import Ledger, Row
from .models import ErrorInfo
from .policy import BatchPolicy, Flush, GroupKey, Trigger
from .polling import Poller
from .registry import Registry
from .retry import Fault, backoff, classify
from .sessions import Sessions
from .tasks import Tasks

log = logging.getLogger("hal_jupyter")
QUEUED = lifecycle.JobStatus.QUEUED.value
#: called once a batch was accepted (or given up): the jobs cancelled meanwhile are cancelled at the provider
AfterSent = Callable[[Provider, BatchSpec, dict[str, str]], Awaitable[None]]


def group_of(row: Row) -> GroupKey:
    """The batching group of a stored job (one claimed from the store)."""
    payload = row["payload"]
    return GroupKey.of(
        row["provider"], row["backend"], row["shots"], payload.get("options"), sweeps.estimating(payload), payload.get("execution"), row.get("owner")
    )


class Dispatcher:
    def __init__(
        self, ledger: Ledger, registry: Registry, policy: BatchPolicy, calls: ProviderCalls, poller: Poller, clock: Clock, settings: Settings
    ) -> None:
        self.ledger = ledger
        self.registry = registry
        self.policy = policy
        self.calls = calls
        self.poller = poller
        self.clock = clock
        self.settings = settings
        self.batches_flushed = 0
        self.after_sent: AfterSent | None = None
        #: provider sessions of session names (:mod:`.sessions`; the scheduler sets it)
        self.sessions: Sessions | None = None
        self._wake = asyncio.Event()
        self._sleeping_until: float | None = None  # the timer's next deadline (None: it waits to be woken)
        self._tasks = Tasks("dispatch")

    def start(self) -> None:
        self._tasks.spawn(self._timer())

    async def stop(self) -> None:
        await self._tasks.cancel()

    # -- the queue -------------------------------------------------------------
    def enqueue(self, jobs: Iterable[tuple[str, str, GroupKey]], trigger: Trigger = "priority") -> None:
        """Queue jobs ``(id, priority, group)``; ``high`` ones go out at once, alone."""
        now = self.clock.now()
        for job_id, priority, key in jobs:
            if priority == "high":
                self._tasks.spawn(self._dispatch(Flush(key, [job_id], trigger)))
                continue
            try:
                cap = self.registry.get(key.provider).max_batch_size
            except HalError as exc:
                log.warning("hal_jupyter: job %s stays queued: %s", job_id, exc.message)
                continue
            for flush in self.policy.add(key, job_id, now, cap=cap):
                self._tasks.spawn(self._dispatch(flush))
        deadline = self.policy.next_deadline()
        if deadline is not None and (self._sleeping_until is None or deadline < self._sleeping_until):
            self._wake.set()  # the timer sleeps past the new deadline (a job added to a group waits no longer)

    def enqueue_rows(self, rows: Iterable[Row], trigger: Trigger) -> None:
        self.enqueue(((r["id"], r["priority"], group_of(r)) for r in rows), trigger)

    def unqueue(self, job_id: str) -> bool:
        """Take a waiting job out of its group (a cancel); False if it is not waiting here."""
        return self.policy.remove(job_id)

    def waiting_message(self, job_id: str) -> str | None:
        position = self.policy.position(job_id)
        return None if position is None else f"waiting for batch ({position[0]}/{position[1]})"

    def forget_all(self) -> None:
        """Drop every waiting job (the lease lapsed: other engines drive them now)."""
        for job_id in self.ledger.driven():
            self.policy.remove(job_id)

    async def _timer(self) -> None:
        while True:
            deadline = self._sleeping_until = self.policy.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock.now())
            self._wake.clear()
            await self.clock.wait(self._wake, timeout)
            for flush in self.policy.due(self.clock.now()):
                self._tasks.spawn(self._dispatch(flush))

    # -- one batch -------------------------------------------------------------
    async def _dispatch(self, flush: Flush) -> None:
        ids = [j for j in flush.job_ids if self.ledger.status(j) == QUEUED]
        if not ids:
            return
        try:
            await self._send(flush, ids)
        except StoreUnavailable as exc:
            # Nothing was sent; the jobs stay QUEUED in the store and are taken up again
            # once it answers (recovery's reconciliation, or another engine).
            log.warning("hal_jupyter: a batch of %d was not dispatched: %s", len(ids), exc.message)
            self.ledger.forget(ids)
        except Exception as exc:  # noqa: BLE001 - never leave a job stuck on a bug or a database error
            log.exception("hal_jupyter: dispatching a batch of %d failed", len(ids))
            error = ErrorInfo(type=ErrorType.INTERNAL_ERROR, message=f"the batch could not be dispatched: {message_of(exc)}")
            await self._fail(ids, error, before_sending=True)

    async def _send(self, flush: Flush, ids: list[str]) -> None:
        provider = self.registry.get(flush.key.provider)
        batch_id = new_id("b-")
        batch = {"id": batch_id, "provider": provider.name, "backend": flush.key.backend or None, "trigger": flush.trigger}
        rows = await self.ledger.start_batch(batch, ids, f"submitting a batch of {len(ids)} ({flush.trigger} trigger)")
        if not rows:
            return  # cancelled or taken over meanwhile: nothing to send
        self.batches_flushed += 1
        crash_point("after_intent", provider.name)
        spec = self.spec(batch_id, rows)
        if self.sessions is None:
            return await self.submit(provider, spec)
        async with self.sessions.use(spec):  # a session name's open session, one batch of the name at a time
            await self.submit(provider, spec)

    def spec(self, batch_id: str, rows: list[Row]) -> BatchSpec:
        """The batch as its provider sees it (parsed circuits handed over once)."""
        first = rows[0]
        jobs = [
            JobSpec(id=r["id"], kind=r["kind"], backend=r["backend"], shots=r["shots"], payload=r["payload"], parsed=self.ledger.take_parsed(r["id"]))
            for r in rows
        ]
        execution = first["payload"].get("execution")
        return BatchSpec(
            batch_id, first["provider"], first["backend"], first["shots"], first["payload"].get("options") or {}, jobs,
            execution=dict(execution) if execution else None, owner=first.get("owner"),
        )

    async def submit(self, provider: Provider, spec: BatchSpec) -> None:
        """Hand a batch to its provider; transient faults are retried (module docstring)."""
        ids = [j.id for j in spec.jobs]
        attempts = max(1, self.settings.submit_attempts)
        for attempt in range(1, attempts + 1):
            try:
                submission = await self.calls.call(provider, provider.submit, spec)
            except Exception as exc:  # noqa: BLE001 - a provider failure is retried or fails the batch's jobs
                fault = classify(exc)
                error = ErrorInfo(type=exc.type if isinstance(exc, HalError) else ErrorType.PROVIDER_ERROR, message=message_of(exc))
                if fault is None:  # permanent: the provider refused these jobs
                    await self._fail(ids, error)
                    return await self._sent(provider, spec, {})
                self.calls.health.failed(provider.name, f"{fault.reason}: {error.message}")
                if fault.received is not False and not provider.resubmit_safe_on(spec.backend):
                    found = await self.find_remote(provider, spec)  # it may have the batch: ask, never guess
                    if found is not None and not found.empty:
                        return await self.accepted(provider, spec, found)
                    if found is None:
                        message = f"{fault.reason} while submitting and {provider.name} cannot say whether it took the jobs; not resubmitted"
                        await self.ledger.move(lifecycle.LOSE_CONTACT, ids, status_message=message, error=_dump(error))
                        return await self._sent(provider, spec, {})
                if attempt == attempts:
                    await self._give_up(ids, fault, error, attempts)
                    return await self._sent(provider, spec, {})
                delay = backoff(attempt, self.settings.retry_base_s, self.settings.retry_max_s, self.clock)
                message = f"{fault.reason} at {provider.name}; attempt {attempt + 1} of {attempts} in {delay:.1f} s"
                log.warning("hal_jupyter: batch %s: %s: %s", spec.id, message, error.message)
                await self.ledger.move(lifecycle.PROGRESS, ids, status_message=message)
                await self.clock.sleep(delay)
                if not any(self.ledger.status(j) == lifecycle.JobStatus.SUBMITTING.value for j in ids):
                    return await self._sent(provider, spec, {})  # every job was cancelled meanwhile: nothing to send
                continue
            self.calls.health.succeeded(provider.name)
            return await self.accepted(provider, spec, submission)

    async def _give_up(self, ids: list[str], fault: Fault, error: ErrorInfo, attempts: int) -> None:
        """The last attempt failed too: FAILED if no attempt can have been taken, else UNKNOWN."""
        if fault.received is False:
            await self._fail(ids, error.model_copy(update={"message": f"gave up after {attempts} attempts: {error.message}"}))
            return
        message = f"gave up after {attempts} attempts; the provider may have taken the last one"
        await self.ledger.move(lifecycle.LOSE_CONTACT, ids, status_message=message, error=_dump(error))

    async def accepted(self, provider: Provider, spec: BatchSpec, submission: Submission) -> None:
        """The provider took the batch: remote ids stored (SENT), jobs it could not send
        FAILED with their reasons, then the batch is polled."""
        log.info("hal_jupyter: %s accepted batch %s (%d job(s))", provider.name, spec.id, len(spec.jobs))
        crash_point("after_accept", provider.name)
        remote_ids = {j.id: submission.remote_ids[j.id] for j in spec.jobs if j.id in submission.remote_ids}
        if submission.session_id and self.sessions is not None:  # kept before the jobs are SENT: a crash between loses no session
            await self.sessions.record(spec, submission.session_id, list(remote_ids))
        sent, failed = [], []
        for job in spec.jobs:
            if job.id in remote_ids:
                fields: dict[str, Any] = {"remote_id": remote_ids[job.id], "status_message": f"accepted by {provider.name} in a batch of {len(spec.jobs)}"}
                if job.id in submission.cost:
                    fields["cost_estimate"] = submission.cost[job.id].model_dump()
                sent.append((job.id, fields, None))
            else:
                reason = submission.not_sent.get(job.id) or "the provider returned no remote id for it"
                error = ErrorInfo(type=ErrorType.INVALID_CIRCUIT, message=f"{provider.name}: not sent: {reason}")
                failed.append((job.id, {"error": _dump(error), "status_message": None}, None))
        await self.ledger.apply([(lifecycle.SENT, sent), (lifecycle.FAIL, failed)])
        crash_point("after_remote_id", provider.name)
        if remote_ids:
            self.poller.track(_only(spec, remote_ids), remote_ids, provider)
        await self._sent(provider, spec, remote_ids)

    async def _sent(self, provider: Provider, spec: BatchSpec, remote_ids: dict[str, str]) -> None:
        if self.after_sent is not None:
            await self.after_sent(provider, spec, remote_ids)

    async def find_remote(self, provider: Provider, spec: BatchSpec) -> Submission | None:
        """What the provider has of a batch it may have: found, surely nothing (empty), or None if it cannot tell."""
        try:
            return await self.calls.call(provider, provider.find_remote, spec)
        except Exception as exc:  # noqa: BLE001 - not knowing is an answer too
            log.warning("hal_jupyter: looking up batch %s at %s failed: %s", spec.id, provider.name, message_of(exc))
            return None

    async def _fail(self, ids: list[str], error: ErrorInfo, before_sending: bool = False) -> None:
        """Fail jobs: with ``before_sending``, those the provider has not taken by the HAL's
        own refusal (a dispatch that cannot go on), any other as failed."""
        fields = {"error": _dump(error), "status_message": None}
        steps: dict[lifecycle.Transition, list[Any]] = {lifecycle.REFUSE: [], lifecycle.FAIL: []}
        for job_id in ids:
            status = self.ledger.status(job_id)
            if status is not None:
                refused = before_sending and lifecycle.REFUSE.allows(status)
                steps[lifecycle.REFUSE if refused else lifecycle.FAIL].append((job_id, fields, None))
        await self.ledger.apply(list(steps.items()))

    def info(self) -> dict[str, Any]:
        return {
            "queued": len(self.policy),
            "groups": self.policy.groups(self.clock.now()),
            "batches_flushed": self.batches_flushed,
            "settings": {
                "batch_strategy": self.policy.strategy,
                "batch_window_s": self.policy.window_s,
                "batch_max_size": self.policy.max_size,
                "batch_max_wait_s": self.policy.max_wait_s,
            },
        }


def _dump(error: ErrorInfo) -> dict[str, Any]:
    return error.model_dump(mode="json", exclude_none=True)


def _only(spec: BatchSpec, remote_ids: dict[str, str]) -> BatchSpec:
    """The batch with only the jobs the provider took."""
    if len(remote_ids) == len(spec.jobs):
        return spec
    return dataclasses.replace(spec, jobs=[j for j in spec.jobs if j.id in remote_ids])


__all__ = ["Dispatcher", "group_of"]
