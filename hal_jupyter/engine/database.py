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
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
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
        self._local = threading.local()
        self._guard = threading.Lock()
        self._pinned: list[sa.Connection] = []
        self._inserts: dict[str, tuple[str, list[str], dict[str, Any], bool]] = {}
        #: the database's clock in epoch seconds: every engine judges leases by one clock
        self.now = db_now(self.dialect)
        try:
            migrate(self.engine, url)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise errors.StoreUnavailable(f"the job store cannot be reached: {reason}") from None

    def pin(self) -> None:
        """Keep one connection for the calling thread (an engine's one store thread), so
        that a transaction costs no pool checkout (and, on PostgreSQL, no pre-ping round
        trip). A pinned connection that fails as disconnected is dropped: that call fails
        (a 503) and the next one connects again."""
        self._local.pinned = True

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sa.Connection]:
        if not getattr(self._local, "pinned", False):
            with (self._writer.begin() if write else self.engine.connect()) as conn:
                yield conn
            return
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
            with self._guard:
                self._pinned.append(conn)
        conn.execution_options(hal_write=write)
        try:
            with conn.begin():
                yield conn
        except BaseException:
            if conn.invalidated:  # the database went away: connect again next time
                self._local.conn = None
                self._close(conn)
            raise

    def _close(self, conn: sa.Connection) -> None:
        with self._guard:
            if conn in self._pinned:
                self._pinned.remove(conn)
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - it is gone already
            pass

    def write(self) -> AbstractContextManager[sa.Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, the database's write lock)."""
        return self._transaction(write=True)

    def read(self) -> AbstractContextManager[sa.Connection]:
        return self._transaction(write=False)

    def insert(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], notify: Sequence[str] = (),
        also: Sequence[tuple[sa.TextClause, str, Sequence[Mapping[str, Any]]]] = (),
    ) -> None:
        """``INSERT`` rows of every column but the key, and send the ``notify`` payloads
        (:meth:`payloads`), through the driver with SQL compiled once: the hot path of
        every accepted submission, where SQLAlchemy's per-statement machinery cost as
        much as SQLite's own work. On PostgreSQL the statements go in ONE pipeline (with
        the transaction's ``BEGIN``): one round trip, where each cost ~0.25 ms here (a
        ``COMMIT`` queued there too made it slower: the commit is the caller's).
        The driver's errors are raised as SQLAlchemy's (a lost connection invalidated).
        ``also``: more statements of the transaction, ``(statement, its SQL for psycopg
        with %(name)s parameters, rows)``, in the same pipeline on PostgreSQL (a budget's
        charges and totals), before the insert on SQLite."""
        if also and self.dialect != "postgresql":
            for statement, _, params_rows in also:
                conn.execute(statement, list(params_rows))
        compiled = self._inserts.get(table.name)
        if compiled is None:
            columns = [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]
            statement = table.insert().compile(dialect=conn.dialect, column_keys=columns)
            order = list(statement.positiontup or []) if conn.dialect.positional else columns
            defaults = {c.name: c.default.arg for c in table.c if c.default is not None and c.default.is_scalar}  # type: ignore[attr-defined]
            compiled = self._inserts[table.name] = (str(statement), order, defaults, conn.dialect.positional)
        sql, order, defaults, positional = compiled
        full = [{**defaults, **row} if defaults.keys() - row.keys() else row for row in rows]
        params: list[Any]
        if positional:
            params = [tuple(row.get(name) for name in order) for row in full]
        else:
            params = [{name: row.get(name) for name in order} for row in full]
        driver = conn.connection.driver_connection
        dbapi = conn.dialect.loaded_dbapi
        try:
            if self.dialect == "postgresql":
                with driver.pipeline(), driver.cursor() as cursor:  # type: ignore[union-attr]
                    cursor.executemany(sql, params)
                    for _, pg_sql, params_rows in also:
                        cursor.executemany(pg_sql, list(params_rows))
                    if notify:
                        cursor.execute("SELECT " + ", ".join(["pg_notify(%s, %s)"] * len(notify)), [x for p in notify for x in (CHANNEL, p)])
            else:
                cursor = driver.cursor()  # type: ignore[union-attr]
                try:
                    cursor.executemany(sql, params)
                finally:
                    cursor.close()
        except dbapi.Error as exc:
            lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
            if lost:
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi.Error, connection_invalidated=lost, dialect=conn.dialect) from exc

    def payloads(
        self,
        engine_id: str | None,
        *,
        jobs: Sequence[str] = (),
        queued: Sequence[str] = (),
        assigned: Mapping[str, Sequence[str]] | None = None,
        cancel: Sequence[str] = (),
        engines: bool = False,
        budgets: bool = False,
    ) -> list[str]:
        """The ``NOTIFY`` payloads that tell other engines what they need of a transaction:
        jobs that changed (events), queued jobs nobody drives (a claim), jobs handed to an
        engine, cancel requests, that an engine came or went. None on SQLite (engines
        there poll)."""
        if self.dialect != "postgresql":
            return []
        parts: list[tuple[str, str, Sequence[str]]] = [("j", "", jobs), ("q", "", queued), ("c", "", cancel)]
        parts += [("a", target, ids) for target, ids in (assigned or {}).items()]
        payloads: list[dict[str, Any]] = [{"e": engine_id or "", "n": 1}] if engines else []
        if budgets:  # a budget changed: engines read them again before their next acceptance
            payloads.append({"e": engine_id or "", "b": 1})
        for field, target, ids in parts:
            for start in range(0, len(ids), NOTIFY_IDS):
                payload: dict[str, Any] = {"e": engine_id or "", field: list(ids[start : start + NOTIFY_IDS])}
                if target:
                    payload["t"] = target
                payloads.append(payload)
        return [json.dumps(p, separators=(",", ":")) for p in payloads]

    def notify(self, conn: sa.Connection, engine_id: str | None, **what: Any) -> None:
        """Send :meth:`payloads` (delivered at commit), in ONE statement."""
        payloads = self.payloads(engine_id, **what)
        if payloads:
            conn.execute(sa.select(*(sa.func.pg_notify(CHANNEL, p) for p in payloads)))

    def close(self) -> None:
        with self._guard:
            pinned, self._pinned = self._pinned, []
        for conn in pinned:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing what is left
                pass
        self.engine.dispose()


@dataclass(frozen=True)
class Notification:
    """One ``NOTIFY`` payload of :meth:`Database.notify`."""

    engine_id: str  # the engine whose transaction sent it
    jobs: tuple[str, ...] = ()
    queued: tuple[str, ...] = ()
    cancel: tuple[str, ...] = ()
    #: jobs handed to ``target`` (an engine that holds their group)
    assigned: tuple[str, ...] = ()
    target: str = ""
    engines: bool = False
    budgets: bool = False


def parse_notification(payload: str) -> Notification | None:
    """The notification of a NOTIFY payload, or None if it is not ours."""
    try:
        data = json.loads(payload)
        ids = {name: tuple(str(i) for i in data.get(key, ())) for name, key in (("jobs", "j"), ("queued", "q"), ("cancel", "c"), ("assigned", "a"))}
        return Notification(
            engine_id=str(data["e"]), target=str(data.get("t", "")), engines=bool(data.get("n")), budgets=bool(data.get("b")), **ids
        )
    except (ValueError, KeyError, TypeError, AttributeError):
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
    # (straight to the driver: this runs for every transaction)
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get("hal_write") else "BEGIN")  # type: ignore[union-attr]


__all__ = ["CHANNEL", "Database", "Notification", "default_db_url", "normalize_url", "parse_notification"]
