"""The REST handlers: parse, call the engine, write. Nothing else.

Domain errors become HTTP answers in :mod:`.base`; the events WebSocket is in
:mod:`.events`, the API docs in :mod:`.apidocs`. ``default_handlers`` is this
module's URL table.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..engine import errors
from ..engine.faults import crash_point
from ..engine.limits import MAX_LIST_IDS
from .base import PREFIX, HalHandler

JOB_ID = r"(?P<job_id>[^/]+)"


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
        dry_run = self.get_query_argument("dry_run", "false")
        if dry_run not in ("true", "false", "1", "0"):
            raise errors.InvalidRequest("dry_run must be true or false")
        if dry_run in ("true", "1"):  # priced and judged against the budgets; nothing stored
            return self.reply(await self.engine.dry_run(kind, self.json_body(), owner=self.viewer.user))
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


default_handlers = [
    (rf"{PREFIX}/providers", ProvidersHandler),
    (rf"{PREFIX}/providers/(?P<name>[^/]+)/backends", BackendsHandler),
    (rf"{PREFIX}/(?P<kind>quantum|classical)/jobs", JobsHandler),
    (rf"{PREFIX}/jobs", JobListHandler),
    (rf"{PREFIX}/jobs/{JOB_ID}", JobHandler),
    (rf"{PREFIX}/jobs/{JOB_ID}/result", ResultHandler),
    (rf"{PREFIX}/jobs/{JOB_ID}/cancel", CancelHandler),
    (rf"{PREFIX}/scheduler", SchedulerHandler),
    (rf"{PREFIX}/openapi.json", OpenAPIHandler),
]
