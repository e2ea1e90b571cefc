"""The durable job store: the source of truth for every job.

SQLAlchemy Core over SQLite (a WAL file in the Jupyter data directory, the
default) or PostgreSQL (one store shared by many servers and workers). The
store decides: every change of a live job is a conditional write that says
what it changed. A write names the engine that drives the job and the fencing
token it was claimed with, and never touches a terminal job, so a late answer
or an engine that lost its lease changes nothing. Leases and claims are in
:mod:`.leases`; tables and migrations in :mod:`.schema`.

The store is synchronous: each engine calls it from one worker thread, so the
event loop never blocks on the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from . import errors
from .models import TERMINAL_NAMES
from .schema import CLAIM_LOCK, SCHEMA_VERSION, batches, decode, encode, idempotency, jobs, meta, migrate, results

__all__ = ["JobStore", "SCHEMA_VERSION", "default_db_url", "meta"]

#: ``NOTIFY`` channel: every change of jobs, so engines on other servers see it
CHANNEL = "hal_jobs"
NOTIFY_IDS = 300  # job ids per notification (PostgreSQL's payload limit is 8000 bytes)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the ``postgres`` extra), not
    SQLAlchemy's default psycopg2; a URL SQLAlchemy cannot read is a clear error."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_db_url() -> str:
    from jupyter_core.paths import jupyter_data_dir

    path = Path(jupyter_data_dir()) / "hal_jupyter" / "jobs.sqlite"
    return f"sqlite:///{path}"


class JobStore:
    """Jobs, their results, batches, idempotency keys and engines' leases, in one database."""

    def __init__(self, url: str) -> None:
        self.url = url = normalize_url(url)
        try:
            self.dialect = sa.make_url(url).get_backend_name()
        except sa.exc.ArgumentError:
            raise errors.StoreUnavailable("db_url is not a database URL (sqlite:///path or postgresql+psycopg://user:password@host/db)") from None
        if self.dialect not in ("sqlite", "postgresql"):
            raise errors.StoreUnavailable(f"db_url names {self.dialect!r}; the job store runs on SQLite or PostgreSQL")
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if self.dialect == "sqlite":
            self._engine = sa.create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self._engine, "connect", _sqlite_connect)
            event.listen(self._engine, "begin", _sqlite_begin)
        else:
            try:  # pre-ping: a connection that died with a database restart is replaced, not reused
                self._engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            except (ImportError, sa.exc.NoSuchModuleError) as exc:
                raise errors.StoreUnavailable(
                    f"the PostgreSQL driver is missing ({exc}); pip install 'hal-jupyter[postgres]'"
                ) from None
        self._writer = self._engine.execution_options(hal_write=True)
        try:
            migrate(self._engine, url)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self._engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise errors.StoreUnavailable(f"the job store cannot be reached: {reason}") from None
        from .leases import Leases

        self.leases = Leases(self)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def write(self, claim_lock: bool = False) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``); ``claim_lock`` serializes
        it with every engine's claims (PostgreSQL: a transaction-scoped advisory lock)."""
        with self._writer.begin() as conn:
            if claim_lock and self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK)))
            yield conn

    def notify(self, conn: sa.Connection, kind: str, engine_id: str | None, ids: Sequence[str]) -> None:
        """Tell other engines (PostgreSQL ``NOTIFY``, delivered at commit) that these jobs changed."""
        if self.dialect != "postgresql" or not ids:
            return
        for start in range(0, len(ids), NOTIFY_IDS):
            payload = json.dumps({"e": engine_id or "", "k": kind, "ids": list(ids[start : start + NOTIFY_IDS])})
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))

    # -- jobs -------------------------------------------------------------
    def insert_jobs(
        self,
        rows: Sequence[dict[str, Any]],
        idempotency_key: tuple[str, str] | None = None,
        engine_id: str | None = None,
    ) -> None:
        """Insert jobs (and their idempotency key) in one transaction.

        With ``engine_id`` (an engine that drives jobs), the jobs are claimed for
        it in the same transaction, except standard jobs of a group that
        another live engine holds queued: those are left to that engine, so a
        group's jobs from many servers flush together. Each row's ``engine_id``
        and ``fence`` say what happened. An idempotency key already in the store
        raises :class:`errors.IdempotencyKeyTaken` (from the constraint).
        """
        for row in rows:
            row["engine_id"], row["fence"] = None, 0
        with self.write(claim_lock=engine_id is not None) as conn:
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
            if engine_id is not None:
                held = self.leases.held_groups(conn, engine_id, {r["group_key"] for r in rows if r.get("group_key")})
                for row in rows:
                    if row["priority"] == "high" or row.get("group_key") not in held:
                        row["engine_id"], row["fence"] = engine_id, 1
            conn.execute(jobs.insert(), [encode(r) for r in rows])
            left = [r["id"] for r in rows if r["engine_id"] is None]
            self.notify(conn, "queued", engine_id, left)
            self.notify(conn, "jobs", engine_id, [r["id"] for r in rows if r["engine_id"] is not None])

    def get_jobs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        with self._engine.connect() as conn:
            found = {
                r.id: decode(r)
                for chunk in _chunks(ids, 500)
                for r in conn.execute(sa.select(jobs).where(jobs.c.id.in_(chunk)))
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
        with self._engine.connect() as conn:
            return [decode(r) for r in conn.execute(query)]

    # -- fenced writes ------------------------------------------------------
    def apply(
        self, engine_id: str, changes: Sequence[tuple[str, int, dict[str, Any], dict[str, Any] | None]]
    ) -> set[str]:
        """Apply ``(job_id, fence, fields, result)`` where ``engine_id`` still drives the
        job with that fencing token and the job is not terminal; returns the ids changed.
        A result lands with its job's fields in one transaction, or not at all."""
        with self.write() as conn:
            applied = _fenced_update(conn, engine_id, [(j, f, fields) for j, f, fields, _ in changes])
            rows = [{"job_id": j, "data": json.dumps(r)} for j, _, _, r in changes if r is not None and j in applied]
            if rows:
                conn.execute(results.delete().where(results.c.job_id.in_([r["job_id"] for r in rows])))
                conn.execute(results.insert(), rows)
            self.notify(conn, "jobs", engine_id, sorted(applied))
        return applied

    def start_batch(
        self, engine_id: str, batch: dict[str, Any], fences: dict[str, int], fields: dict[str, Any]
    ) -> set[str]:
        """Record a batch and move its jobs to SUBMITTING: the intent, on disk before
        the provider is called. Only jobs this engine still drives and that are
        still QUEUED join it; returns their ids (the batch records exactly those)."""
        with self.write() as conn:
            changes = [(j, fences[j], {**fields, "attempts": jobs.c.attempts + 1}) for j in batch["job_ids"]]
            applied = _fenced_update(conn, engine_id, changes, status="QUEUED")
            taken = [j for j in batch["job_ids"] if j in applied]
            if taken:
                conn.execute(batches.insert().values({**batch, "job_ids": json.dumps(taken)}))
            self.notify(conn, "jobs", engine_id, taken)
        return applied

    # -- results ----------------------------------------------------------
    def get_result(self, job_id: str) -> dict[str, Any] | None:
        return self.get_results([job_id]).get(job_id)

    def get_results(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored results of those jobs that have one, by job id."""
        found: dict[str, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for chunk in _chunks(list(job_ids), 500):
                query = sa.select(results.c.job_id, results.c.data).where(results.c.job_id.in_(chunk))
                found.update((job_id, json.loads(data)) for job_id, data in conn.execute(query))
        return found

    # -- batches ----------------------------------------------------------
    def batches_of(self, job_id: str) -> list[dict[str, Any]]:
        """Every batch that carried ``job_id`` (one, unless a free local run was repeated)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(batches).where(batches.c.job_ids.contains(json.dumps(job_id), autoescape=True))
            )
            return [dict(r._mapping, job_ids=json.loads(r.job_ids)) for r in rows]

    def batch_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(batches)).scalar() or 0)

    # -- idempotency ------------------------------------------------------
    def find_idempotency_key(self, key: str) -> tuple[str, list[str]] | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(idempotency).where(idempotency.c.key == key)).first()
        return None if row is None else (row.body_hash, json.loads(row.job_ids))



def _fenced_update(
    conn: sa.Connection,
    engine_id: str,
    changes: Sequence[tuple[str, int, dict[str, Any]]],
    status: str | None = None,
) -> set[str]:
    """``UPDATE`` each job where this engine drives it with that token and it is not
    terminal (or, with ``status``, is in that status); the ids that changed."""
    applied: set[str] = set()
    for job_id, fence, fields in changes:
        condition = [jobs.c.id == job_id, jobs.c.engine_id == engine_id, jobs.c.fence == fence]
        condition.append(jobs.c.status == status if status else jobs.c.status.not_in(TERMINAL_NAMES))
        done = conn.execute(jobs.update().where(*condition).values(**encode(fields)))
        if done.rowcount == 1:
            applied.add(job_id)
    return applied


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # The driver opens no transactions of its own; _sqlite_begin does (SQLAlchemy's recipe).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process (only power loss can lose the
    # last transactions), at a fraction of FULL's cost per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write takes the database's write lock up front, so a read-then-write
    # transaction never fails half-way on another process's commit.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("hal_write") else "BEGIN")
