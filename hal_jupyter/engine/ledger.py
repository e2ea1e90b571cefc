"""The jobs this engine drives: a cache of the store, the one door to its writes, and the events.

The store decides. Every change is a transition of :mod:`.lifecycle` written
first (the engine's id and each job's fencing token, the statuses it may
leave: :meth:`.store.JobStore.transition`, one statement for many jobs);
memory follows only what the store says it changed, then the change is
published. A job the store refuses (finished elsewhere, or taken over by
another engine after this one's lease lapsed) leaves this engine's memory.

A provider's reports come in through :meth:`Ledger.report`, which maps each
to its transition given the job's status (:func:`.lifecycle.transition_for`);
a report that does not fit is ignored and logged once per job. Nothing
outside the ledger reads or writes its map.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from . import errors, lifecycle
from .clock import Clock
from .reports import Report, fields_of, transition_for
from .events import EventBus
from .lifecycle import Transition
from .models import JobRecord
from .store import HeldGroups, JobStore
from .store_thread import StoreThread

T = TypeVar("T")
Row = dict[str, Any]
PUBLIC_FIELDS = tuple(JobRecord.model_fields)
#: ``(job_id, fields, result)``: one job's part of a transition
Change = tuple[str, dict[str, Any], "dict[str, Any] | None"]
log = logging.getLogger("hal_jupyter")
#: statuses an engine claims only to cancel (:meth:`.leases.Leases.claim_job`)
_CLAIMED_TO_CANCEL = (lifecycle.JobStatus.UNKNOWN.value, lifecycle.JobStatus.HELD.value)


def public_record(row: Row) -> dict[str, Any]:
    """The job record of docs/API.md, from a store row."""
    record = {name: row.get(name) for name in PUBLIC_FIELDS}
    record["cancel_requested"] = bool(record["cancel_requested"])
    return record


@dataclass
class LiveJob:
    """A job this engine drives: its row as the store has it, and what only memory holds."""

    row: Row
    #: the circuit parsed at submission, kept until the job is dispatched
    parsed: Any = None
    #: a provider report did not fit the job's status (logged once)
    misfit_logged: bool = False

    @property
    def status(self) -> str:
        return str(self.row["status"])


class Ledger:
    def __init__(self, store: JobStore, events: EventBus, engine_id: str, clock: Clock, held_elsewhere: HeldGroups | None = None) -> None:
        self.store = store
        self.events = events
        self.engine_id = engine_id
        self.clock = clock
        self._held_elsewhere = held_elsewhere
        self._active: dict[str, LiveJob] = {}
        # one thread, one pinned connection: store calls run one at a time, off the event loop
        self._thread = StoreThread(initializer=store.db.pin)
        self._waiting_adds: list[tuple[Sequence[Row], bool, asyncio.Future[None]]] = []
        self._adding = False

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the store's thread; a database that cannot be reached is a 503."""
        try:
            return await self._thread.call(functools.partial(fn, *args, **kwargs))
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
        job = self._active.get(job_id)
        return None if job is None else job.status

    def get(self, job_id: str) -> Row | None:
        """A copy of the live row of a job this engine drives."""
        job = self._active.get(job_id)
        return None if job is None else dict(job.row)

    def take_parsed(self, job_id: str) -> Any:
        """The circuit parsed at submission (once: the provider holds it from then on)."""
        job = self._active.get(job_id)
        if job is None:
            return None
        parsed, job.parsed = job.parsed, None
        return parsed

    def fresh(self, row: Row) -> Row:
        """This engine's copy of a row read from the store, if it drives the job."""
        job = self._active.get(row["id"])
        return job.row if job is not None else row

    def driven(self) -> set[str]:
        return set(self._active)

    def adopt(self, rows: Iterable[Row], parsed: dict[str, Any] | None = None) -> None:
        """Rows the store just let this engine claim (their fence is the new token)."""
        for row in rows:
            if row["status"] in lifecycle.DRIVEN_NAMES or row["status"] in _CLAIMED_TO_CANCEL:
                self._active[row["id"]] = LiveJob(row, (parsed or {}).get(row["id"]))

    def forget(self, job_ids: Iterable[str] | None = None) -> None:
        """Stop driving these jobs (all of them: the lease lapsed)."""
        for job_id in list(self._active) if job_ids is None else list(job_ids):
            self._active.pop(job_id, None)

    # -- accept -------------------------------------------------------------------
    async def add(
        self, rows: Sequence[Row], idempotency_key: tuple[str, str] | None = None, claim: bool = True, parsed: dict[str, Any] | None = None
    ) -> list[Row]:
        """Store new jobs (:data:`.lifecycle.ACCEPT`); returns once they are durable, with
        the rows this engine claimed.

        Submissions that arrive while a write is under way are written together
        in the next transaction (group commit), so many small requests cost few
        commits. A submission with an idempotency key is written on its own, so
        a key conflict fails only that submission.
        """
        if idempotency_key is not None:
            await self.db(self.store.insert_jobs, rows, idempotency_key, self.engine_id if claim else None, self._held_elsewhere)
        elif not self._adding:  # no write under way: this one goes at once, without a writer task
            self._adding = True
            try:
                await self.db(self.store.insert_jobs, rows, None, self.engine_id if claim else None, self._held_elsewhere)
            finally:
                if self._waiting_adds:  # arrived meanwhile: written together, next
                    asyncio.ensure_future(self._write_adds())
                else:
                    self._adding = False
        else:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting_adds.append((rows, claim, done))
            if not self._adding:
                self._adding = True
                asyncio.ensure_future(self._write_adds())
            await done
        claimed = [r for r in rows if r["engine_id"] == self.engine_id]
        self.adopt(claimed, parsed)
        if len(self.events):
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
                        rows = [row for rows, _ in part for row in rows]
                        sizes = [len(rows) for rows, _ in part]
                        refused = await self.db(self.store.insert_jobs, rows, None, engine, self._held_elsewhere, sizes)
                    except Exception as exc:  # noqa: BLE001 - each waiting submission gets the error
                        for _, done in part:
                            done.set_exception(exc)
                    else:
                        for (_, done), error in zip(part, refused):  # a budget refuses one submission, not its neighbours
                            if error is not None:
                                done.set_exception(error)
                            else:
                                done.set_result(None)
        finally:
            self._adding = False

    # -- transitions ----------------------------------------------------------------
    async def start_batch(self, batch: dict[str, Any], job_ids: Sequence[str], message: str) -> list[Row]:
        """Record the batch and move its jobs to SUBMITTING (:data:`.lifecycle.INTEND`),
        durably, before the provider call; returns the rows that joined it (those the
        store still let this engine drive, still QUEUED)."""
        fields = {"batch_id": batch["id"], "status_message": message}
        changes = self._writable(lifecycle.INTEND, [(j, fields, None) for j in job_ids])
        if not changes:
            return []
        stamp = self.clock.stamp()
        applied = await self.db(self.store.start_batch, self.engine_id, stamp, batch, changes)
        rows = self._follow(lifecycle.INTEND, changes, applied, stamp)
        self.events.publish([public_record(r) for r in rows])
        return rows

    async def move(self, t: Transition, job_ids: Sequence[str], **fields: Any) -> list[Row]:
        """The same transition, with the same fields, for many jobs (one statement)."""
        return await self.apply([(t, [(j, fields, None) for j in job_ids])])

    async def apply(self, steps: Sequence[tuple[Transition, Sequence[Change]]]) -> list[Row]:
        """Transitions of jobs this engine drives, in one store transaction (one statement
        each). A job whose current status the transition may not leave is left out (and
        logged); the store refuses what is finished or no longer ours. Returns the rows
        that changed."""
        writes = [(t, self._writable(t, changes)) for t, changes in steps]
        writes = [(t, changes) for t, changes in writes if changes]
        if not writes:
            return []
        stamp = self.clock.stamp()
        applied = await self.db(self.store.transitions, self.engine_id, stamp, writes)
        rows: list[Row] = []
        for (t, changes), done in zip(writes, applied):
            rows += self._follow(t, changes, done, stamp)
        self.events.publish([public_record(r) for r in rows])
        return rows

    async def report(self, reports: dict[str, Report]) -> list[Row]:
        """A provider's reports of jobs, each as the transition it makes from the job's
        status; a report that does not fit (RUNNING after COMPLETED) changes nothing."""
        steps: dict[str, tuple[Transition, list[Change]]] = {}
        for job_id, report in reports.items():
            job = self._active.get(job_id)
            if job is None:
                continue
            t = transition_for(report, job.status)
            if t is None:
                if not job.misfit_logged:
                    job.misfit_logged = True
                    log.info("hal_jupyter: job %s is %s; ignoring the provider's late report %s", job_id, job.status, type(report).__name__)
                continue
            fields, result = fields_of(report, job.row)
            if t is lifecycle.PROGRESS and fields.get("status_message") == job.row.get("status_message"):
                continue  # nothing new
            steps.setdefault(t.name, (t, []))[1].append((job_id, fields, result))
        return await self.apply(list(steps.values()))

    def _writable(self, t: Transition, changes: Sequence[Change]) -> list[tuple[str, int, dict[str, Any], Any]]:
        """The changes of jobs this engine drives whose status ``t`` may leave (with their fences)."""
        out = []
        for job_id, fields, result in changes:
            job = self._active.get(job_id)
            if job is None:
                continue
            if not t.allows(job.status):
                log.debug("hal_jupyter: job %s is %s: transition %s does not apply", job_id, job.status, t.name)
                continue
            out.append((job_id, job.row["fence"], fields, result))
        return out

    def _follow(self, t: Transition, changes: Sequence[tuple[str, int, dict[str, Any], Any]], applied: set[str], stamp: str) -> list[Row]:
        """Memory follows what the store changed; jobs it refused, or that ended, are forgotten."""
        rows = []
        for job_id, _, fields, _ in changes:
            job = self._active.get(job_id)
            if job is None:
                continue
            if job_id not in applied:
                self.forget([job_id])
                continue
            row = job.row
            row.update(fields, updated_at=stamp)
            if t.target is not None:
                row["status"] = t.target.value
            for name in t.stamps:
                row[name] = row.get(name) or stamp
            for name in t.clears:
                row[name] = None
            if t.counts_attempt:
                row["attempts"] = row.get("attempts", 0) + 1
            if t.ends:
                row["cancel_requested"] = False
                self.forget([job_id])
            rows.append(row)
        return rows

    def mark_cancel_requested(self, job_id: str) -> None:
        """A cancel was asked for (the store has it); memory follows."""
        job = self._active.get(job_id)
        if job is not None:
            job.row["cancel_requested"] = True

    async def row(self, job_id: str) -> Row | None:
        """The freshest row: memory for jobs this engine drives, else the store."""
        job = self._active.get(job_id)
        if job is not None:
            return dict(job.row)
        return await self.db(self.store.get_job, job_id)

    def close(self) -> None:
        self._thread.shutdown()
        self.store.close()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["Ledger", "LiveJob", "public_record"]
