"""This engine's place among the engines that share one job store.

It keeps the engine's lease (heartbeat), wakes recovery to claim what the
store lets it drive (jobs of engines that are gone, queued jobs nobody
drives) and the canceller to carry out cancel requests made on other servers,
and turns other engines' changes into local events: PostgreSQL
``LISTEN``/``NOTIFY`` wakes it at once, and polling stays as the fallback (a
notification is a wake-up only, and is lost while the listening connection
is down). See :mod:`.leases` for the rules, :mod:`.recovery` for what a claim
does with the jobs.

Its loops run on the engine's clock, so they can be driven step by step in tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psutil

from .clock import Clock
from .database import CHANNEL, parse_notification
from .errors import HalError, StoreUnavailable
from .events import EventBus
from .ids import new_id
from .leases import Leases
from .ledger import Ledger, public_record
from .scheduler import Scheduler

log = logging.getLogger("hal_jupyter")
SEEN = 20_000  # remembered (id, updated_at) pairs, so a change is published once
FALLBACK_MARGIN_S = 5.0  # engines' clocks differ a little: the fallback poll looks back this far


def pid_alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and pid != 0


class Coordinator:
    def __init__(
        self,
        ledger: Ledger,
        leases: Leases,
        scheduler: Scheduler,
        events: EventBus,
        clock: Clock,
        *,
        dispatch: bool,
        lease_s: float,
        claim_interval_s: float,
        label: str,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.leases = leases
        self.recovery = scheduler.recovery
        self.canceller = scheduler.canceller
        self.events = events
        self.clock = clock
        self.dispatch = dispatch
        self.lease_s = lease_s
        self.claim_interval_s = claim_interval_s
        self.label = label
        self.host = socket.gethostname()
        self.listening = False
        self._wake = asyncio.Event()
        self._remote_ids: set[str] = set()
        self._remote_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._seen: OrderedDict[str, str] = OrderedDict()
        self._watermark = clock.stamp()
        self._missing: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._side: set[asyncio.Task[Any]] = set()
        self._assigned: set[str] = set()
        self._assigned_task: asyncio.Task[None] | None = None

    @property
    def engine_id(self) -> str:
        return self.ledger.engine_id

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Register this engine's lease; with ``dispatch``, take up what is free now
        (after a restart: this server's own jobs, as the engine of a dead process)."""
        self._loop = asyncio.get_running_loop()
        if self._tasks:  # started already (this is a start tried again)
            return
        await self._register()
        dead = await self.ledger.db(self.leases.forget_dead, self.host, pid_alive, self.engine_id)
        if dead:
            log.info("hal_jupyter: engine(s) %s on this host are gone; taking over their jobs", ", ".join(dead))
        if self.store.dialect == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="hal-listen", daemon=True)
            self._listener.start()
        self._tasks = [asyncio.ensure_future(self._heartbeats()), asyncio.ensure_future(self._events_fallback())]
        if self.dispatch:
            await self.recovery.claim()
            self._tasks.append(asyncio.ensure_future(self._claims()))

    async def stop(self, release: bool = True) -> None:
        self._stop.set()
        tasks = [*self._tasks, *self._side, *([self._assigned_task] if self._assigned_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if release:
            try:
                held = await self.ledger.db(self.leases.release, self.engine_id)
                if held:
                    log.info("hal_jupyter: engine %s released %d job(s) to the other engines", self.engine_id, held)
            except HalError as exc:
                log.warning("hal_jupyter: releasing the leases failed (they expire in %.0f s): %s", self.lease_s, exc.message)
        if self._listener is not None:
            self._listener.join(timeout=5)

    async def _register(self) -> None:
        await self.ledger.db(
            self.leases.register, self.engine_id,
            label=self.label, host=self.host, pid=os.getpid(), dispatch=self.dispatch, lease_s=self.lease_s,
            providers=self.recovery.providers(),
        )

    def engines(self) -> list[dict[str, Any]]:
        """The live engines and what each drives (as of the last heartbeat)."""
        return [e.public(self.engine_id) for e in self.leases.fleet]

    def wake(self) -> None:
        self._wake.set()

    # -- the lease ---------------------------------------------------------------
    async def _heartbeats(self) -> None:
        while not self._stop.is_set():
            await self.clock.sleep(self.lease_s / 3)
            try:
                kept = await self.ledger.db(self.leases.heartbeat, self.engine_id, self.lease_s)
            except StoreUnavailable as exc:
                log.warning("hal_jupyter: lease renewal failed, retrying: %s", exc.message)
                continue
            if not kept:
                await self._lost_lease()

    async def _lost_lease(self) -> None:
        """The lease lapsed (the store was unreachable too long, or this process
        stalled): other engines may drive our jobs now, so drop them all and come
        back as a new engine; the next claim takes back whatever nobody took."""
        old = self.engine_id
        log.warning("hal_jupyter: engine %s lost its lease; dropping its %d job(s) and re-registering", old, len(self.ledger.driven()))
        self.recovery.drop_everything(lambda: new_id("e-"))
        await self._register()
        self.wake()

    # -- claims ------------------------------------------------------------------
    async def _claims(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            await self.clock.wait(self._wake, self.claim_interval_s)
            self._wake.clear()
            rounds += 1
            self.store.forget_budgets()  # another engine may have changed one (its NOTIFY is a wake-up only)
            try:
                await self.recovery.claim()
                await self.canceller.carry_out_requests()
                # jobs handed to this engine whose notification was missed are found here
                if rounds % 5 == 0 or (not self.listening and len(self.leases.fleet) > 1):
                    await self.recovery.reconcile()
            except StoreUnavailable as exc:
                log.warning("hal_jupyter: the job store did not answer; retrying: %s", exc.message)
                await self.clock.sleep(min(self.claim_interval_s, 1.0))
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("hal_jupyter: claiming jobs failed")

    # -- other engines' changes ---------------------------------------------------
    def _listen(self) -> None:
        """LISTEN on its own connection (a thread: psycopg blocks), until stopped."""
        import psycopg
        import sqlalchemy as sa

        url = sa.make_url(self.store.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        failed = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    self._call(self._caught_up)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._call(self._notified, note.payload)
            except Exception as exc:  # noqa: BLE001 - reconnect; polling covers the gap
                if not self._stop.is_set():
                    # once per outage: a warning when it starts, then quiet retries
                    (log.warning if self.listening or not failed else log.debug)(
                        "hal_jupyter: listening for other engines' changes failed, polling meanwhile: %s", exc
                    )
                failed = True
            else:
                failed = False
            self.listening = False
            self._stop.wait(1.0)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                pass

    def _caught_up(self) -> None:
        self.wake()

    def _notified(self, payload: str) -> None:
        note = parse_notification(payload)
        if note is None:
            return
        if note.budgets:
            self.store.forget_budgets()
        if note.engines and note.engine_id != self.engine_id:  # an engine came or went: who drives what
            self._spawn(self._refresh_fleet())
        if self.dispatch and (note.queued or (note.engines and note.engine_id != self.engine_id)):
            self.wake()
        if note.cancel and note.engine_id == self.engine_id:
            self.wake()
        if note.assigned and note.target == self.engine_id and self.dispatch:  # jobs of a group this engine holds
            self._assigned.update(note.assigned)
            if self._assigned_task is None or self._assigned_task.done():
                self._assigned_task = asyncio.ensure_future(self._take_assigned())
        if note.engine_id != self.engine_id and note.jobs and len(self.events) > 0:  # someone listens
            self._remote_ids.update(note.jobs)
            if self._remote_task is None or self._remote_task.done():
                self._remote_task = asyncio.ensure_future(self._publish_remote())

    async def _take_assigned(self) -> None:
        """Jobs handed over by other servers, read in one query for all that arrived
        meanwhile (one per submission would cost this engine a query per job)."""
        while self._assigned:
            ids, self._assigned = sorted(self._assigned), set()
            await self.recovery.take_assigned(ids)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    async def _refresh_fleet(self) -> None:
        try:
            await self.ledger.db(self.leases.refresh)
        except StoreUnavailable:
            pass  # the next heartbeat reads it

    async def _publish_remote(self) -> None:
        while self._remote_ids:
            ids, self._remote_ids = sorted(self._remote_ids), set()
            try:
                rows = await self.ledger.db(self.store.records, ids)
            except StoreUnavailable:
                return
            self._publish([r for r in rows if not self.ledger.drives(r["id"])])

    def _publish(self, rows: list[dict[str, Any]]) -> None:
        fresh = []
        for row in rows:
            if self._seen.get(row["id"]) == row["updated_at"]:
                continue
            self._seen[row["id"]] = row["updated_at"]
            self._seen.move_to_end(row["id"])
            fresh.append(public_record(row))
        while len(self._seen) > SEEN:
            self._seen.popitem(last=False)
        self.events.publish(fresh)

    async def _events_fallback(self) -> None:
        """Without a listening connection, poll for other engines' changes once a second."""
        while not self._stop.is_set():
            await self.clock.sleep(1.0)
            if self.listening or len(self.events) == 0:
                self._watermark = self.clock.stamp()
                continue
            since = (datetime.fromisoformat(self._watermark.replace("Z", "+00:00")) - timedelta(seconds=FALLBACK_MARGIN_S))
            try:
                rows = await self.ledger.db(self.store.changed_since, since.isoformat().replace("+00:00", "Z"))
            except StoreUnavailable:
                continue
            if rows:
                self._watermark = max(self._watermark, rows[-1]["updated_at"])
            self._publish([r for r in rows if not self.ledger.drives(r["id"])])
