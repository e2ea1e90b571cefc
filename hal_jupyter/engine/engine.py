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

from ..providers.base import JobSpec, Provider, Settings
from . import errors, intake
from .boundary import provider_calls
from .events import EventBus
from .ledger import Ledger, Row, now_iso, public_record
from .models import MAX_LIST_IDS, QuantumJobRequest
from .policy import BatchPolicy, Strategy
from .qasm import inspect_circuit
from .registry import Registry
from .scheduler import Scheduler, new_id
from .store import JobStore, default_db_url

log = logging.getLogger("hal_jupyter")
#: Qiskit is first imported on this thread, which lives as long as the process: a
#: first import on a thread that then exits made later parses crash (PROVIDERS.md).
FIRST_IMPORTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-import")
INLINE_VALIDATION_BYTES = 32_000  # larger submissions are parsed off the event loop


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
        self.ledger = Ledger(self.store, self.events)
        policy = BatchPolicy(
            window_s=config.batch_window_s,
            max_size=config.batch_max_size,
            strategy=config.batch_strategy,
            max_wait_s=config.batch_max_wait_s,
        )
        self.scheduler = Scheduler(self.ledger, self.registry, policy)
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-validate")
        self._starting: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Start the scheduler and resume every unfinished job of an earlier run.

        Every public method waits for this first, so nothing is answered from
        the store before the jobs of an earlier run have been taken up again.
        """
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
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
        await self.scheduler.resume(await self.ledger.db(self.store.unfinished_jobs))

    async def stop(self) -> None:
        await self.scheduler.stop()
        self.registry.close()
        self._cpu.shutdown(wait=False)
        self.ledger.close()

    # -- submitting ------------------------------------------------------------
    async def submit(
        self, kind: str, body: Any, idempotency_key: str | None = None
    ) -> tuple[list[dict[str, Any]], bool, bool]:
        """Validate and queue one job request or ``{"jobs": [...]}`` (all or none).

        Returns ``(records, bulk, created)``; ``created`` is False when an
        ``Idempotency-Key`` replays an earlier submission.
        """
        await self.start()
        requests, bulk = intake.parse_items(kind, body)
        body_hash = ""
        if idempotency_key is not None:
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
        key = (idempotency_key, body_hash) if idempotency_key is not None else None
        try:
            await self.ledger.add(rows, key)
        except Exception as exc:
            if key is not None and "idempotency" in str(exc).lower():
                replay = await self._replay(idempotency_key or "", body_hash)
                if replay is not None:
                    return replay, bulk, False
            raise
        self.ledger.parsed.update((k, v) for k, v in parsed.items() if v is not None)
        self.scheduler.enqueue(rows)
        for row in rows:
            row["status_message"] = self.scheduler.waiting_message(row["id"]) or row["status_message"]
        return [public_record(r) for r in rows], bulk, True

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
        return [public_record(self.ledger.active.get(r["id"], r)) for r in rows]

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
            "_parsed": spec.parsed,
        }

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
    async def get_job(self, job_id: str) -> dict[str, Any]:
        await self.start()
        row = await self.ledger.row(job_id)
        if row is None:
            raise errors.JobNotFound(f"no job with id {job_id!r}")
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
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = [public_record(self.ledger.active.get(r["id"], r)) for r in rows]
        if include_result:
            done = [r["id"] for r in records if r["status"] == "COMPLETED"]
            results = await self.ledger.db(self.store.get_results, done) if done else {}
            for record in records:
                found = results.get(record["id"])
                record["result"] = {"id": record["id"], **found} if found is not None else None
        next_cursor = str(rows[-1]["seq"]) if more else None
        return {"jobs": records, "next_cursor": next_cursor}

    async def get_result(self, job_id: str) -> dict[str, Any]:
        await self.start()
        row = await self.ledger.row(job_id)
        if row is None:
            raise errors.JobNotFound(f"no job with id {job_id!r}")
        if row["status"] != "COMPLETED":
            detail = f": {row['error']['message']}" if row.get("error") else ""
            raise errors.JobNotFinished(f"job {job_id} is {row['status']}, not COMPLETED{detail}")
        result = await self.ledger.db(self.store.get_result, job_id)
        return {"id": job_id, **(result or {})}

    async def cancel(self, job_id: str) -> dict[str, Any]:
        await self.start()
        row = await self.ledger.row(job_id)
        if row is None:
            raise errors.JobNotFound(f"no job with id {job_id!r}")
        await self.scheduler.cancel(row)
        return await self.get_job(job_id)

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


__all__ = ["Engine", "EngineConfig"]
