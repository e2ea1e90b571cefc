"""Job change notifications, fanned out to the events WebSocket and the kernel's monitor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

Listener = Callable[[list[dict[str, Any]]], None]
log = logging.getLogger("hal_jupyter")


class EventBus:
    """Calls every listener with the public records of jobs that just changed.

    Listeners run on the event loop and must not block: they queue or coalesce.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        for listener in list(self._listeners):
            try:
                listener(records)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                log.exception("hal_jupyter: event listener failed")

    def __len__(self) -> int:
        return len(self._listeners)
