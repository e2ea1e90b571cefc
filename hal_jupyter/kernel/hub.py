"""One feed of job changes per client, shared by every monitor widget.

The transport delivers records from its own thread (the events WebSocket, or
the embedded engine's loop). The hub keeps the latest record per job and hands
them to the monitors at most ten times a second, from one thread, which also
ticks the elapsed-time labels. No thread or poll loop per job or per monitor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

INTERVAL_S = 0.1
TICK_S = 1.0


class Subscriber(Protocol):
    def wants(self, job_id: str) -> bool: ...
    def apply(self, records: list[dict[str, Any]]) -> None: ...
    def tick(self) -> None: ...


class EventHub:
    def __init__(self, subscribe: Callable[[Callable[[list[dict[str, Any]]], None]], Callable[[], None]]) -> None:
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None
        self._subscribers: list[Subscriber] = []
        self._pending: dict[str, dict[str, Any]] = {}
        self._guard = threading.Condition()
        self._thread: threading.Thread | None = None
        self.delivered = 0  # batches handed to subscribers (for the benchmark)

    def add(self, subscriber: Subscriber) -> None:
        with self._guard:
            self._subscribers.append(subscriber)
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._run, name="hal-monitor", daemon=True)
        if start:
            self._unsubscribe = self._subscribe(self._on_records)
            assert self._thread is not None
            self._thread.start()

    def remove(self, subscriber: Subscriber) -> None:
        with self._guard:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            stop = not self._subscribers and self._thread is not None
            if stop:
                self._thread = None
                self._guard.notify_all()
        if stop and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _on_records(self, records: list[dict[str, Any]]) -> None:
        with self._guard:
            for record in records:
                self._pending[record["id"]] = record
            self._guard.notify_all()

    def _run(self) -> None:
        me = threading.current_thread()
        last_tick = last_delivery = 0.0
        while True:
            with self._guard:
                self._guard.wait_for(lambda: self._pending or self._thread is not me, timeout=TICK_S)
                if self._thread is not me:
                    return
            # The first change after a quiet spell goes out at once; the ones
            # that follow within the interval wait for it and go out together.
            time.sleep(max(0.0, last_delivery + INTERVAL_S - time.monotonic()))
            with self._guard:
                records, self._pending = list(self._pending.values()), {}
                subscribers = list(self._subscribers)
            if records:
                last_delivery = time.monotonic()
                self.delivered += 1
                for subscriber in subscribers:
                    mine = [r for r in records if subscriber.wants(r["id"])]
                    if mine:
                        subscriber.apply(mine)
            now = time.monotonic()
            if now - last_tick >= TICK_S:
                last_tick = now
                for subscriber in subscribers:
                    subscriber.tick()
