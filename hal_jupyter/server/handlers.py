"""REST and WebSocket handlers: parse, call the engine, write. Nothing else.

Domain errors become HTTP answers in one place, :class:`DomainErrors`; every other
error of the REST API as ``{type, message}`` JSON in :meth:`HalHandler.write_error`.
The API docs page and its assets are in :mod:`.apidocs`; the URL table, :func:`handlers`, is here.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web, websocket

from ..engine import errors
from ..engine.faults import crash_point
from ..engine.limits import MAX_LIST_IDS, TOO_DEEP

if TYPE_CHECKING:  # the engine loads once the server serves (app.py), not with the handlers
    from ..engine.engine import Engine, Viewer

AUTH_RESOURCE = "hal"
PREFIX = r"/hal/api"
JOB_ID = r"(?P<job_id>[^/]+)"
COALESCE_S = 0.1  # at most ~10 event messages per second per connection
#: ``type`` of the errors Tornado and Jupyter raise themselves (a HalError brings its own).
ERROR_TYPES = {400: "InvalidRequest", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


def _limit_argument(text: str) -> int:
    """``limit`` as an int from 1 to 500; only ASCII digits (``"²".isdigit()`` is True, ``int("²")`` fails)."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIST_IDS):
        raise errors.InvalidRequest(f"limit must be an integer from 1 to {MAX_LIST_IDS}")
    return int(text)


def _ids_argument(text: str | None) -> list[str] | None:
    """``ids=a,b,c``: at most 500 job ids (ids that name no job are simply not listed)."""
    if text is None:
        return None
    ids = [i for i in text.split(",") if i]
    if not 0 < len(ids) <= MAX_LIST_IDS:
        raise errors.InvalidRequest(f"ids must be 1 to {MAX_LIST_IDS} comma-separated job ids")
    if any(len(i) > 200 for i in ids):
        raise errors.InvalidRequest("ids: a job id is at most 200 characters")
    return list(dict.fromkeys(ids))


def _include_argument(text: str | None) -> bool:
    if text not in (None, "", "result"):
        raise errors.InvalidRequest("include must be 'result'")
    return text == "result"


class DomainErrors(web.RequestHandler):
    """The error tree as HTTP answers, once for every handler: a :class:`~hal_jupyter.engine.errors.HalError`
    is answered with its status and its ``{type, message}`` JSON."""

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, errors.HalError):
            if not self._finished:
                self.set_status(e.http_status)
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps(e.to_dict()))
            return
        super()._handle_request_exception(e)


class HalHandler(DomainErrors, ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def engine(self) -> Engine:
        return self.settings["hal_engine"]

    @property
    def viewer(self) -> Viewer:
        """The user this request acts for, and whether they see every user's jobs."""
        return self.settings["hal_viewer"](self)

    def json_body(self) -> Any:
        body = self.request.body or b""
        if len(body) > self.settings["hal_max_request_bytes"]:
            raise errors.PayloadTooLarge(
                f"the request body is {len(body)} bytes; the limit is {self.settings['hal_max_request_bytes']}"
            )
        try:
            return json.loads(body or b"null")
        except RecursionError:
            raise errors.InvalidRequest(TOO_DEEP) from None
        except ValueError as exc:
            raise errors.InvalidRequest(f"the request body is not valid JSON: {exc}") from None

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every other error as ``{type, message}`` JSON, never a traceback."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message and status_code < 500:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code < 500:
            message = self._reason
        else:
            message = "internal error in hal_jupyter; the server log has the details"
        kind = ERROR_TYPES.get(status_code, "HTTPError")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"type": kind, "message": message}))


class ProvidersHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"providers": await self.engine.providers()})


class BackendsHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.reply({"backends": await self.engine.backends(name)})


class JobsHandler(HalHandler):
    """``POST /quantum/jobs`` and ``POST /classical/jobs``: one request or ``{"jobs": [...]}``."""

    @web.authenticated
    @authorized
    async def post(self, kind: str) -> None:
        key = self.request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= 255:
            raise errors.InvalidRequest("Idempotency-Key must be 1 to 255 characters")
        records, bulk, created = await self.engine.submit(kind, self.json_body(), key, owner=self.viewer.user)
        crash_point("before_reply", records[0]["provider"])
        if not bulk:
            self.set_header("Location", self.base_url.rstrip("/") + f"/hal/api/jobs/{records[0]['id']}")
        self.reply({"jobs": records} if bulk else records[0], 201 if created else 200)


class JobListHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from ..engine.models import JobStatus

        status = self.get_query_argument("status", None)
        if status is not None and status not in JobStatus.__members__:
            raise errors.InvalidRequest(f"status must be one of {', '.join(JobStatus.__members__)}")
        kind = self.get_query_argument("kind", None)
        if kind not in (None, "quantum", "classical"):
            raise errors.InvalidRequest("kind must be 'quantum' or 'classical'")
        limit = _limit_argument(self.get_query_argument("limit", "100"))
        listing = await self.engine.list_jobs(
            status=status,
            provider=self.get_query_argument("provider", None),
            kind=kind,
            tag=self.get_query_argument("tag", None),
            ids=_ids_argument(self.get_query_argument("ids", None)),
            include_result=_include_argument(self.get_query_argument("include", None)),
            limit=limit,
            cursor=self.get_query_argument("cursor", None),
            viewer=self.viewer,
        )
        self.reply(listing)


class JobHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.engine.get_job(job_id, self.viewer))


class ResultHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.engine.get_result(job_id, self.viewer))


class CancelHandler(HalHandler):
    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        self.reply(await self.engine.cancel(job_id, self.viewer))


class SchedulerHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.engine.scheduler_info())


class OpenAPIHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from .openapi import openapi_document

        # "Try it out" (/hal/api/docs) and generated clients reach this server under its base_url too
        self.reply({**openapi_document(), "servers": [{"url": self.base_url.rstrip("/") or "/"}]})


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


def handlers() -> list[tuple[str, type]]:
    """The URL table (relative to the server's base_url)."""
    from .apidocs import DocsAssetHandler, DocsPageHandler  # here: apidocs imports this module

    return [
        (rf"{PREFIX}/providers", ProvidersHandler),
        (rf"{PREFIX}/providers/(?P<name>[^/]+)/backends", BackendsHandler),
        (rf"{PREFIX}/(?P<kind>quantum|classical)/jobs", JobsHandler),
        (rf"{PREFIX}/jobs", JobListHandler),
        (rf"{PREFIX}/jobs/{JOB_ID}", JobHandler),
        (rf"{PREFIX}/jobs/{JOB_ID}/result", ResultHandler),
        (rf"{PREFIX}/jobs/{JOB_ID}/cancel", CancelHandler),
        (rf"{PREFIX}/scheduler", SchedulerHandler),
        (rf"{PREFIX}/events", EventsSocket),
        (rf"{PREFIX}/openapi.json", OpenAPIHandler),
        (rf"{PREFIX}/docs/?", DocsPageHandler),
        (rf"{PREFIX}/docs/static/(?P<name>[^/]+)", DocsAssetHandler),
    ]
