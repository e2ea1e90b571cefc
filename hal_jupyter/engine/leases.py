"""Leases: which engine drives which job, in the store.

An engine (a Jupyter server's, or a worker) registers a row in ``hal_engines``
whose ``expires_at`` its heartbeat keeps in the future, by the database's
clock. A job it drives names it in ``engine_id`` with a fencing token
(``fence``) raised by every claim; every write of the job carries both (see
:meth:`JobStore.apply`), so an engine whose lease lapsed changes nothing once
another one has claimed the job.

Every engine names the providers it drives (``--allowed-providers``): it claims
only their jobs, and takes over only their jobs from a gone engine; jobs of
other providers stay for the engines that drive them.

Claims take no global lock. On PostgreSQL the rows a claim takes are locked
with ``FOR UPDATE SKIP LOCKED`` (as River, procrastinate and graphile-worker
claim jobs), so engines claiming at once take disjoint jobs without waiting
for each other; on SQLite the database's write lock serialises writers. A
claim moves no status (the transitions :data:`.lifecycle.CLAIM` and
:data:`.lifecycle.RESUME`: a new driver); it takes:

- every unfinished job whose engine is gone (lease expired, released, or its
  process on this host dead): the new engine resumes it as after a restart;
- queued jobs nobody drives, except standard jobs of a group that another live
  engine holds queued (and this one does not): that engine takes them, so the
  group flushes as one batch.

A submission of a group that another live engine holds queued is handed to
that engine in the accepting transaction (:meth:`Leases.held_groups`; the
store notifies it), so a group's jobs from many servers flush together
without a claim. Which engines are live, and what each drives, is kept in
memory (:attr:`Leases.fleet`, renewed with every heartbeat and when an engine
comes or goes): an engine alone asks the store nothing more at submission.

Leases stand on :mod:`.database`, beside the job store, not on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .database import Database
from .lifecycle import CANCELLABLE_NAMES, CLAIM, DRIVEN_NAMES, JobStatus, RESUME
from .schema import decode, engines, jobs

log = logging.getLogger("hal_jupyter")
#: what a claim takes from a gone engine: queued jobs (a new driver) and in-flight ones (resumed)
CLAIMED_NAMES = tuple(sorted(set(CLAIM.source_names) | set(RESUME.source_names)))
QUEUED = JobStatus.QUEUED.value
#: jobs any engine may claim to cancel them: no provider call is needed
CANCEL_ANYWHERE = (QUEUED, JobStatus.HELD.value, JobStatus.UNKNOWN.value)


@dataclass(frozen=True)
class EngineInfo:
    """A live engine, as the store knows it."""

    id: str
    label: str
    host: str
    pid: int
    dispatch: bool
    #: the providers it drives; None: every provider
    providers: tuple[str, ...] | None
    started_at: float
    expires_in_s: float

    def drives(self, provider: str) -> bool:
        return self.dispatch and (self.providers is None or provider in self.providers)

    def public(self, this: str) -> dict[str, Any]:
        return {
            "id": self.id, "label": self.label, "host": self.host, "pid": self.pid, "dispatch": self.dispatch,
            "providers": None if self.providers is None else list(self.providers),
            "lease_expires_in_s": round(self.expires_in_s, 1), "this": self.id == this,
        }


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = db.now
        #: the live engines, as of the last heartbeat (or an engine's coming or going)
        self.fleet: list[EngineInfo] = []
        # One index probe (status, group_key, engine_id) per group, stopping at the first
        # row: never a scan of the group's queue, which grows with the load.
        self._holder = (
            sa.select(jobs.c.engine_id)
            .where(
                jobs.c.status == QUEUED,
                jobs.c.group_key == sa.bindparam("key"),
                jobs.c.engine_id.in_(sa.bindparam("others", expanding=True)),
                jobs.c.priority != "high",  # dispatched alone: they hold no group
                jobs.c.engine_id.in_(self._live()),
            )
            .limit(1)
        )

    def _live(self) -> sa.Select[Any]:
        return sa.select(engines.c.id).where(engines.c.expires_at >= self.now)

    def _orphaned(self, engine_id: str) -> sa.ColumnElement[bool]:
        """Unfinished jobs no live engine drives: their engine is gone, or (a store
        from before leases) they were in flight with no engine named. Never the
        claiming engine's own: when its own lease lapsed, it drops its jobs and comes
        back under a new id first (its heartbeat sees it), so that what it is still
        doing with them is fenced off."""
        return sa.and_(
            jobs.c.status.in_(CLAIMED_NAMES),
            sa.or_(
                sa.and_(jobs.c.engine_id.is_not(None), jobs.c.engine_id != engine_id, jobs.c.engine_id.not_in(self._live())),
                sa.and_(jobs.c.engine_id.is_(None), jobs.c.status != QUEUED),
            ),
        )

    @staticmethod
    def _of(providers: Sequence[str] | None) -> sa.ColumnElement[bool]:
        return sa.true() if providers is None else jobs.c.provider.in_(list(providers))

    # -- engines ------------------------------------------------------------
    def register(
        self, engine_id: str, *, label: str, host: str, pid: int, dispatch: bool, lease_s: float, providers: Sequence[str] | None = None
    ) -> None:
        with self.db.write() as conn:
            conn.execute(engines.delete().where(engines.c.id == engine_id))  # a start that is tried again
            conn.execute(
                engines.insert().values(
                    id=engine_id, label=label, host=host, pid=pid, dispatch=dispatch,
                    started_at=self.now, expires_at=self.now + lease_s,
                    providers=None if providers is None else json.dumps(sorted(providers)),
                )
            )
            self.db.notify(conn, engine_id, engines=True)
            self.fleet = self._fleet(conn)

    def heartbeat(self, engine_id: str, lease_s: float) -> bool:
        """Renew the lease and read the fleet; False if the lease had lapsed (then the
        engine must stop driving)."""
        with self.db.write() as conn:
            done = conn.execute(
                engines.update()
                .where(engines.c.id == engine_id, engines.c.expires_at >= self.now)
                .values(expires_at=self.now + lease_s)
            )
            self.fleet = self._fleet(conn)
        return done.rowcount == 1

    def refresh(self) -> list[EngineInfo]:
        """Read the live engines now (an engine came or went)."""
        with self.db.read() as conn:
            self.fleet = self._fleet(conn)
        return self.fleet

    def _fleet(self, conn: sa.Connection) -> list[EngineInfo]:
        query = sa.select(engines, (engines.c.expires_at - self.now).label("left")).where(engines.c.expires_at >= self.now)
        return [
            EngineInfo(
                id=r.id, label=r.label, host=r.host, pid=r.pid, dispatch=bool(r.dispatch),
                providers=None if r.providers is None else tuple(json.loads(r.providers)),
                started_at=r.started_at, expires_in_s=float(r.left),
            )
            for r in conn.execute(query.order_by(engines.c.started_at))
        ]

    def driven_anywhere(self, provider: str) -> bool:
        """Whether a live engine drives jobs of ``provider`` (as of the last heartbeat)."""
        return any(e.drives(provider) for e in self.fleet)

    def release(self, engine_id: str) -> int:
        """Give up every job at once (a clean stop): queued ones return to the pool,
        in-flight ones are taken over by the next claim of any engine."""
        with self.db.write() as conn:
            done = conn.execute(
                jobs.update()
                .where(jobs.c.engine_id == engine_id, jobs.c.status == QUEUED)
                .values(engine_id=None, fence=jobs.c.fence + 1)
            )
            conn.execute(engines.delete().where(engines.c.id == engine_id))
            held = conn.execute(
                sa.select(sa.func.count()).select_from(jobs).where(jobs.c.engine_id == engine_id, jobs.c.status.in_(DRIVEN_NAMES))
            ).scalar()
            self.db.notify(conn, engine_id, queued=["*"], engines=True)
        return int(done.rowcount or 0) + int(held or 0)

    def forget_dead(self, host: str, alive: Callable[[int], bool], except_id: str) -> list[str]:
        """Drop the leases of engines on this host whose process is gone (a crash):
        their jobs are taken over now rather than when the lease would expire."""
        with self.db.write() as conn:
            rows = conn.execute(sa.select(engines.c.id, engines.c.pid).where(engines.c.host == host, engines.c.id != except_id)).all()
            dead = [r.id for r in rows if not alive(r.pid)]
            if dead:
                conn.execute(engines.delete().where(engines.c.id.in_(dead)))
        return dead

    # -- claims ---------------------------------------------------------------
    def held_groups(self, conn: sa.Connection, engine_id: str, keys: Iterable[str]) -> dict[str, str]:
        """Groups (of ``keys``) that another live engine holds queued jobs of, with that
        engine: a submission's jobs of such a group are handed to it. Alone in the
        fleet, nothing is asked of the store."""
        keys = list(keys)
        others = [e.id for e in self.fleet if e.id != engine_id and e.dispatch]
        if not keys or not others:
            return {}
        held = {}
        for key in keys:
            holder = conn.execute(self._holder, {"key": key, "others": others}).scalar()
            if holder is not None:
                held[key] = holder
        return held

    def has_work(self, engine_id: str, providers: Sequence[str] | None = None) -> bool:
        """Whether a claim would find anything (a read: cheap when the answer is no)."""
        with self.db.read() as conn:
            orphan = sa.select(jobs.c.id).where(self._orphaned(engine_id), self._of(providers))
            unclaimed = sa.select(jobs.c.id).where(jobs.c.status == QUEUED, jobs.c.engine_id.is_(None), self._of(providers))
            return conn.execute(sa.select(sa.exists(orphan.union_all(unclaimed).subquery().select()))).scalar() is True

    def claim(self, engine_id: str, providers: Sequence[str] | None = None, limit: int = 5000) -> list[dict[str, Any]]:
        """Take the jobs of gone engines and the free queued jobs, of ``providers``
        (None: every provider); see the module docstring."""
        live = self._live()
        with self.db.write() as conn:
            orphans = (
                sa.select(jobs.c.id).where(self._orphaned(engine_id), self._of(providers)).order_by(jobs.c.seq)
                .with_for_update(skip_locked=True, of=jobs)
            )
            other, mine = jobs.alias("other"), jobs.alias("mine")  # subqueries over the same table, never correlated
            held = sa.select(other.c.group_key).where(
                other.c.status == QUEUED, other.c.group_key.is_not(None), other.c.priority != "high",
                other.c.engine_id.in_(live.where(engines.c.id != engine_id)),
            )
            # a group this engine holds queued too gathers its free jobs here, whoever else holds it
            own = sa.select(mine.c.group_key).where(mine.c.status == QUEUED, mine.c.priority != "high", mine.c.engine_id == engine_id)
            free = (
                sa.select(jobs.c.id)
                .where(
                    jobs.c.status == QUEUED, jobs.c.engine_id.is_(None), self._of(providers),
                    sa.or_(jobs.c.priority == "high", jobs.c.group_key.is_(None), jobs.c.group_key.not_in(held), jobs.c.group_key.in_(own)),
                )
                .order_by(jobs.c.seq)
                .limit(limit)
                .with_for_update(skip_locked=True, of=jobs)
            )
            ids = [i for (i,) in conn.execute(orphans)] + [i for (i,) in conn.execute(free)]
            rows: list[dict[str, Any]] = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(jobs.update().where(jobs.c.id.in_(chunk)).values(engine_id=engine_id, fence=jobs.c.fence + 1))
                rows += [decode(r) for r in conn.execute(sa.select(jobs).where(jobs.c.id.in_(chunk)).order_by(jobs.c.seq))]
        return rows

    def claim_job(self, engine_id: str, job_id: str, providers: Sequence[str] | None = None) -> dict[str, Any] | None:
        """Take one job that no live engine drives (to cancel it): queued or held and
        free, UNKNOWN, or left by a gone engine (in flight: only of ``providers``, which
        this engine can cancel at). None if a live engine drives it."""
        with self.db.write() as conn:
            done = conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status.in_(CANCELLABLE_NAMES),
                    sa.or_(jobs.c.status.in_(CANCEL_ANYWHERE), self._of(providers)),
                    sa.or_(
                        jobs.c.status == JobStatus.UNKNOWN.value, jobs.c.engine_id.is_(None), jobs.c.engine_id.not_in(self._live())
                    ),
                )
                .values(engine_id=engine_id, fence=jobs.c.fence + 1)
            )
            if done.rowcount != 1:
                return None
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else decode(row)
