"""The engine's view of live jobs: the store, an in-memory copy of every
unfinished job, and the event bus, changed together.

Every change is decided on the event loop against the in-memory copy, written
to the store on its single worker thread (so writes keep their order), then
published. A job that is terminal is dropped from memory and no later change
can touch it: a late provider answer never overwrites a cancel.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, TypeVar

from .events import EventBus
from .models import JobRecord, JobStatus
from .store import JobStore

T = TypeVar("T")
Row = dict[str, Any]
PUBLIC_FIELDS = tuple(JobRecord.model_fields)
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def public_record(row: Row) -> dict[str, Any]:
    """The job record of docs/API.md, from a store row."""
    return {name: row.get(name) for name in PUBLIC_FIELDS}


class Ledger:
    def __init__(self, store: JobStore, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.active: dict[str, Row] = {}
        #: Parsed circuits kept from validation until the job is dispatched.
        self.parsed: dict[str, Any] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-store")
        self._waiting_adds: list[tuple[Sequence[Row], asyncio.Future[None]]] = []
        self._adding = False

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def add(self, rows: Sequence[Row], idempotency_key: tuple[str, str] | None = None) -> None:
        """Store new jobs; returns once they are durable.

        Submissions that arrive while a write is under way are written together
        in the next transaction (group commit), so many small requests cost few
        commits. A submission with an idempotency key is written on its own, so
        a key conflict fails only that submission.
        """
        if idempotency_key is not None:
            await self.db(self.store.insert_jobs, rows, idempotency_key)
        else:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting_adds.append((rows, done))
            if not self._adding:
                self._adding = True
                asyncio.ensure_future(self._write_adds())
            await done
        for row in rows:
            self.active[row["id"]] = row
        self.events.publish([public_record(r) for r in rows])

    async def _write_adds(self) -> None:
        try:
            while self._waiting_adds:
                group, self._waiting_adds = self._waiting_adds, []
                try:
                    await self.db(self.store.insert_jobs, [row for rows, _ in group for row in rows])
                except Exception as exc:  # noqa: BLE001 - each waiting submission gets the error
                    for _, done in group:
                        done.set_exception(exc)
                else:
                    for _, done in group:
                        done.set_result(None)
        finally:
            self._adding = False

    def status(self, job_id: str) -> str | None:
        row = self.active.get(job_id)
        return None if row is None else row["status"]

    async def start_batch(self, batch: dict[str, Any], fields: dict[str, Any]) -> list[Row]:
        """Record the batch and move its jobs to SUBMITTING, durably, before the provider call."""
        stamp = now_iso()
        fields = {**fields, "status": "SUBMITTING", "updated_at": stamp}
        rows = [self.active[j] for j in batch["job_ids"]]
        for row in rows:
            row.update(fields)
            row["attempts"] = row.get("attempts", 0) + 1
        await self.db(self.store.start_batch, {**batch, "created_at": stamp}, fields)
        self.events.publish([public_record(r) for r in rows])
        return rows

    async def apply(self, changes: Sequence[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> list[Row]:
        """Apply ``(job_id, fields, result)`` to unfinished jobs; ignore finished ones.

        A result is stored with its job's fields in one transaction.
        """
        stamp = now_iso()
        applied: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        rows = []
        for job_id, fields, result in changes:
            row = self.active.get(job_id)
            if row is None:
                continue
            fields = {**fields, "updated_at": stamp}
            if fields.get("status") in TERMINAL and not row.get("finished_at"):
                fields.setdefault("finished_at", stamp)
            row.update(fields)
            applied.append((job_id, fields, result))
            rows.append(row)
            if row["status"] in TERMINAL:
                del self.active[job_id]
                self.parsed.pop(job_id, None)
        if applied:
            await self.db(self.store.finish_jobs, applied)
            self.events.publish([public_record(r) for r in rows])
        return rows

    async def apply_all(self, job_ids: Sequence[str], fields: dict[str, Any]) -> list[Row]:
        """The same change on many jobs."""
        return await self.apply([(j, fields, None) for j in job_ids])

    async def row(self, job_id: str) -> Row | None:
        """The freshest row: memory for unfinished jobs, else the store."""
        row = self.active.get(job_id)
        if row is not None:
            return dict(row)
        return await self.db(self.store.get_job, job_id)

    def track(self, row: Row) -> None:
        """Bring a stored row under the ledger (a restart, or a cancel of an UNKNOWN job)."""
        if row["status"] not in TERMINAL:
            self.active[row["id"]] = row

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.store.close()


__all__ = ["Ledger", "JobStatus", "now_iso", "public_record"]
