"""What the serverless providers (Lambda, Azure Functions, OpenWhisk, Code Engine) share.

In code mode the HAL deploys a function whose package holds the cell's source
(``hal_user_code.py``) and a small handler (:data:`HANDLER_SOURCE`). One
invocation carries several tasks, so a batch of standard jobs with the same code
is one call; each task's value, output, or exception comes back on its own.
Functions are named by a hash of the code, so an unchanged cell is not deployed
again.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

from ..engine.models import ErrorInfo, JobStatus
from .base import JobSpec, JobUpdate

HANDLER_MODULE = "hal_handler"
HANDLER_SOURCE = '''\
"""hal_jupyter's handler: runs each task of the event against hal_user_code."""
import contextlib, io, json, time, traceback


def handler(event, context=None):
    results = []
    try:
        import hal_user_code
    except BaseException as exc:  # the code itself failed to load
        failure = {"ok": False, "type": type(exc).__name__, "message": str(exc), "stdout": "", "stderr": traceback.format_exc()}
        return {"results": [dict(failure, id=task["id"]) for task in event.get("tasks", [])]}
    for task in event.get("tasks", []):
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                entry = getattr(hal_user_code, task["entrypoint"], None)
                if not callable(entry):
                    raise NameError("the code defines no function named %r" % task["entrypoint"])
                value = entry(**task["args"])
            json.dumps(value)
            result = {"ok": True, "value": value}
        except BaseException as exc:
            result = {"ok": False, "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
        result.update(id=task["id"], stdout=out.getvalue(), stderr=err.getvalue(), duration_s=time.monotonic() - started)
        results.append(result)
    return {"results": results}
'''


def code_hash(code: str) -> str:
    """Names a deployment: the same cell gives the same name, so it is deployed once."""
    return hashlib.sha256((HANDLER_SOURCE + "\0" + code).encode()).hexdigest()[:16]


def package(code: str) -> bytes:
    """A zip holding the user's code and the handler."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hal_user_code.py", code)
        archive.writestr(f"{HANDLER_MODULE}.py", HANDLER_SOURCE)
    return buffer.getvalue()


def event_for(jobs: list[JobSpec]) -> dict[str, Any]:
    return {"tasks": [{"id": j.id, "entrypoint": j.payload.get("entrypoint", "main"), "args": j.payload.get("args") or {}} for j in jobs]}


def updates_from(results: list[dict[str, Any]]) -> dict[str, JobUpdate]:
    """Per-task results of the handler, as job updates."""
    updates = {}
    for item in results:
        output = {"stdout": item.get("stdout", ""), "stderr": item.get("stderr", ""), "duration_s": round(item.get("duration_s", 0.0), 6)}
        if item.get("ok"):
            updates[item["id"]] = JobUpdate(JobStatus.COMPLETED, result={"value": item.get("value"), **output})
        else:
            error = ErrorInfo(type=item.get("type", "Error"), message=item.get("message", ""))
            updates[item["id"]] = JobUpdate(JobStatus.FAILED, error=error, result=output)
    return updates


def failed_all(jobs: list[JobSpec], error_type: str, message: str) -> dict[str, JobUpdate]:
    info = ErrorInfo(type=error_type, message=message)
    return {j.id: JobUpdate(JobStatus.FAILED, error=info) for j in jobs}
