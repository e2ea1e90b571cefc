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

from . import errors, lifecycle
from .database import Database
from .lifecycle import Transition
from .schema import JSON_COLUMNS, RECORD_COLUMNS, SCHEMA_VERSION, batches, decode, dump_result, encode, idempotency, jobs, load_result, results

__all__ = ["Change", "JobStore", "SCHEMA_VERSION"]

#: ``(job_id, fence, fields, result)``: one job's part of a transition
Change = tuple[str, int, dict[str, Any], "dict[str, Any] | None"]
#: jobs per statement: a transition of more jobs is one statement per this many
CHUNK = 500
#: which other live engine holds each group queued, asked at submission (:meth:`.leases.Leases.held_groups`)
HeldGroups = Callable[[sa.Connection, str, set[str]], dict[str, str]]


class JobStore:
    """Jobs, their results, batches and idempotency keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
    ) -> None:
        """Accept new jobs (and their idempotency key) in one transaction.

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
            assigned: dict[str, list[str]] = {}
            if engine_id is not None:
                keys = {r["group_key"] for r in rows if r.get("group_key") and r["priority"] != "high"}
                held = held_elsewhere(conn, engine_id, keys) if held_elsewhere is not None and keys else {}
                for row in rows:
                    holder = held.get(row.get("group_key") or "") if row["priority"] != "high" else None
                    row["engine_id"], row["fence"] = holder or engine_id, 1
                    if holder:
                        assigned.setdefault(holder, []).append(row["id"])
            notify = self.db.payloads(
                engine_id, jobs=[r["id"] for r in rows], queued=["*"] if any(r["engine_id"] is None for r in rows) else [], assigned=assigned
            )
            self.db.insert(conn, jobs, [encode(r) for r in rows], notify)

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
                done.append(_transition(conn, t, engine_id, stamp, changes))
            self.db.notify(conn, engine_id, jobs=sorted(set().union(*done)))
        return done

    def start_batch(self, engine_id: str, stamp: str, batch: dict[str, Any], changes: Sequence[Change]) -> set[str]:
        """The intent, on disk before the provider is called: the batch's record and its
        jobs SUBMITTING (:data:`.lifecycle.INTEND`). Only jobs this engine still drives and
        that are still QUEUED join it; returns their ids (the batch records exactly those)."""
        with self.db.write() as conn:
            applied = _transition(conn, lifecycle.INTEND, engine_id, stamp, changes)
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
                r.id: decode(r) for chunk in _chunks(ids, CHUNK) for r in conn.execute(sa.select(jobs).where(jobs.c.id.in_(chunk)))
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
            for chunk in _chunks(ids, CHUNK):
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
            for chunk in _chunks(list(job_ids), CHUNK):
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


_UNSET = object()


def _transition(conn: sa.Connection, t: Transition, engine_id: str, stamp: str, changes: Sequence[Change]) -> set[str]:
    """``t`` for ``changes`` as one ``UPDATE ... RETURNING`` per :data:`CHUNK` jobs: fields
    the same for every job are plain values, fields that differ a ``CASE`` on the id."""
    applied: set[str] = set()
    for chunk in _chunks(list(changes), CHUNK):
        for _, _, fields, _ in chunk:
            t.check(fields)
        values: dict[str, Any] = {"updated_at": stamp}
        if t.target is not None:
            values["status"] = t.target.value
        for name in t.stamps:
            values[name] = sa.func.coalesce(jobs.c[name], stamp)
        for name in t.clears:
            values[name] = None
        if t.ends:
            values["cancel_requested"] = False
        if t.counts_attempt:
            values["attempts"] = jobs.c.attempts + 1
        for name in sorted({name for _, _, fields, _ in chunk for name in fields}):
            values[name] = _column_value(name, [(job_id, fields.get(name, _UNSET)) for job_id, _, fields, _ in chunk])
        statement = (
            jobs.update()
            .where(
                sa.tuple_(jobs.c.id, jobs.c.fence).in_([(job_id, fence) for job_id, fence, _, _ in chunk]),
                jobs.c.engine_id == engine_id,
                jobs.c.status.in_(t.source_names),
            )
            .values(values)
            .returning(jobs.c.id)
        )
        moved = {job_id for (job_id,) in conn.execute(statement)}
        applied |= moved
        if t.stores_result:
            rows = [{"job_id": job_id, "data": dump_result(result)} for job_id, _, _, result in chunk if result is not None and job_id in moved]
            if rows:
                conn.execute(results.insert(), rows)
    return applied


def _column_value(name: str, values: list[tuple[str, Any]]) -> Any:
    """One column's new value for a chunk of jobs: the value itself when every job gets
    the same one, else a ``CASE`` on the job id (a job that sets nothing keeps its own)."""
    encoded = [(job_id, json.dumps(v) if name in JSON_COLUMNS and v is not None and v is not _UNSET else v) for job_id, v in values]
    distinct = {json.dumps(v, sort_keys=True, default=str) for _, v in encoded if v is not _UNSET}
    if len(distinct) == 1 and all(v is not _UNSET for _, v in encoded):
        return encoded[0][1]
    column = jobs.c[name]
    whens = [(jobs.c.id == job_id, sa.literal(v, column.type) if v is not None else sa.null()) for job_id, v in encoded if v is not _UNSET]
    return sa.case(*whens, else_=column)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
