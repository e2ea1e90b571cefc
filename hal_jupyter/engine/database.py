"""The database under the job store and the leases: one connection pool, its
transactions, its clock and its notifications.

SQLAlchemy Core over SQLite (a WAL file in the Jupyter data directory, the
default) or PostgreSQL (one store shared by many servers and workers). Both
:mod:`.store` (the jobs) and :mod:`.leases` (the engines) stand on this module;
neither imports the other.

It is synchronous: each engine calls it from one worker thread, so the event
loop never blocks on the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from . import errors
from .schema import db_now, migrate

#: ``NOTIFY`` channel: changes of jobs, so engines on other servers see them
CHANNEL = "hal_jobs"
NOTIFY_IDS = 300  # job ids per notification (PostgreSQL's payload limit is 8000 bytes)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the ``postgres`` extra), not
    SQLAlchemy's default psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_db_url() -> str:
    from jupyter_core.paths import jupyter_data_dir

    path = Path(jupyter_data_dir()) / "hal_jupyter" / "jobs.sqlite"
    return f"sqlite:///{path}"


class Database:
    """A migrated job-store database: transactions, reads, the database's clock, ``NOTIFY``."""

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
            self.engine = sa.create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            try:  # pre-ping: a connection that died with a database restart is replaced, not reused
                self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            except (ImportError, sa.exc.NoSuchModuleError) as exc:
                raise errors.StoreUnavailable(
                    f"the PostgreSQL driver is missing ({exc}); pip install 'hal-jupyter[postgres]'"
                ) from None
        self._writer = self.engine.execution_options(hal_write=True)
        #: the database's clock in epoch seconds: every engine judges leases by one clock
        self.now = db_now(self.dialect)
        try:
            migrate(self.engine, url)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise errors.StoreUnavailable(f"the job store cannot be reached: {reason}") from None

    @contextmanager
    def write(self, lock: int | None = None) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, the database's write lock);
        ``lock`` also takes that PostgreSQL transaction-scoped advisory lock (released at
        commit, so a connection pool can never leak it)."""
        with self._writer.begin() as conn:
            if lock is not None and self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn

    def notify(self, conn: sa.Connection, kind: str, engine_id: str | None, ids: Sequence[str]) -> None:
        """Tell other engines (PostgreSQL ``NOTIFY``, delivered at commit) that these jobs changed."""
        if self.dialect != "postgresql" or not ids:
            return
        for start in range(0, len(ids), NOTIFY_IDS):
            payload = json.dumps({"e": engine_id or "", "k": kind, "ids": list(ids[start : start + NOTIFY_IDS])})
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))

    def close(self) -> None:
        self.engine.dispose()


def parse_notification(payload: str) -> tuple[str, str, list[str]] | None:
    """``(engine_id, kind, job_ids)`` of a NOTIFY payload, or None if it is not ours."""
    try:
        data = json.loads(payload)
        return str(data["e"]), str(data["k"]), [str(i) for i in data["ids"]]
    except (ValueError, KeyError, TypeError):
        return None


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


__all__ = ["CHANNEL", "Database", "default_db_url", "normalize_url", "parse_notification"]
