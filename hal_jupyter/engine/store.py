"""The durable job store.

SQLAlchemy Core over any database URL; the default is a SQLite file (WAL) in
the Jupyter data directory. Every state change of a job is written here before
anything acts on it, so a restart can resume from the store alone.

The store is synchronous and not thread-safe by design: the engine confines it
to one worker thread, so the event loop never blocks on the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

SCHEMA_VERSION = 1

metadata = sa.MetaData()

jobs = sa.Table(
    "hal_jobs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(200), nullable=False, index=True),
    sa.Column("backend", sa.String(200)),
    sa.Column("name", sa.String(200)),
    sa.Column("tags", sa.Text, nullable=False, default="[]"),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("status_message", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("submitted_at", sa.String(40)),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("batch_id", sa.String(64), index=True),
    sa.Column("remote_id", sa.String(400)),
    sa.Column("shots", sa.Integer),
    sa.Column("cost_estimate", sa.Text),
    sa.Column("error", sa.Text),
    # What the provider needs to (re)submit the job: circuit or code, args, options.
    sa.Column("payload", sa.Text, nullable=False),
    # How many provider calls carried this job (more than 1 only for free local
    # runs that were lost in a crash and run again).
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
)

results = sa.Table(
    "hal_results",
    metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
)

batches = sa.Table(
    "hal_batches",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("backend", sa.String(200)),
    sa.Column("job_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
)

idempotency = sa.Table(
    "hal_idempotency",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("job_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

meta = sa.Table(
    "hal_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

JSON_COLUMNS = ("tags", "cost_estimate", "error", "payload")


def default_db_url() -> str:
    from jupyter_core.paths import jupyter_data_dir

    path = Path(jupyter_data_dir()) / "hal_jupyter" / "jobs.sqlite"
    return f"sqlite:///{path}"


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in JSON_COLUMNS:
        if col in out and out[col] is not None and not isinstance(out[col], str):
            out[col] = json.dumps(out[col])
    return out


def _decode(row: sa.Row[Any] | Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for col in JSON_COLUMNS:
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out


class JobStore:
    """Jobs, their results, batches and idempotency keys, in one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self._engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False} if url.startswith("sqlite") else {},
        )
        if url.startswith("sqlite"):
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self._migrate()

    def _migrate(self) -> None:
        metadata.create_all(self._engine)
        with self._engine.begin() as conn:
            found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            if found is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the job store at {self.url} has schema version {found}, newer than this "
                    f"hal-jupyter ({SCHEMA_VERSION}); upgrade hal-jupyter"
                )

    def close(self) -> None:
        self._engine.dispose()

    # -- jobs -------------------------------------------------------------
    def insert_jobs(
        self, rows: Sequence[dict[str, Any]], idempotency_key: tuple[str, str] | None = None
    ) -> None:
        """Insert jobs (and their idempotency key) in one transaction."""
        with self._engine.begin() as conn:
            conn.execute(jobs.insert(), [_encode(r) for r in rows])
            if idempotency_key is not None:
                key, body_hash = idempotency_key
                conn.execute(
                    idempotency.insert().values(
                        key=key,
                        body_hash=body_hash,
                        job_ids=json.dumps([r["id"] for r in rows]),
                        created_at=rows[0]["created_at"],
                    )
                )

    def get_jobs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        with self._engine.connect() as conn:
            found = {
                r.id: _decode(r)
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
        limit: int = 100,
        before_seq: int | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs newest first; ``before_seq`` continues a listing (the cursor);
        ``ids`` keeps only those jobs (at most a few hundred: one ``IN`` list)."""
        query = sa.select(jobs).order_by(jobs.c.seq.desc()).limit(limit)
        if ids is not None:
            query = query.where(jobs.c.id.in_(list(ids)))
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
            return [_decode(r) for r in conn.execute(query)]

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Jobs a restart must resume: neither terminal nor UNKNOWN, oldest first."""
        query = (
            sa.select(jobs)
            .where(jobs.c.status.in_(["QUEUED", "SUBMITTING", "SUBMITTED", "RUNNING"]))
            .order_by(jobs.c.seq)
        )
        with self._engine.connect() as conn:
            return [_decode(r) for r in conn.execute(query)]

    # -- results ----------------------------------------------------------
    def finish_jobs(
        self, changes: Sequence[tuple[str, dict[str, Any], dict[str, Any] | None]]
    ) -> None:
        """Store ``(job_id, fields, result)`` in one transaction: a result and its
        COMPLETED status land together or not at all."""
        with self._engine.begin() as conn:
            rows = [{"job_id": j, "data": json.dumps(r)} for j, _, r in changes if r is not None]
            if rows:
                conn.execute(results.delete().where(results.c.job_id.in_([r["job_id"] for r in rows])))
                conn.execute(results.insert(), rows)
            _update_each(conn, [(job_id, fields) for job_id, fields, _ in changes])

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
    def start_batch(self, batch: dict[str, Any], fields: dict[str, Any]) -> None:
        """Record a batch and move its jobs to SUBMITTING: the intent, on disk
        before the provider is called."""
        with self._engine.begin() as conn:
            conn.execute(batches.insert().values({**batch, "job_ids": json.dumps(batch["job_ids"])}))
            for chunk in _chunks(batch["job_ids"], 500):
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id.in_(chunk))
                    .values(**_encode(fields), attempts=jobs.c.attempts + 1)
                )

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


def _update_each(conn: sa.Connection, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Per-job updates as one executemany per set of changed columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for job_id, fields in changes:
        encoded = _encode(fields)
        by_columns.setdefault(tuple(sorted(encoded)), []).append({"_job_id": job_id, **encoded})
    for columns, params in by_columns.items():
        statement = (
            jobs.update()
            .where(jobs.c.id == sa.bindparam("_job_id"))
            .values({c: sa.bindparam(c) for c in columns})
        )
        conn.execute(statement, params)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a killed process (only power loss can lose the
    # last transactions), at a fraction of FULL's cost per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
