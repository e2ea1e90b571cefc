"""The engine's view of the jobs it drives: a cache of the store, and the events.

The store decides. Every change is a conditional write first (the engine's id
and the job's fencing token, never over a terminal state: :meth:`JobStore.apply`);
memory follows only what the store says it changed, then the change is
published. A job the store refuses (finished elsewhere, or taken over by
another engine after this one's lease lapsed) leaves this engine's memory.
Nothing outside the ledger reads or writes its map.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, TypeVar

import sqlalchemy as sa

from . import errors
from .events import EventBus
from .models import TERMINAL_NAMES, JobRecord, JobStatus
from .store import JobStore

T = TypeVar("T")
Row = dict[str, Any]
PUBLIC_FIELDS = tuple(JobRecord.model_fields)
Change = tuple[str, dict[str, Any], "dict[str, Any] | None"]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def public_record(row: Row) -> dict[str, Any]:
    """The job record of docs/API.md, from a store row."""
    return {name: row.get(name) for name in PUBLIC_FIELDS}


class Ledger:
    def __init__(self, store: JobStore, events: EventBus, engine_id: str) -> None:
        self.store = store
        self.events = events
        self.engine_id = engine_id
        self._active: dict[str, Row] = {}
        #: Parsed circuits kept from validation until the job is dispatched.
        self.parsed: dict[str, Any] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-store")
        self._waiting_adds: list[tuple[Sequence[Row], bool, asyncio.Future[None]]] = []
        self._adding = False

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the store's thread; a database that cannot be reached is a 503."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise errors.StoreUnavailable(f"the job store cannot be reached: {_first_line(exc)}") from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise errors.StoreUnavailable(f"the job store connection was lost: {_first_line(exc)}") from exc
            raise

    # -- what this engine drives ------------------------------------------------
    def drives(self, job_id: str) -> bool:
        return job_id in self._active

    def status(self, job_id: str) -> str | None:
        row = self._active.get(job_id)
        return None if row is None else row["status"]

    def get(self, job_id: str) -> Row | None:
        """The live row of a job this engine drives (the scheduler reads it)."""
        return self._active.get(job_id)

    def fresh(self, row: Row) -> Row:
        """This engine's copy of a row read from the store, if it drives the job."""
        return self._active.get(row["id"], row)

    def driven(self) -> set[str]:
        return set(self._active)

    def adopt(self, rows: Iterable[Row]) -> None:
        """Rows the store just let this engine claim (their fence is the new token)."""
        for row in rows:
            if row["status"] not in TERMINAL_NAMES:
                self._active[row["id"]] = row

    def forget(self, job_ids: Iterable[str] | None = None) -> None:
        """Stop driving these jobs (all of them: the lease lapsed)."""
        for job_id in list(self._active) if job_ids is None else job_ids:
            self._active.pop(job_id, None)
            self.parsed.pop(job_id, None)

    # -- changes --------------------------------------------------------------
    async def add(self, rows: Sequence[Row], idempotency_key: tuple[str, str] | None = None, claim: bool = True) -> list[Row]:
        """Store new jobs; returns once they are durable, with the rows this engine claimed.

        Submissions that arrive while a write is under way are written together
        in the next transaction (group commit), so many small requests cost few
        commits. A submission with an idempotency key is written on its own, so
        a key conflict fails only that submission.
        """
        engine = self.engine_id if claim else None
        if idempotency_key is not None:
            await self.db(self.store.insert_jobs, rows, idempotency_key, engine)
        else:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting_adds.append((rows, claim, done))
            if not self._adding:
                self._adding = True
                asyncio.ensure_future(self._write_adds())
            await done
        claimed = [r for r in rows if r["engine_id"] == self.engine_id]
        self.adopt(claimed)
        self.events.publish([public_record(r) for r in rows])
        return claimed

    async def _write_adds(self) -> None:
        try:
            while self._waiting_adds:
                group, self._waiting_adds = self._waiting_adds, []
                for claim in (True, False):
                    part = [(rows, done) for rows, c, done in group if c is claim]
                    if not part:
                        continue
                    try:
                        engine = self.engine_id if claim else None
                        await self.db(self.store.insert_jobs, [row for rows, _ in part for row in rows], None, engine)
                    except Exception as exc:  # noqa: BLE001 - each waiting submission gets the error
                        for _, done in part:
                            done.set_exception(exc)
                    else:
                        for _, done in part:
                            done.set_result(None)
        finally:
            self._adding = False

    async def start_batch(self, batch: dict[str, Any], fields: dict[str, Any]) -> list[Row]:
        """Record the batch and move its jobs to SUBMITTING, durably, before the provider
        call; returns the rows that joined it (those the store still let this engine drive)."""
        stamp = now_iso()
        fields = {**fields, "status": "SUBMITTING", "updated_at": stamp}
        fences = {j: self._active[j]["fence"] for j in batch["job_ids"] if j in self._active}
        batch = {**batch, "job_ids": [j for j in batch["job_ids"] if j in fences], "created_at": stamp}
        applied = await self.db(self.store.start_batch, self.engine_id, batch, fences, fields)
        self.forget(j for j in fences if j not in applied)
        rows = [self._active[j] for j in batch["job_ids"] if j in applied]
        for row in rows:
            row.update(fields)
            row["attempts"] = row.get("attempts", 0) + 1
        self.events.publish([public_record(r) for r in rows])
        return rows

    async def apply(self, changes: Sequence[Change]) -> list[Row]:
        """Apply ``(job_id, fields, result)`` to jobs this engine drives; the store
        refuses what is finished or no longer ours. A result lands with its job's
        fields in one transaction. Returns the rows that changed."""
        stamp = now_iso()
        writes: list[tuple[str, int, dict[str, Any], dict[str, Any] | None]] = []
        for job_id, fields, result in changes:
            row = self._active.get(job_id)
            if row is None:
                continue
            fields = {**fields, "updated_at": stamp}
            if fields.get("status") in TERMINAL_NAMES and not row.get("finished_at"):
                fields.setdefault("finished_at", stamp)
            writes.append((job_id, row["fence"], fields, result))
        if not writes:
            return []
        applied = await self.db(self.store.apply, self.engine_id, writes)
        rows = []
        for job_id, _, fields, _ in writes:
            row = self._active.get(job_id)
            if row is None:
                continue
            if job_id not in applied:
                self.forget([job_id])
                continue
            row.update(fields)
            rows.append(row)
            if row["status"] in TERMINAL_NAMES:
                self.forget([job_id])
        self.events.publish([public_record(r) for r in rows])
        return rows

    async def apply_all(self, job_ids: Sequence[str], fields: dict[str, Any]) -> list[Row]:
        """The same change on many jobs."""
        return await self.apply([(j, fields, None) for j in job_ids])

    async def row(self, job_id: str) -> Row | None:
        """The freshest row: memory for jobs this engine drives, else the store."""
        row = self._active.get(job_id)
        if row is not None:
            return dict(row)
        return await self.db(self.store.get_job, job_id)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.store.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["Ledger", "JobStatus", "now_iso", "public_record"]
