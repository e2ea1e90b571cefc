"""``GET /hal/api/events``: the events WebSocket, job records as they change."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web, websocket

from .base import AUTH_RESOURCE, PREFIX

if TYPE_CHECKING:
    from ..engine.engine import Engine, Viewer

COALESCE_S = 0.1  # at most ~10 event messages per second per connection


class EventsSocket(WebSocketMixin, ExtensionHandlerMixin, JupyterHandler, websocket.WebSocketHandler):
    """``GET /hal/api/events``: job records as they change, coalesced per connection.

    A flush sends one message: ``{"type": "job", "job": record}`` for one job,
    ``{"type": "jobs", "jobs": [record, ...]}`` for several (latest state wins).
    """

    auth_resource = AUTH_RESOURCE

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE))
        if not allowed:
            raise web.HTTPError(403)
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self._pending: dict[str, dict[str, Any]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_sent = 0.0
        engine: Engine = self.settings["hal_engine"]
        self._viewer: Viewer = self.settings["hal_viewer"](self)
        self._unsubscribe = engine.subscribe(self._on_jobs)

    def _on_jobs(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            if self._viewer.sees(record.get("owner")):  # another user's jobs are not ours to see
                self._pending[record["id"]] = record
        if self._flush_handle is None:
            # The first change after a quiet spell goes out at once; later ones
            # wait for the rest of the interval and go out together.
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_sent + COALESCE_S - loop.time())
            self._flush_handle = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_sent = asyncio.get_running_loop().time()
        records, self._pending = list(self._pending.values()), {}
        if not records:
            return
        message = {"type": "job", "job": records[0]} if len(records) == 1 else {"type": "jobs", "jobs": records}
        try:
            self.write_message(json.dumps(message))
        except websocket.WebSocketClosedError:
            self.on_close()

    def on_message(self, message: str | bytes) -> None:
        pass  # the stream is one-way

    def on_close(self) -> None:
        super().on_close()
        self._unsubscribe()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None


default_handlers = [(rf"{PREFIX}/events", EventsSocket)]
