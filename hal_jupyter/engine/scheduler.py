"""The scheduler: drives the batching policy, calls providers off the event
loop, polls unfinished batches with backoff, cancels, and resumes after a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from .contract import BatchSpec, JobSpec, Provider, Submission
from .boundary import describe
from .errors import HalError, JobAlreadyFinished, StoreUnavailable
from .faults import crash_point
from .ledger import Ledger, Row, now_iso
from .models import JobStatus
from .policy import BatchPolicy, Flush, GroupKey, Trigger
from . import sweeps
from .registry import Registry
from .retry import Fault, backoff, classify

log = logging.getLogger("hal_jupyter")
T = TypeVar("T")
IN_FLIGHT = {"SUBMITTING", "SUBMITTED", "RUNNING"}


def new_id(prefix: str = "") -> str:
    return prefix + secrets.token_hex(8)


def group_key(row: Row) -> GroupKey:
    options = json.dumps(row["payload"].get("options") or {}, sort_keys=True)
    estimate = sweeps.estimating(row["payload"])
    return GroupKey(row["provider"], row["backend"] or "", row["shots"], options, estimate)


@dataclass
class _Tracked:
    spec: BatchSpec
    remote_ids: dict[str, str]
    due: float
    delay: float
    polling: bool = False
    poked: bool = False
    failures: int = 0


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


class Scheduler:
    def __init__(
        self,
        ledger: Ledger,
        registry: Registry,
        policy: BatchPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.registry = registry
        self.policy = policy
        self.clock = clock
        self.batches_flushed = 0
        self.settings = registry.settings
        self.health = Health(self.settings.degraded_after)
        self._tracked: dict[str, _Tracked] = {}
        self._early_pokes: set[str] = set()
        self._cancel_after_submit: set[str] = set()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self._poll_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._spawn(self._timer())
        self._spawn(self._poller())

    async def stop(self) -> None:
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hal_jupyter: scheduler task failed", exc_info=task.exception())

    async def call(self, provider: Provider, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking provider call in that provider's own bounded pool."""
        pool = self._pools.get(provider.name)
        if pool is None:
            pool = self._pools[provider.name] = ThreadPoolExecutor(
                max_workers=provider.max_concurrency, thread_name_prefix=f"hal-{provider.name}"
            )
            provider.set_notifier(self._notify_threadsafe)
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: fn(*args))

    # -- queueing ----------------------------------------------------------
    def enqueue(self, rows: list[Row], trigger: Trigger = "priority") -> None:
        """Hand new QUEUED jobs to the policy; ``high`` ones go out at once, alone."""
        now = self.clock()
        for row in rows:
            if row["priority"] == "high":
                key = group_key(row)
                self._spawn(self._dispatch(Flush(key, [row["id"]], trigger)))
                continue
            provider = self.registry.get(row["provider"])
            for flush in self.policy.add(group_key(row), row["id"], now, cap=provider.max_batch_size):
                self._spawn(self._dispatch(flush))
        self._wake.set()

    def waiting_message(self, job_id: str) -> str | None:
        position = self.policy.position(job_id)
        return None if position is None else f"waiting for batch ({position[0]}/{position[1]})"

    async def _timer(self) -> None:
        while self._running:
            deadline = self.policy.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            for flush in self.policy.due(self.clock()):
                self._spawn(self._dispatch(flush))

    # -- submitting --------------------------------------------------------
    async def _dispatch(self, flush: Flush) -> None:
        ids = [j for j in flush.job_ids if self.ledger.status(j) == "QUEUED"]
        if not ids:
            return
        try:
            await self._start_and_submit(flush, ids)
        except StoreUnavailable as exc:
            # Nothing was sent; the jobs stay QUEUED in the store and are taken up again
            # once it answers (the coordinator's reconciliation, or another engine).
            log.warning("hal_jupyter: a batch of %d was not dispatched: %s", len(ids), exc.message)
            self.ledger.forget(ids)
            return
        except Exception as exc:  # noqa: BLE001 - never leave a job stuck on a bug or a database error
            log.exception("hal_jupyter: dispatching a batch of %d failed", len(ids))
            error = {"type": "InternalError", "message": f"the batch could not be dispatched: {_message(exc)}"}
            await self.ledger.apply_all(ids, {"status": "FAILED", "error": error})

    async def _start_and_submit(self, flush: Flush, ids: list[str]) -> None:
        provider = self.registry.get(flush.key.provider)
        batch_id = new_id("b-")
        first = self.ledger.get(ids[0]) or {}
        batch = {"id": batch_id, "provider": provider.name, "backend": first.get("backend"), "job_ids": ids, "trigger": flush.trigger}
        message = f"submitting a batch of {len(ids)} ({flush.trigger} trigger)"
        rows = await self.ledger.start_batch(batch, {"batch_id": batch_id, "status_message": message})
        if not rows:
            return  # cancelled or taken over meanwhile: nothing to send
        spec = self._spec(batch_id, rows)
        self.batches_flushed += 1
        crash_point("after_intent", provider.name)
        await self._submit(provider, spec)

    def _spec(self, batch_id: str, rows: list[Row]) -> BatchSpec:
        first = rows[0]
        jobs = [
            JobSpec(
                id=r["id"],
                kind=r["kind"],
                backend=r["backend"],
                shots=r["shots"],
                payload=r["payload"],
                parsed=self.ledger.parsed.pop(r["id"], None),
            )
            for r in rows
        ]
        options = first["payload"].get("options") or {}
        return BatchSpec(batch_id, first["provider"], first["backend"], first["shots"], options, jobs)

    async def _submit(self, provider: Provider, spec: BatchSpec) -> None:
        """Hand a batch to its provider; transient faults are retried with backoff.

        A retry sends the same batch (the same id: the provider's idempotency
        token) where the provider takes a batch twice as once, or where the fault
        shows the first call was not taken (throttled, refused). Otherwise the
        provider is asked whether it has the batch; if it cannot tell, the jobs
        are UNKNOWN, never sent again on a guess.
        """
        ids = [j.id for j in spec.jobs]
        attempts = max(1, self.settings.submit_attempts)
        for attempt in range(1, attempts + 1):
            try:
                submission = await self.call(provider, provider.submit, spec)
            except Exception as exc:  # noqa: BLE001 - a provider failure is retried or fails the batch's jobs
                fault = classify(exc)
                error = {"type": getattr(exc, "type", "ProviderError"), "message": _message(exc)}
                if fault is None:  # permanent: the provider refused these jobs
                    await self.ledger.apply_all(ids, {"status": "FAILED", "error": error})
                    return
                self.health.failed(provider.name, f"{fault.reason}: {error['message']}")
                if fault.received is not False and not provider.resubmit_safe:
                    found = await self._find_remote(provider, spec)  # it may have the batch: ask, never guess
                    if found:
                        await self._accepted(provider, spec, Submission(remote_ids=found))
                        return
                    if found is None:
                        message = f"{fault.reason} while submitting and {provider.name} cannot say whether it took the jobs; not resubmitted"
                        await self.ledger.apply_all(ids, {"status": "UNKNOWN", "status_message": message, "error": error})
                        return
                if attempt == attempts:
                    await self._give_up(spec, fault, error, attempts)
                    return
                delay = backoff(attempt, self.settings.retry_base_s, self.settings.retry_max_s)
                message = f"{fault.reason} at {provider.name}; attempt {attempt + 1} of {attempts} in {delay:.1f} s"
                log.warning("hal_jupyter: batch %s: %s: %s", spec.id, message, error["message"])
                await self.ledger.apply_all(ids, {"status_message": message})
                await asyncio.sleep(delay)
                if all(self.ledger.status(j) is None for j in ids):
                    self._cancel_after_submit.difference_update(ids)
                    return  # every job was cancelled meanwhile: nothing to send
                continue
            self.health.succeeded(provider.name)
            await self._accepted(provider, spec, submission)
            return

    async def _give_up(self, spec: BatchSpec, fault: Fault, error: dict[str, str], attempts: int) -> None:
        """The last attempt failed too: FAILED if no attempt can have been taken, else UNKNOWN."""
        ids = [j.id for j in spec.jobs]
        if fault.received is False:
            error = {**error, "message": f"gave up after {attempts} attempts: {error['message']}"}
            await self.ledger.apply_all(ids, {"status": "FAILED", "error": error})
            return
        message = f"gave up after {attempts} attempts; the provider may have taken the last one"
        await self.ledger.apply_all(ids, {"status": "UNKNOWN", "status_message": message, "error": error})

    async def _accepted(self, provider: Provider, spec: BatchSpec, submission: Submission) -> None:
        log.info("hal_jupyter: %s accepted batch %s (%d job(s))", provider.name, spec.id, len(spec.jobs))
        crash_point("after_accept", provider.name)
        stamp = now_iso()
        changes = [
            (
                job.id,
                {
                    "status": "SUBMITTED",
                    "remote_id": submission.remote_ids.get(job.id),
                    "submitted_at": stamp,
                    "status_message": f"accepted by {provider.name} in a batch of {len(spec.jobs)}",
                    **({"cost_estimate": submission.cost[job.id].model_dump()} if job.id in submission.cost else {}),
                },
                None,
            )
            for job in spec.jobs
        ]
        await self.ledger.apply(changes)
        crash_point("after_remote_id", provider.name)
        self._track(spec, submission.remote_ids, provider)
        late = [j.id for j in spec.jobs if j.id in self._cancel_after_submit]
        if late:
            self._cancel_after_submit.difference_update(late)
            await self._cancel_remote(provider, spec, submission.remote_ids, late)

    async def _find_remote(self, provider: Provider, spec: BatchSpec) -> dict[str, str] | None:
        """The provider's remote ids for a batch it may have; ``{}`` if surely not, None if it cannot tell."""
        try:
            return await self.call(provider, provider.find_remote, spec)
        except Exception as exc:  # noqa: BLE001 - not knowing is an answer too
            log.warning("hal_jupyter: looking up batch %s at %s failed: %s", spec.id, provider.name, _message(exc))
            return None

    # -- polling -----------------------------------------------------------
    def _track(self, spec: BatchSpec, remote_ids: dict[str, str], provider: Provider) -> None:
        first, _ = provider.poll_interval
        poked = spec.id in self._early_pokes
        self._early_pokes.discard(spec.id)
        due = self.clock() + (0 if poked else first)
        self._tracked[spec.id] = _Tracked(spec, remote_ids, due=due, delay=first)
        self._wake_poller()

    def _notify_threadsafe(self, batch_id: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._poke, batch_id)

    def _poke(self, batch_id: str) -> None:
        tracked = self._tracked.get(batch_id)
        if tracked is None:
            self._early_pokes.add(batch_id)
            return
        if tracked.polling:
            tracked.poked = True
        else:
            tracked.due = self.clock()
        self._wake_poller()

    def _wake_poller(self) -> None:
        self._poll_wake.set()

    async def _poller(self) -> None:
        while self._running:
            now = self.clock()
            for batch_id, tracked in list(self._tracked.items()):
                if not tracked.polling and tracked.due <= now:
                    tracked.polling = True
                    self._spawn(self._poll(batch_id, tracked))
            waiting = [t.due for t in self._tracked.values() if not t.polling]
            timeout = max(0.0, min(waiting) - self.clock()) if waiting else None
            self._poll_wake.clear()
            try:
                await asyncio.wait_for(self._poll_wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _poll(self, batch_id: str, tracked: _Tracked) -> None:
        provider = self.registry.get(tracked.spec.provider)
        try:
            updates = await self.call(provider, provider.poll, tracked.spec, tracked.remote_ids)
        except Exception as exc:  # noqa: BLE001 - a failed poll is retried with backoff, a bounded number of times
            log.warning("hal_jupyter: polling batch %s at %s failed: %s", batch_id, provider.name, _message(exc))
            self.health.failed(provider.name, _message(exc))
            tracked.failures += 1
            updates = {}
            if tracked.failures >= self.settings.max_poll_failures:
                message = (
                    f"lost contact: {tracked.failures} status checks at {provider.name} failed in a row "
                    f"(the last: {_message(exc)}); the remote job may still run"
                )
                await self.ledger.apply_all([j.id for j in tracked.spec.jobs], {"status": "UNKNOWN", "status_message": message})
        else:
            tracked.failures = 0
            self.health.succeeded(provider.name)
        changes = []
        for job_id, update in updates.items():
            row = self.ledger.get(job_id)
            if row is None or (row["status"], row["status_message"]) == (update.status.value, update.message):
                continue
            fields: dict[str, Any] = {"status": update.status.value, "status_message": update.message}
            if update.error is not None:
                fields["error"] = update.error.model_dump()
            changes.append((job_id, fields, update.result))
        await self.ledger.apply(changes)
        tracked.polling = False
        if all(self.ledger.status(j.id) in (None, "UNKNOWN") for j in tracked.spec.jobs):
            self._tracked.pop(batch_id, None)
            return
        _, longest = provider.poll_interval
        if tracked.poked:
            tracked.poked, tracked.due = False, self.clock()
        else:
            tracked.delay = min(tracked.delay * 2, longest)
            tracked.due = self.clock() + tracked.delay * random.uniform(0.8, 1.2)
        self._wake_poller()

    # -- cancelling --------------------------------------------------------
    async def cancel(self, row: Row) -> None:
        """Cancel a job wherever it is: in the queue, being submitted, or at the provider."""
        status = row["status"]
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            raise JobAlreadyFinished(f"job {row['id']} is already {status}")
        job_id = row["id"]
        self.policy.remove(job_id)
        message = "cancelled by the user"
        if status == "SUBMITTING":
            self._cancel_after_submit.add(job_id)
        elif status in ("SUBMITTED", "RUNNING"):
            tracked = self._tracked.get(row["batch_id"] or "")
            provider = self.registry.get(row["provider"])
            if tracked is not None:
                message = await self._cancel_remote(provider, tracked.spec, tracked.remote_ids, [job_id]) or message
            elif row.get("remote_id"):  # a job taken over, or UNKNOWN: cancel it by its remote id
                spec = self._spec(row["batch_id"] or "", [row])
                message = await self._cancel_remote(provider, spec, {job_id: row["remote_id"]}, [job_id]) or message
        await self.ledger.apply([(job_id, {"status": "CANCELLED", "status_message": message}, None)])

    async def _cancel_remote(self, provider: Provider, spec: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> str | None:
        try:
            await self.call(provider, provider.cancel, spec, remote_ids, job_ids)
        except Exception as exc:  # noqa: BLE001 - reported on the job, not raised
            log.warning("hal_jupyter: cancel at %s failed: %s", provider.name, _message(exc))
            return f"cancelled here; the cancel request to {provider.name} failed: {_message(exc)}"
        return None

    # -- resuming after a restart -------------------------------------------
    async def resume(self, rows: list[Row]) -> None:
        """Take up unfinished jobs this engine just claimed: those of a previous run,
        of an engine that died, or queued by a server that does not dispatch
        (see README "Guarantees")."""
        queued = [r for r in rows if r["status"] == "QUEUED"]
        by_batch: dict[str, list[Row]] = {}
        for row in rows:
            if row["status"] in IN_FLIGHT:
                by_batch.setdefault(row["batch_id"] or "", []).append(row)
        for batch_id, batch_rows in by_batch.items():
            try:
                provider = self.registry.get(batch_rows[0]["provider"])
            except HalError as exc:
                log.warning("hal_jupyter: cannot resume batch %s: %s", batch_id, exc.message)
                continue
            queued += await self._resume_batch(provider, batch_id, batch_rows)
        self.enqueue(queued, trigger="recovery")

    async def _resume_batch(self, provider: Provider, batch_id: str, rows: list[Row]) -> list[Row]:
        """Re-attach, resubmit or give up (UNKNOWN) on one batch; returns jobs to queue again."""
        ids = [r["id"] for r in rows]
        requeue = {"status": "QUEUED", "batch_id": None, "remote_id": None, "status_message": "queued again: the engine that was submitting it stopped"}
        if provider.resubmit_safe and not provider.remote_survives_restart:
            # Free local work died with the server: run it again (at least once).
            await self.ledger.apply_all(ids, requeue)
            return rows
        spec = self._spec(batch_id, rows)
        remote_ids = {r["id"]: r["remote_id"] for r in rows if r["remote_id"]}
        if provider.remote_survives_restart and len(remote_ids) == len(rows):
            self._track(spec, remote_ids, provider)
            return []
        if provider.resubmit_safe:
            await self._submit(provider, spec)  # same batch id: the provider's idempotency token
            return []
        found = await self._find_remote(provider, spec)
        if found:  # found by its tag (or token): store its remote ids, then poll it
            await self._accepted(provider, spec, Submission(remote_ids={**remote_ids, **found}))
            return []
        if found == {}:  # the provider surely never accepted it
            await self.ledger.apply_all(ids, requeue)
            return rows
        message = "the server stopped while submitting and the provider's record could not be checked; not resubmitted"
        await self.ledger.apply_all(ids, {"status": "UNKNOWN", "status_message": message})
        return []

    def forget_all(self) -> None:
        """Drop every job from the queue and stop polling (this engine's lease lapsed:
        other engines drive its jobs now)."""
        for job_id in list(self.ledger.driven()):
            self.policy.remove(job_id)
        self._tracked.clear()
        self._cancel_after_submit.clear()

    def info(self) -> dict[str, Any]:
        return {
            "queued": len(self.policy),
            "groups": self.policy.groups(self.clock()),
            "batches_in_flight": len(self._tracked),
            "batches_flushed": self.batches_flushed,
            "settings": {
                "batch_strategy": self.policy.strategy,
                "batch_window_s": self.policy.window_s,
                "batch_max_size": self.policy.max_size,
                "batch_max_wait_s": self.policy.max_wait_s,
            },
        }


def _message(exc: BaseException) -> str:
    """What a job's error says of a provider's exception (credentials masked)."""
    return exc.message if isinstance(exc, HalError) else describe(exc)


__all__ = ["Scheduler", "JobStatus", "new_id"]
