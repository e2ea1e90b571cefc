"""The durable job store: the source of truth for every job.

The store decides. A job's status changes only by a transition of
:mod:`.lifecycle`, written as ONE conditional ``UPDATE`` for all the jobs it
moves (a batch sent, a batch completed), whose ``WHERE`` names the engine that
drives the jobs, each job's fencing token and the statuses the transition may
leave; ``RETURNING`` says which jobs changed. So a late answer, an illegal
move or an engine that lost its lease changes nothing, and it is the database
that refuses it, on SQLite and PostgreSQL alike. Leases and claims are in
:mod:`.leases`; the connection pool and migrations in :mod:`.database` and
:mod:`.schema`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from . import charges, errors, lifecycle
from .database import Database
from .budgets import Budget
from .lifecycle import Transition
from .statements import CHUNK, Change, chunks, transition
from .schema import RECORD_COLUMNS, SCHEMA_VERSION, batches, decode, encode, idempotency, jobs, load_result, results

__all__ = ["Change", "JobStore", "SCHEMA_VERSION"]

HELD = lifecycle.JobStatus.HELD.value
#: which other live engine holds each group queued, asked at submission (:meth:`.leases.Leases.held_groups`)
HeldGroups = Callable[[sa.Connection, str, set[str]], dict[str, str]]


class JobStore:
    """Jobs, their results, batches and idempotency keys."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: the budgets, as last read (None: read them with the next acceptance). Only which
        #: budgets exist is cached: those that match a job are read again, locked, to reserve.
        with db.read() as conn:
            self._budgets: list[Budget] | None = charges.load(conn)

    def forget_budgets(self) -> None:
        """Read the budgets again with the next acceptance (one changed, here or on another
        server: its NOTIFY, or the claim loop's round on SQLite)."""
        self._budgets = None

    @property
    def dialect(self) -> str:
        return self.db.dialect

    @property
    def url(self) -> str:
        return self.db.url

    def close(self) -> None:
        self.db.close()

    # -- accept -------------------------------------------------------------
    def insert_jobs(
        self,
        rows: Sequence[dict[str, Any]],
        idempotency_key: tuple[str, str] | None = None,
        engine_id: str | None = None,
        held_elsewhere: HeldGroups | None = None,
        parts: Sequence[int] | None = None,
    ) -> list[errors.HalError | None]:
        """Accept new jobs (and their idempotency key) in one transaction.

        ``parts``: how many rows each submission has (group commit writes several
        at once); each is accepted or refused whole. Their estimates are reserved
        against the budgets that match them first (:func:`.charges.reserve`): a
        submission past a ``refuse`` budget is left out (its error is returned at its
        index; with a single submission, raised), jobs past a ``hold`` budget are
        stored HELD and claimed by nobody.

        With ``engine_id`` (an engine that drives jobs), the jobs are claimed for
        it in the same transaction, except standard jobs of a group that
        another live engine holds queued (``held_elsewhere``): those are handed
        to that engine (and it is notified), so a group's jobs from many servers
        flush together. Without ``engine_id`` they wait for a claim. Each row's
        ``engine_id`` and ``fence`` say what happened. An idempotency key
        already in the store raises :class:`errors.IdempotencyKeyTaken` (from the constraint).
        """
        for row in rows:
            row["engine_id"], row["fence"] = None, 0
            row.setdefault("status", lifecycle.ACCEPT.target.value)  # type: ignore[union-attr]
        sizes = list(parts) if parts else [len(rows)]
        with self.db.write() as conn:
            if idempotency_key is not None:
                key, body_hash = idempotency_key
                try:
                    conn.execute(
                        idempotency.insert().values(
                            key=key, body_hash=body_hash,
                            job_ids=json.dumps([r["id"] for r in rows]), created_at=rows[0]["created_at"],
                        )
                    )
                except sa.exc.IntegrityError:
                    raise errors.IdempotencyKeyTaken("this Idempotency-Key is already in the store") from None
            known = self._budgets
            if known is None:
                known = self._budgets = charges.load(conn)
            writes: charges.Writes = []  # sent with the insert: one round trip
            refused: list[errors.HalError | None] = [None] * len(sizes)
            if known:  # (no budget: nothing more on the hot path)
                split, start = [], 0
                for size in sizes:
                    split.append(rows[start : start + size])
                    start += size
                refused = charges.reserve(conn, split, rows[0]["created_at"], known, writes)
            if any(refused):
                if len(split) == 1:
                    raise refused[0]  # type: ignore[misc]
                rows = [row for part, error in zip(split, refused) if error is None for row in part]
                if not rows:
                    return refused
            assigned: dict[str, list[str]] = {}
            if engine_id is not None:
                keys = {r["group_key"] for r in rows if r.get("group_key") and r["priority"] != "high" and r["status"] != HELD}
                held = held_elsewhere(conn, engine_id, keys) if held_elsewhere is not None and keys else {}
                for row in rows:
                    if row["status"] == HELD:
                        continue  # released later, to whichever engine claims it
                    holder = held.get(row.get("group_key") or "") if row["priority"] != "high" else None
                    row["engine_id"], row["fence"] = holder or engine_id, 1
                    if holder:
                        assigned.setdefault(holder, []).append(row["id"])
            notify = self.db.payloads(
                engine_id, jobs=[r["id"] for r in rows], queued=["*"] if any(r["engine_id"] is None and r["status"] != HELD for r in rows) else [],
                assigned=assigned,
            )
            self.db.insert(conn, jobs, [encode(r) for r in rows], notify, writes)
        return refused

    # -- transitions --------------------------------------------------------
    def transition(self, t: Transition, engine_id: str, stamp: str, changes: Sequence[Change]) -> set[str]:
        """Move jobs by ``t`` where ``engine_id`` still drives each with its fencing
        token and each is in one of ``t``'s source statuses; the ids that moved.
        A result lands with its job's change, in the same transaction, or not at all."""
        return self.transitions(engine_id, stamp, [(t, changes)])[0]

    def transitions(self, engine_id: str, stamp: str, steps: Sequence[tuple[Transition, Sequence[Change]]]) -> list[set[str]]:
        """Several transitions in one database transaction (one statement each)."""
        done: list[set[str]] = []
        with self.db.write() as conn:
            for t, changes in steps:
                done.append(transition(conn, t, engine_id, stamp, changes))
            self.db.notify(conn, engine_id, jobs=sorted(set().union(*done)))
        return done

    def start_batch(self, engine_id: str, stamp: str, batch: dict[str, Any], changes: Sequence[Change]) -> set[str]:
        """The intent, on disk before the provider is called: the batch's record and its
        jobs SUBMITTING (:data:`.lifecycle.INTEND`). Only jobs this engine still drives and
        that are still QUEUED join it; returns their ids (the batch records exactly those)."""
        with self.db.write() as conn:
            applied = transition(conn, lifecycle.INTEND, engine_id, stamp, changes)
            taken = [job_id for job_id, *_ in changes if job_id in applied]
            if taken:
                conn.execute(batches.insert().values({**batch, "job_ids": json.dumps(taken), "created_at": stamp}))
            self.db.notify(conn, engine_id, jobs=taken)
        return applied

    # -- cancel requests ----------------------------------------------------
    def request_cancel(self, job_id: str) -> bool:
        """Ask the engine that drives the job to cancel it (``cancel_requested``); False if
        it is finished already. Any engine may ask: it moves no status."""
        with self.db.write() as conn:
            done = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status.in_(lifecycle.CANCELLABLE_NAMES))
                .values(cancel_requested=True)
                .returning(jobs.c.engine_id)
            ).first()
            if done is not None:
                self.db.notify(conn, done.engine_id, cancel=[job_id])
        return done is not None

    def cancel_requests(self, engine_id: str) -> list[str]:
        """Jobs this engine drives that someone asked to cancel."""
        with self.db.read() as conn:
            query = sa.select(jobs.c.id).where(
                jobs.c.engine_id == engine_id, jobs.c.cancel_requested.is_(True), jobs.c.status.in_(lifecycle.CANCELLABLE_NAMES)
            )
            return [i for (i,) in conn.execute(query)]

    # -- reads ----------------------------------------------------------------
    def get_jobs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        with self.db.read() as conn:
            found = {
                r.id: decode(r) for chunk in chunks(ids, CHUNK) for r in conn.execute(sa.select(jobs).where(jobs.c.id.in_(chunk)))
            }
        return [found[i] for i in ids if i in found]

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        found = self.get_jobs([job_id])
        return found[0] if found else None

    def list_jobs(
        self,
        *,
        status: str | None = None,
        provider: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        ids: Sequence[str] | None = None,
        owner: str | None = None,
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs newest first; ``before_seq`` continues a listing (the cursor);
        ``ids`` keeps only those jobs (at most a few hundred: one ``IN`` list);
        ``owner`` keeps that user's jobs and those that have no owner."""
        query = sa.select(jobs).order_by(jobs.c.seq.desc()).limit(limit)
        if ids is not None:
            query = query.where(jobs.c.id.in_(list(ids)))
        if owner is not None:
            query = query.where(sa.or_(jobs.c.owner == owner, jobs.c.owner.is_(None)))
        if status:
            query = query.where(jobs.c.status == status)
        if provider:
            query = query.where(jobs.c.provider == provider)
        if kind:
            query = query.where(jobs.c.kind == kind)
        if tag:
            query = query.where(jobs.c.tags.contains(json.dumps(tag), autoescape=True))
        if before_seq is not None:
            query = query.where(jobs.c.seq < before_seq)
        with self.db.read() as conn:
            return [decode(r) for r in conn.execute(query)]

    def records(self, ids: list[str]) -> list[dict[str, Any]]:
        """Jobs by id without their payload (what an event needs)."""
        found: list[dict[str, Any]] = []
        with self.db.read() as conn:
            for chunk in chunks(ids, CHUNK):
                found += [decode(r) for r in conn.execute(sa.select(*RECORD_COLUMNS).where(jobs.c.id.in_(chunk)))]
        return found

    def changed_since(self, since: str, limit: int = 1000) -> list[dict[str, Any]]:
        """Jobs changed at or after ``since`` (ISO time): the events fallback without NOTIFY."""
        with self.db.read() as conn:
            query = sa.select(*RECORD_COLUMNS).where(jobs.c.updated_at >= since).order_by(jobs.c.updated_at).limit(limit)
            return [decode(r) for r in conn.execute(query)]

    def driven_ids(self, engine_id: str) -> set[str]:
        """The unfinished jobs the store says this engine drives."""
        with self.db.read() as conn:
            query = sa.select(jobs.c.id).where(jobs.c.engine_id == engine_id, jobs.c.status.in_(lifecycle.DRIVEN_NAMES))
            return {i for (i,) in conn.execute(query)}

    def get_result(self, job_id: str) -> dict[str, Any] | None:
        return self.get_results([job_id]).get(job_id)

    def get_results(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored results of those jobs that have one, by job id."""
        found: dict[str, dict[str, Any]] = {}
        with self.db.read() as conn:
            for chunk in chunks(list(job_ids), CHUNK):
                query = sa.select(results.c.job_id, results.c.data).where(results.c.job_id.in_(chunk))
                found.update((job_id, load_result(data)) for job_id, data in conn.execute(query))
        return found

    def batch_count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(batches)).scalar() or 0)

    def find_idempotency_key(self, key: str) -> tuple[str, list[str]] | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(idempotency).where(idempotency.c.key == key)).first()
        return None if row is None else (row.body_hash, json.loads(row.job_ids))
