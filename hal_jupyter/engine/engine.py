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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .contract import JobSpec, Provider, Settings
from . import errors, intake, sweeps
from .boundary import provider_calls
from .events import EventBus
from .coordinator import Coordinator
from .ledger import Ledger, Row, now_iso, public_record
from .models import MAX_LIST_IDS, TERMINAL_NAMES, QuantumJobRequest
from .policy import BatchPolicy, Strategy
from .qasm import inspect_circuit
from .registry import Registry
from .scheduler import Scheduler, group_key, new_id
from .store import JobStore, default_db_url

log = logging.getLogger("hal_jupyter")
#: Qiskit is first imported on this thread, which lives as long as the process: a
#: first import on a thread that then exits made later parses crash (PROVIDERS.md).
FIRST_IMPORTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-import")
INLINE_VALIDATION_BYTES = 32_000  # larger submissions are parsed off the event loop
CANCEL_WAIT_S = 10.0  # how long a cancel waits for the engine on another server to carry it out


@dataclass
class EngineConfig:
    """Everything the engine needs to know; the server builds it from its traits."""

    db_url: str | None = None
    batch_window_s: float = 1.0
    batch_max_size: int = 50
    batch_strategy: Strategy = "time_or_cost"
    batch_max_wait_s: float = 300.0
    allowed_providers: list[str] | None = None
    blocked_providers: list[str] = field(default_factory=list)
    #: a .env file whose variables (providers' credentials) fill in what the environment lacks
    env_file: str | None = ".env"
    settings: Settings = field(default_factory=Settings)
    #: whether this engine drives jobs (False: a server that only accepts and serves them)
    dispatch: bool = True
    #: how long an engine's lease lasts without a heartbeat; its jobs are taken over after
    lease_s: float = 15.0
    #: how often to look for work other engines left (NOTIFY wakes it sooner on PostgreSQL)
    claim_interval_s: float = 1.0
    #: how this engine names itself in the store and the logs
    label: str = "engine"


@dataclass(frozen=True)
class Viewer:
    """Whose jobs a request may see: its user's (and jobs with no owner), or all for an admin."""

    user: str | None
    admin: bool = False

    def sees(self, owner: str | None) -> bool:
        return self.admin or owner is None or owner == self.user

    @property
    def scope(self) -> str | None:
        """The owner to filter a listing by (None: no filter)."""
        return None if self.admin else self.user


def load_env_file(path: str) -> list[str]:
    """Set the variables of a ``.env`` file that the environment does not set
    already; returns their names (values are never logged)."""
    from dotenv import dotenv_values

    if not os.path.isfile(path):
        return []
    values = {name: value for name, value in dotenv_values(path).items() if value is not None}
    added = [name for name in values if name not in os.environ]
    for name in added:
        os.environ[name] = values[name]
    if added:
        log.info("hal_jupyter: %d variable(s) from %s: %s", len(added), os.path.abspath(path), ", ".join(sorted(added)))
    return added


class Engine:
    """Jobs in, records and results out. See docs/API.md for the contract."""

    def __init__(self, config: EngineConfig | None = None, *, registry: Registry | None = None) -> None:
        self.config = config = config or EngineConfig()
        self.settings = config.settings
        if config.env_file:
            load_env_file(config.env_file)
        self.registry = registry or Registry(
            config.settings, allowed=config.allowed_providers, blocked=config.blocked_providers
        )
        self.events = EventBus()
        self.store = JobStore(config.db_url or default_db_url())
        self.ledger = Ledger(self.store, self.events, new_id("e-"))
        policy = BatchPolicy(
            window_s=config.batch_window_s,
            max_size=config.batch_max_size,
            strategy=config.batch_strategy,
            max_wait_s=config.batch_max_wait_s,
        )
        self.scheduler = Scheduler(self.ledger, self.registry, policy)
        self.coordinator = Coordinator(
            self.ledger, self.scheduler, self.events,
            dispatch=config.dispatch, lease_s=config.lease_s, claim_interval_s=config.claim_interval_s, label=config.label,
        )
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
        for name in self.registry.names():
            try:
                provider = self.registry.get(name)
            except errors.HalError:
                continue
            if type(provider).warm_up is not Provider.warm_up:
                asyncio.ensure_future(self.scheduler.call(provider, provider.warm_up))
        # Off the event loop, on a thread that outlives every engine of the process (PROVIDERS.md).
        await asyncio.get_running_loop().run_in_executor(FIRST_IMPORTS, importlib.import_module, "qiskit.qasm2")
        # Register the lease, then (when dispatching) claim and resume what nobody drives.
        await self.coordinator.start()

    async def stop(self) -> None:
        """Stop driving jobs and release them to the other engines at once."""
        started = self._starting
        if started is not None and started.done() and not started.cancelled() and started.exception() is None:
            await self.coordinator.stop()
        await self.scheduler.stop()
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
        requests, bulk = intake.parse_items(kind, body)
        body_hash = ""
        if idempotency_key is not None:
            idempotency_key = json.dumps([owner, idempotency_key])  # one user's key is not another's
            body_hash = hashlib.sha256(json.dumps([kind, body], sort_keys=True).encode()).hexdigest()
            replay = await self._replay(idempotency_key, body_hash)
            if replay is not None:
                return replay, bulk, False
        if intake.request_bytes(requests) > INLINE_VALIDATION_BYTES or not self._validates_inline(requests):
            loop = asyncio.get_running_loop()
            rows = await loop.run_in_executor(self._cpu, self._prepare_all, kind, requests, bulk)
        else:
            rows = self._prepare_all(kind, requests, bulk)
        parsed = {r["id"]: r.pop("_parsed") for r in rows}
        for row in rows:
            row["owner"] = owner
        key = (idempotency_key, body_hash) if idempotency_key is not None else None
        try:
            claimed = await self.ledger.add(rows, key, claim=self.config.dispatch)
        except errors.IdempotencyKeyTaken:
            replay = await self._replay(idempotency_key or "", body_hash)  # a concurrent twin won
            if replay is None:
                raise
            return replay, bulk, False
        self.ledger.parsed.update((r["id"], parsed[r["id"]]) for r in claimed if parsed.get(r["id"]) is not None)
        self.scheduler.enqueue(claimed)
        for row in claimed:
            row["status_message"] = self.scheduler.waiting_message(row["id"]) or row["status_message"]
        return [public_record(self.ledger.fresh(r)) for r in rows], bulk, True

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
        return [public_record(self.ledger.fresh(r)) for r in rows]

    def _validates_inline(self, requests: list[intake.JobRequest]) -> bool:
        """False when a provider of these jobs checks them against its service
        (backend listings, targets): then validation runs off the event loop."""
        for name in {r.provider for r in requests}:
            try:
                if not self.registry.get(name).inline_validation:
                    return False
            except errors.HalError:
                pass
        return True

    def _prepare_all(self, kind: str, requests: list[intake.JobRequest], bulk: bool) -> list[Row]:
        rows = []
        for index, request in enumerate(requests):
            try:
                rows.append(self._prepare(kind, request))
            except errors.HalError as exc:
                if bulk:
                    intake.prefix_error(exc, f"jobs[{index}]")
                raise
        return rows

    def _prepare(self, kind: str, request: intake.JobRequest) -> Row:
        provider = self.registry.require(request.provider)
        if provider.kind != kind:
            raise errors.InvalidRequest(
                f"provider {request.provider!r} runs {provider.kind} jobs; send this job to /hal/api/{provider.kind}/jobs"
            )
        if isinstance(request, QuantumJobRequest):
            shots: int | None = request.shots
            self._check_quantum(request)
            payload: dict[str, Any] = {"circuit": request.circuit, "options": request.options}
            summary = inspect_circuit(request.circuit)
            intake.check_json_size(request.options, self.settings.max_circuit_bytes, "options")
            sweep = self._check_sweep(request, summary)
            if sweep is not None:
                payload["sweep"] = sweep.to_payload()
        else:
            shots, summary = None, None
            payload = request.model_dump(include={"code", "entrypoint", "args", "function", "timeout_s"})
            intake.check_json_size(request.args, self.settings.max_circuit_bytes, "args")
        with provider_calls(provider.name, "choose a backend"):
            backend = getattr(request, "backend", None) or provider.default_backend()
        job_id = new_id()
        parsed = summary.circuit if summary is not None else None
        spec = JobSpec(job_id, kind, backend, shots, payload, parsed, summary)  # type: ignore[arg-type]
        with provider_calls(provider.name, "check the job", about_job=True):
            provider.validate(spec)
            cost = provider.estimate_cost(spec)
        stamp = now_iso()
        return {
            "id": job_id,
            "kind": kind,
            "provider": provider.name,
            "backend": backend,
            "name": request.name,
            "tags": request.tags,
            "priority": request.priority,
            "status": "QUEUED",
            "status_message": None,
            "created_at": stamp,
            "updated_at": stamp,
            "submitted_at": None,
            "finished_at": None,
            "batch_id": None,
            "remote_id": None,
            "shots": shots,
            "cost_estimate": cost.model_dump() if cost is not None else None,
            "error": None,
            "payload": payload,
            "attempts": 0,
            "group_key": group_key({"provider": provider.name, "backend": backend, "shots": shots, "payload": payload}).digest(),
            "_parsed": spec.parsed,
        }

    def _check_sweep(self, request: QuantumJobRequest, summary: Any) -> sweeps.Sweep | None:
        """The request's parameter sweep and observables checked against its circuit
        (None for a plain sampling job of a circuit without free parameters)."""
        names = sweeps.circuit_parameter_names(summary.circuit) if summary.circuit is not None else []
        if request.parameters is None and request.observables is None and request.precision is None and not names:
            return None
        if request.parameters is not None:
            intake.check_json_size(request.parameters, self.settings.max_circuit_bytes, "parameters")
        if request.observables is not None:
            intake.check_json_size(request.observables, self.settings.max_circuit_bytes, "observables")
        return sweeps.check(request.parameters, request.observables, request.precision, names, summary.num_qubits)

    def _check_quantum(self, request: QuantumJobRequest) -> None:
        if not 1 <= request.shots <= self.settings.max_shots:
            raise errors.InvalidRequest(
                f"shots must be an integer from 1 to {self.settings.max_shots}, not {request.shots}"
            )
        size = len(request.circuit.encode())
        if size > self.settings.max_circuit_bytes:
            raise errors.PayloadTooLarge(
                f"the circuit is {size} bytes; the limit is {self.settings.max_circuit_bytes} (HalExtension.max_circuit_bytes)"
            )

    # -- reading -----------------------------------------------------------------
    async def _visible_row(self, job_id: str, viewer: Viewer | None) -> dict[str, Any]:
        """The job's row, if ``viewer`` may see it (another user's job is not found)."""
        await self.start()
        row = await self.ledger.row(job_id)
        if row is None or (viewer is not None and not viewer.sees(row.get("owner"))):
            raise errors.JobNotFound(f"no job with id {job_id!r}")
        return row

    async def get_job(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        row = await self._visible_row(job_id, viewer)
        row["status_message"] = self.scheduler.waiting_message(job_id) or row["status_message"]
        return public_record(row)

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
        records = [public_record(self.ledger.fresh(r)) for r in rows]
        if include_result:
            done = [r["id"] for r in records if r["status"] == "COMPLETED"]
            results = await self.ledger.db(self.store.get_results, done) if done else {}
            for record in records:
                found = results.get(record["id"])
                record["result"] = {"id": record["id"], **found} if found is not None else None
        next_cursor = str(rows[-1]["seq"]) if more else None
        return {"jobs": records, "next_cursor": next_cursor}

    async def get_result(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        row = await self._visible_row(job_id, viewer)
        if row["status"] != "COMPLETED":
            detail = f": {row['error']['message']}" if row.get("error") else ""
            raise errors.JobNotFinished(f"job {job_id} is {row['status']}, not COMPLETED{detail}")
        result = await self.ledger.db(self.store.get_result, job_id)
        return {"id": job_id, **(result or {})}

    async def cancel(self, job_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        """Cancel a job whichever engine drives it: here; or, when no live engine does,
        after claiming it; or by a cancel request in the store that its engine
        carries out (this waits a few seconds for it)."""
        row = await self._visible_row(job_id, viewer)
        if row["status"] in TERMINAL_NAMES:
            raise errors.JobAlreadyFinished(f"job {job_id} is already {row['status']}")
        if not self.ledger.drives(job_id):
            claimed = await self.ledger.db(self.store.leases.claim_job, self.ledger.engine_id, job_id)
            if claimed is None:
                if not await self.ledger.db(self.store.leases.request_cancel, job_id):
                    row = await self._visible_row(job_id, viewer)
                    raise errors.JobAlreadyFinished(f"job {job_id} is already {row['status']}")
                return await self._await_cancel(job_id, viewer)
            self.ledger.adopt([claimed])
            row = claimed
        await self.scheduler.cancel(dict(row))
        return await self.get_job(job_id, viewer)

    async def _await_cancel(self, job_id: str, viewer: Viewer | None) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_WAIT_S
        while True:
            record = await self.get_job(job_id, viewer)
            if record["status"] in TERMINAL_NAMES or loop.time() >= deadline:
                if record["status"] not in TERMINAL_NAMES:
                    record["status_message"] = "cancel requested; the engine driving this job carries it out"
                return record
            await asyncio.sleep(0.05)

    async def providers(self) -> list[dict[str, Any]]:
        await self.start()
        infos = await asyncio.get_running_loop().run_in_executor(self._cpu, self.registry.info)
        for info in infos:
            degraded = self.scheduler.health.degraded(info.name) if info.available else None
            if degraded is not None:
                info.status, info.reason = "degraded", degraded
        return [i.model_dump() for i in infos]

    async def backends(self, name: str) -> list[dict[str, Any]]:
        await self.start()
        provider = self.registry.require(name)
        with provider_calls(provider.name, "list its backends"):
            backends = await self.scheduler.call(provider, provider.backends)
        return [b.model_dump() for b in backends]

    def scheduler_info(self) -> dict[str, Any]:
        return self.scheduler.info()

    def subscribe(self, listener: Callable[[list[dict[str, Any]]], None]) -> Callable[[], None]:
        return self.events.subscribe(listener)


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise errors.InvalidRequest("cursor must be a value returned as next_cursor")
    return int(cursor)


__all__ = ["Engine", "EngineConfig", "Viewer"]
