"""Leases: which engine drives which job, in the store.

An engine (a Jupyter server's, or a worker) registers a row in ``hal_engines``
whose ``expires_at`` its heartbeat keeps in the future, by the database's
clock. A job it drives names it in ``engine_id`` with a fencing token
(``fence``) raised by every claim; every write of the job carries both (see
:meth:`JobStore.apply`), so an engine whose lease lapsed changes nothing once
another one has claimed the job.

Claims run under PostgreSQL's transaction-scoped advisory lock
(``pg_advisory_xact_lock``: released at commit, so a connection pool cannot
leak it) and, on SQLite, under the database's write lock. A claim moves no
status (the transitions :data:`.lifecycle.CLAIM` and :data:`.lifecycle.RESUME`:
a new driver); it takes:

- every unfinished job whose engine is gone (lease expired, released, or its
  process on this host dead): the new engine resumes it as after a restart;
- queued jobs nobody drives, except standard jobs of a group that another live
  engine holds queued (and this one does not): that engine takes them, so the
  group flushes as one batch.

Leases stand on :mod:`.database`, beside the job store, not on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from .database import Database
from .lifecycle import CANCELLABLE_NAMES, CLAIM, DRIVEN_NAMES, JobStatus, RESUME
from .schema import CLAIM_LOCK, decode, engines, jobs

log = logging.getLogger("hal_jupyter")
#: what a claim takes from a gone engine: queued jobs (a new driver) and in-flight ones (resumed)
CLAIMED_NAMES = tuple(sorted(set(CLAIM.source_names) | set(RESUME.source_names)))
QUEUED = JobStatus.QUEUED.value


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.now = db.now
        me = sa.bindparam("me")
        others = self._live().where(engines.c.id != me)
        self._others = others.limit(1)
        self._held = (
            sa.select(jobs.c.group_key)
            .where(
                jobs.c.status == QUEUED,
                jobs.c.group_key.in_(sa.bindparam("keys", expanding=True)),
                jobs.c.priority != "high",  # dispatched alone: they hold no group
                jobs.c.engine_id.in_(others),  # one index probe (status, group_key, engine_id) per other engine
            )
            .distinct()
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

    # -- engines ------------------------------------------------------------
    def register(self, engine_id: str, *, label: str, host: str, pid: int, dispatch: bool, lease_s: float) -> None:
        with self.db.write() as conn:
            conn.execute(engines.delete().where(engines.c.id == engine_id))  # a start that is tried again
            conn.execute(
                engines.insert().values(
                    id=engine_id, label=label, host=host, pid=pid, dispatch=dispatch,
                    started_at=self.now, expires_at=self.now + lease_s,
                )
            )

    def heartbeat(self, engine_id: str, lease_s: float) -> bool:
        """Renew the lease; False if it had lapsed (then the engine must stop driving)."""
        with self.db.write() as conn:
            done = conn.execute(
                engines.update()
                .where(engines.c.id == engine_id, engines.c.expires_at >= self.now)
                .values(expires_at=self.now + lease_s)
            )
        return done.rowcount == 1

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
            self.db.notify(conn, "queued", engine_id, ["*"])
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
    def held_groups(self, conn: sa.Connection, engine_id: str, keys: Iterable[str]) -> set[str]:
        """Groups (of ``keys``) that another live engine holds queued jobs of (every
        submission asks: the statements are built once)."""
        keys = list(keys)
        if not keys or conn.execute(self._others, {"me": engine_id}).first() is None:  # alone: nobody holds anything
            return set()
        return {k for (k,) in conn.execute(self._held, {"me": engine_id, "keys": keys})}

    def has_work(self, engine_id: str) -> bool:
        """Whether a claim would find anything (a read: cheap when the answer is no)."""
        with self.db.read() as conn:
            orphan = sa.select(jobs.c.id).where(self._orphaned(engine_id))
            unclaimed = sa.select(jobs.c.id).where(jobs.c.status == QUEUED, jobs.c.engine_id.is_(None))
            return conn.execute(sa.select(sa.exists(orphan.union_all(unclaimed).subquery().select()))).scalar() is True

    def claim(self, engine_id: str, limit: int = 5000) -> list[dict[str, Any]]:
        """Take every job of gone engines and the free queued jobs (module docstring)."""
        live = self._live()
        with self.db.write(lock=CLAIM_LOCK) as conn:
            orphans = sa.select(jobs.c.id).where(self._orphaned(engine_id)).order_by(jobs.c.seq)
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
                    jobs.c.status == QUEUED, jobs.c.engine_id.is_(None),
                    sa.or_(jobs.c.priority == "high", jobs.c.group_key.is_(None), jobs.c.group_key.not_in(held), jobs.c.group_key.in_(own)),
                )
                .order_by(jobs.c.seq)
                .limit(limit)
            )
            ids = [i for (i,) in conn.execute(orphans)] + [i for (i,) in conn.execute(free)]
            rows: list[dict[str, Any]] = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(jobs.update().where(jobs.c.id.in_(chunk)).values(engine_id=engine_id, fence=jobs.c.fence + 1))
                rows += [decode(r) for r in conn.execute(sa.select(jobs).where(jobs.c.id.in_(chunk)).order_by(jobs.c.seq))]
        return rows

    def claim_job(self, engine_id: str, job_id: str) -> dict[str, Any] | None:
        """Take one job that no live engine drives (to cancel it): queued or held and
        free, UNKNOWN, or left by a gone engine. None if a live engine drives it."""
        with self.db.write(lock=CLAIM_LOCK) as conn:
            done = conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status.in_(CANCELLABLE_NAMES),
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
