"""The engine: one object that validates, stores, schedules and answers for jobs.

The server extension serves it over REST; the kernel embeds it when no server
is reachable. Every public method is a coroutine for the event loop it runs on.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import errors, intake, lifecycle
from .boundary import provider_calls
from .clock import Clock
from .config import EngineConfig, Viewer, load_env_file
from .contract import Provider
from .coordinator import Coordinator
from .database import Database, default_db_url
from .events import EventBus
from .ids import new_id
from .leases import Leases
from .ledger import Ledger, public_record
from .limits import MAX_LIST_IDS
from .models import served_result
from .policy import BatchPolicy
from .registry import Registry
from .scheduler import Scheduler
from .store import JobStore

log = logging.getLogger("hal_jupyter")
#: Qiskit is first imported on this thread, which lives as long as the process: a
#: first import on a thread that then exits made later parses crash (docs/PROVIDERS.md).
FIRST_IMPORTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-import")
CANCEL_REQUESTED = "cancel requested; the engine driving this job carries it out"
UNDRIVEN = (
    "no live engine drives provider {provider!r}: the job stays queued until a server or worker that drives it "
    "runs (GET /hal/api/scheduler lists the engines)"
)
QUEUED = lifecycle.JobStatus.QUEUED.value


class Engine:
    """Jobs in, records and results out. See docs/API.md for the contract."""

    def __init__(self, config: EngineConfig | None = None, *, registry: Registry | None = None, clock: Clock | None = None) -> None:
        self.config = config = config or EngineConfig()
        self.settings = config.settings
        self.clock = clock = clock or Clock()
        if config.env_file:
            load_env_file(config.env_file)
        self.registry = registry or Registry(
            config.settings, allowed=config.allowed_providers, blocked=config.blocked_providers
        )
        self.events = EventBus()
        db = Database(config.db_url or default_db_url())
        self.store = JobStore(db)
        self.leases = Leases(db)
        self.ledger = Ledger(self.store, self.events, new_id("e-"), clock, self.leases.held_groups)
        policy = BatchPolicy(
            window_s=config.batch_window_s,
            max_size=config.batch_max_size,
            strategy=config.batch_strategy,
            max_wait_s=config.batch_max_wait_s,
        )
        self.scheduler = Scheduler(self.ledger, self.registry, policy, self.leases, clock, config.session_idle_s)
        self.coordinator = Coordinator(
            self.ledger, self.leases, self.scheduler, self.events, clock,
            dispatch=config.dispatch, lease_s=config.lease_s, claim_interval_s=config.claim_interval_s, label=config.label,
        )
        self.intake = intake.Intake(self.registry, self.settings, clock)
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-validate")
        self._starting: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Start the scheduler and resume every unfinished job of an earlier run.

        Every public method waits for this first, so nothing is answered from
        the store before the jobs of an earlier run have been taken up again.
        """
        started = self._starting
        if started is None or (started.done() and (started.cancelled() or started.exception() is not None)):
            self._starting = asyncio.ensure_future(self._start())  # (again: the store may be back)
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        await self.scheduler.start()
        # Warm-ups first: the simulator's worker process imports Aer meanwhile, on another core.
        for name in self.registry.names() if self.config.warm_up else ():
            try:
                provider = self.registry.get(name)
            except errors.HalError:
                continue
            if type(provider).warm_up is not Provider.warm_up:
                asyncio.ensure_future(self.scheduler.calls.call(provider, provider.warm_up))
        # Off the event loop, on a thread that outlives every engine of the process (docs/PROVIDERS.md).
        await asyncio.get_running_loop().run_in_executor(FIRST_IMPORTS, importlib.import_module, "qiskit.qasm2")
        # Register the lease, then (when dispatching) claim and resume what nobody drives.
        await self.coordinator.start()

    async def stop(self) -> None:
        """Stop driving jobs and release them to the other engines at once."""
        started = self._starting
        if started is not None and started.done() and not started.cancelled() and started.exception() is None:
            await self.coordinator.stop()
        await self.scheduler.stop()
        # Off the loop: closing a provider may wait (an embedded Dask cluster takes 1-3 s).
        try:
            await asyncio.get_running_loop().run_in_executor(self._cpu, self.registry.close)
        except RuntimeError:  # at interpreter exit executors take no new work (an embedded engine's atexit close)
            self.registry.close()
        self._cpu.shutdown(wait=False)
        self.ledger.close()

    # -- submitting ------------------------------------------------------------
    async def submit(
        self, kind: str, body: Any, idempotency_key: str | None = None, owner: str | None = None
    ) -> tuple[list[dict[str, Any]], bool, bool]:
        """Validate and queue one job request or ``{"jobs": [...]}`` (all or none),
        owned by ``owner``.

        Returns ``(records, bulk, created)``; ``created`` is False when an
        ``Idempotency-Key`` replays an earlier submission of the same owner.
        """
        await self.start()
        parsed = self.intake.parse(kind, body)
        key = None
        if idempotency_key is not None:
            key = (json.dumps([owner, idempotency_key]), _body_hash(kind, body))  # one user's key is not another's
            replay = await self._replay(*key)
            if replay is not None:
                return replay, parsed.bulk, False
        if parsed.inline:
            new = self.intake.prepare(parsed, owner)
        else:
            new = await asyncio.get_running_loop().run_in_executor(self._cpu, self.intake.prepare, parsed, owner)
        try:
            claimed = await self.ledger.add(new.rows, key, claim=self.config.dispatch, parsed=new.parsed)
        except errors.IdempotencyKeyTaken:
            replay = await self._replay(*key) if key is not None else None  # a concurrent twin won
            if replay is None:
                raise
            return replay, parsed.bulk, False
        self.scheduler.dispatcher.enqueue((r["id"], r["priority"], new.groups[r["id"]]) for r in claimed)
        return [self._record(self.ledger.fresh(r)) for r in new.rows], parsed.bulk, True

    async def _replay(self, key: str, body_hash: str) -> list[dict[str, Any]] | None:
        found = await self.ledger.db(self.store.find_idempotency_key, key)
        if found is None:
            return None
        stored_hash, ids = found
        if stored_hash != body_hash:
            raise errors.IdempotencyConflict(
                "this Idempotency-Key was already used with a different request body"
            )
        rows = await self.ledger.db(self.store.get_jobs, ids)
        return [self._record(self.ledger.fresh(r)) for r in rows]

    def _record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The public record, with where a queued job stands in its group, or that no
        live engine drives its provider."""
        record = public_record(row)
        waiting = self.scheduler.dispatcher.waiting_message(row["id"])
        if waiting is None and record["status"] == QUEUED and not self.leases.driven_anywhere(record["provider"]):
            waiting = UNDRIVEN.format(provider=record["provider"])
        record["status_message"] = waiting or record["status_message"]
        return record

    # -- reading -----------------------------------------------------------------
    async def _visible_row(self, job_id: str, viewer: Viewer | None) -> dict[str, Any]:
        """The job's row, if ``viewer`` may see it (another user's job is not found)."""
        await self.start()
        row = await self.ledger.row(job_id)
        if row is None or (viewer is not None and not viewer.sees(row.get("owner"))):
            raise errors.JobNotFound(f"no job with id {job_id!r}")
        return row

    async def get_job(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        return self._record(await self._visible_row(job_id, viewer))

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        provider: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        ids: list[str] | None = None,
        include_result: bool = False,
        limit: int = 100,
        cursor: str | None = None,
        viewer: Viewer | None = None,
    ) -> dict[str, Any]:
        """Records newest first, filtered; ``ids`` (at most :data:`MAX_LIST_IDS`) keeps
        only those jobs; ``include_result`` embeds each one's ``result`` (null until
        COMPLETED), so a client gets many results in one request."""
        await self.start()
        if ids is not None and not 0 < len(ids) <= MAX_LIST_IDS:
            raise errors.InvalidRequest(f"ids must name 1 to {MAX_LIST_IDS} jobs")
        if not 1 <= limit <= MAX_LIST_IDS:
            raise errors.InvalidRequest(f"limit must be an integer from 1 to {MAX_LIST_IDS}")
        before = _decode_cursor(cursor)
        rows = await self.ledger.db(
            self.store.list_jobs,
            status=status, provider=provider, kind=kind, tag=tag, ids=ids, limit=limit + 1, before_seq=before,
            owner=viewer.scope if viewer is not None else None,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = [self._record(self.ledger.fresh(r)) for r in rows]
        if include_result:
            done = [r["id"] for r in records if r["status"] == lifecycle.JobStatus.COMPLETED.value]
            results = await self.ledger.db(self.store.get_results, done) if done else {}
            for record in records:
                found = results.get(record["id"])
                record["result"] = served_result(record["id"], record["kind"], found) if found is not None else None
        next_cursor = str(rows[-1]["seq"]) if more else None
        return {"jobs": records, "next_cursor": next_cursor}

    async def get_result(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        row = await self._visible_row(job_id, viewer)
        if row["status"] != lifecycle.JobStatus.COMPLETED.value:
            detail = f": {row['error']['message']}" if row.get("error") else ""
            raise errors.JobNotFinished(f"job {job_id} is {row['status']}, not COMPLETED{detail}")
        result = await self.ledger.db(self.store.get_result, job_id)
        return served_result(job_id, row["kind"], result or {})

    async def cancel(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        """Cancel a job whichever engine drives it, without waiting for another engine:
        here, when this engine drives it (or, once claimed, when no live engine does);
        else as a request in the store (``cancel_requested``) that the driving engine
        carries out; its change then arrives as an event."""
        row = await self._visible_row(job_id, viewer)
        if row["status"] in lifecycle.TERMINAL_NAMES:
            raise errors.JobAlreadyFinished(f"job {job_id} is already {row['status']}")
        canceller = self.scheduler.canceller
        if not self.ledger.drives(job_id):
            claimed = await self.ledger.db(self.leases.claim_job, self.ledger.engine_id, job_id, self.scheduler.recovery.providers())
            if claimed is None:
                if not await self.ledger.db(self.store.request_cancel, job_id):
                    row = await self._visible_row(job_id, viewer)
                    raise errors.JobAlreadyFinished(f"job {job_id} is already {row['status']}")
                self.coordinator.wake()
                record = await self.get_job(job_id, viewer)
                if record["status"] not in lifecycle.TERMINAL_NAMES:
                    record["status_message"] = CANCEL_REQUESTED
                return record
            self.ledger.adopt([claimed])
        if not await canceller.cancel(job_id):
            row = await self._visible_row(job_id, viewer)
            if row["status"] in lifecycle.TERMINAL_NAMES and row["status"] != lifecycle.JobStatus.CANCELLED.value:
                raise errors.JobAlreadyFinished(f"job {job_id} is already {row['status']}")
        return await self.get_job(job_id, viewer)

    async def providers(self) -> list[dict[str, Any]]:
        await self.start()
        infos = await asyncio.get_running_loop().run_in_executor(self._cpu, self.registry.info)
        for info in infos:
            degraded = self.scheduler.calls.health.degraded(info.name) if info.available else None
            if degraded is not None:
                info.status, info.reason = "degraded", degraded
        return [i.model_dump() for i in infos]

    async def backends(self, name: str) -> list[dict[str, Any]]:
        await self.start()
        provider = self.registry.require(name)
        with provider_calls(provider.name, "list its backends"):
            backends = await self.scheduler.calls.call(provider, provider.backends)
        return [b.model_dump() for b in backends]

    def scheduler_info(self) -> dict[str, Any]:
        return {**self.scheduler.info(), "engines": self.coordinator.engines(), "local_executor": self._local_executor()}

    def _local_executor(self) -> dict[str, Any]:
        """Where this engine runs local work (its local providers say; never waits)."""
        for name in ("local_simulator", "local_python"):
            try:
                provider = self.registry.get(name)
            except errors.HalError:
                continue
            info = getattr(provider, "executor_info", None)
            if callable(info):
                return dict(info())
        return {"kind": self.settings.local_executor, "address": self.settings.dask_address or None, "workers": 0}

    def subscribe(self, listener: Callable[[list[dict[str, Any]]], None]) -> Callable[[], None]:
        return self.events.subscribe(listener)


def _body_hash(kind: str, body: Any) -> str:
    return hashlib.sha256(json.dumps([kind, body], sort_keys=True).encode()).hexdigest()


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise errors.InvalidRequest("cursor must be a value returned as next_cursor")
    return int(cursor)


__all__ = ["Engine", "EngineConfig", "Viewer"]
