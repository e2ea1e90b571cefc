"""Provider sessions opened for session names (docs/API.md, "Execution modes").

Jobs whose ``execution`` names a session (``{"session": "vqe-1"}``) share one
session at their provider: one owner's jobs of that name on one provider and
backend. The provider opens the session with the name's first batch and says
its id (:attr:`.contract.Submission.session_id`); the store keeps the id
(``hal_sessions``), and every later batch of the name is given it
(``BatchSpec.execution["session_id"]``), by whichever engine sends it, before
or after a restart: a name never gets a second session while its first is
open. Batches of one name are sent one at a time by an engine (a lock per
name), so two batches never both open one.

A session closes after ``idle_s`` without jobs (none of its jobs unfinished,
none sent for that long), or when its owner asks (``POST
/hal/api/sessions/{name}/close``); the provider's :meth:`close_session` is
called, and the name's next job opens a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from . import errors, lifecycle
from .boundary import message_of
from .calls import ProviderCalls
from .clock import Clock
from .config import Viewer
from .contract import BatchSpec, Provider
from .ledger import Ledger
from .registry import Registry
from .schema import jobs, sessions
from .tasks import Tasks, every

log = logging.getLogger("hal_jupyter")
OPEN, CLOSED = "open", "closed"
#: how many of a session's job ids its row keeps (the newest)
KEEP_IDS = 1000


def session_key(owner: str | None, provider: str, backend: str, name: str) -> str:
    return hashlib.sha256(json.dumps([owner, provider, backend, name]).encode()).hexdigest()[:32]


def key_of(spec: BatchSpec) -> str | None:
    """The session key of a batch whose jobs name a session (None: no session)."""
    name = (spec.execution or {}).get("session")
    return session_key(spec.owner, spec.provider, spec.backend, name) if name else None


class Sessions:
    def __init__(self, ledger: Ledger, registry: Registry, calls: ProviderCalls, clock: Clock, idle_s: float) -> None:
        self.ledger = ledger
        self.db = ledger.store.db
        self.registry = registry
        self.calls = calls
        self.clock = clock
        self.idle_s = idle_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks = Tasks("sessions")

    def start(self) -> None:
        # idle sessions are looked for every quarter of ``idle_s`` (at most every 30 s)
        self._tasks.spawn(every(self.clock, lambda: max(0.5, min(self.idle_s / 4, 30.0)), self.close_idle, "closing idle sessions"))

    async def stop(self) -> None:
        await self._tasks.cancel()

    # -- sending a batch -------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def use(self, spec: BatchSpec) -> AsyncIterator[None]:
        """While a batch of a session name is sent: the name's open session id is in
        ``spec.execution["session_id"]``, and no other batch of the name is sent here."""
        key = key_of(spec)
        if key is None:
            yield
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            row = await self.ledger.db(self._open_row, key)
            assert spec.execution is not None
            spec.execution["session_id"] = row["session_id"] if row is not None else None
            yield

    async def record(self, spec: BatchSpec, session_id: str, job_ids: list[str]) -> None:
        """The provider ran the batch in ``session_id``: the name's session from now on."""
        key = key_of(spec)
        if key is None or not session_id:
            return
        await self.ledger.db(self._record, key, spec, session_id, job_ids, self.clock.stamp())

    def _open_row(self, key: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.key == key, sessions.c.state == OPEN)).first()
        return None if row is None else dict(row._mapping)

    def _record(self, key: str, spec: BatchSpec, session_id: str, job_ids: list[str], stamp: str) -> None:
        execution = spec.execution or {}
        with self.db.write() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.key == key)).first()
            if row is not None and row.state == OPEN and row.session_id == session_id:
                known = json.loads(row.job_ids)
                seen = set(known)
                ids = (known + [i for i in job_ids if i not in seen])[-KEEP_IDS:]
                conn.execute(sessions.update().where(sessions.c.key == key).values(last_used_at=stamp, job_ids=json.dumps(ids)))
                return
            values = {
                "name": execution["session"], "owner": spec.owner, "provider": spec.provider, "backend": spec.backend,
                "session_id": session_id, "state": OPEN, "opened_at": stamp, "last_used_at": stamp, "closed_at": None,
                "job_ids": json.dumps(job_ids[-KEEP_IDS:]), "reason": None,
            }
            if row is None:
                conn.execute(sessions.insert().values(key=key, **values))
            else:  # the name's earlier session closed (or the provider replaced it): this one follows
                conn.execute(sessions.update().where(sessions.c.key == key).values(**values))

    # -- listing and closing ---------------------------------------------------------
    async def list(self, viewer: Viewer | None) -> list[dict[str, Any]]:
        rows = await self.ledger.db(self._list, viewer.scope if viewer is not None else None)
        return [_public(r) for r in rows]

    def _list(self, owner: str | None) -> list[dict[str, Any]]:
        query = sa.select(sessions).where(sessions.c.state == OPEN).order_by(sessions.c.opened_at)
        if owner is not None:
            query = query.where(sessions.c.owner == owner)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    async def close(self, name: str, viewer: Viewer | None) -> list[dict[str, Any]]:
        """Close the viewer's open sessions of this name (on every provider and backend)."""
        rows = [r for r in await self.ledger.db(self._list, viewer.scope if viewer is not None else None) if r["name"] == name]
        if not rows:
            raise errors.NotFound(f"no open session named {name!r}")
        for row in rows:
            await self._close(row, "closed on request")
        return [_public({**r, "state": CLOSED}) for r in rows]

    async def close_idle(self) -> int:
        """Close sessions idle for ``idle_s``: no unfinished job, none sent since."""
        before = _earlier(self.clock.stamp(), self.idle_s)
        rows = await self.ledger.db(self._idle, before)
        for row in rows:
            await self._close(row, f"idle for {self.idle_s:g} s")
        return len(rows)

    def _idle(self, before: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            found = [dict(r._mapping) for r in conn.execute(sa.select(sessions).where(sessions.c.state == OPEN, sessions.c.last_used_at < before))]
            idle = []
            for row in found:
                busy = conn.execute(
                    sa.select(jobs.c.id).where(jobs.c.id.in_(json.loads(row["job_ids"])), jobs.c.status.not_in(lifecycle.TERMINAL_NAMES)).limit(1)
                ).first()
                if busy is None:
                    idle.append(row)
        return idle

    async def _close(self, row: dict[str, Any], reason: str) -> None:
        won = await self.ledger.db(self._mark_closed, row["key"], row["session_id"], self.clock.stamp(), reason)
        if not won:
            return  # another engine closed it meanwhile
        try:
            provider: Provider = self.registry.get(row["provider"])
            await self.calls.call(provider, provider.close_session, row["backend"], row["session_id"])
            log.info("hal_jupyter: session %r (%s) of %s closed: %s", row["name"], row["session_id"], row["provider"], reason)
        except Exception as exc:  # noqa: BLE001 - the provider closes it on its own timeout at worst
            log.warning("hal_jupyter: closing session %r at %s failed: %s", row["name"], row["provider"], message_of(exc))

    def _mark_closed(self, key: str, session_id: str, stamp: str, reason: str) -> bool:
        with self.db.write() as conn:
            done = conn.execute(
                sessions.update()
                .where(sessions.c.key == key, sessions.c.session_id == session_id, sessions.c.state == OPEN)
                .values(state=CLOSED, closed_at=stamp, reason=reason)
            )
        return done.rowcount == 1


def _earlier(stamp: str, seconds: float) -> str:
    """The ISO stamp ``seconds`` before ``stamp`` (in the clock's format)."""
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"], "owner": row["owner"], "provider": row["provider"], "backend": row["backend"],
        "session_id": row["session_id"], "state": row["state"], "opened_at": row["opened_at"],
        "last_used_at": row["last_used_at"], "jobs": json.loads(row["job_ids"]),
    }


__all__ = ["Sessions", "key_of", "session_key"]
