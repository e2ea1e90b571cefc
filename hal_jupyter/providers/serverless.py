"""What the serverless providers (Lambda, Azure Functions, OpenWhisk, Code Engine) share.

In code mode the HAL deploys a function whose package holds the cell's source
(``hal_user_code.py``) and the HAL's user-code runner as its handler (:data:`HANDLER_SOURCE`). One
invocation carries several tasks, so a batch of standard jobs with the same code
is one call; each task's value, output, or exception comes back on its own.
Functions are named by a hash of the code, so an unchanged cell is not deployed
again.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import threading
import time
import zipfile
from abc import abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..engine.errors import ErrorType, InvalidRequest
from ..engine.models import BackendInfo, ErrorInfo
from ..engine.contract import BatchSpec, Failed, Finished, JobSpec, Provider, Report, Running, Submission, code_error

HANDLER_MODULE = "hal_handler"
#: the one user-code runner (:mod:`.user_code`), shipped verbatim as ``hal_handler.py``
HANDLER_SOURCE = (Path(__file__).with_name("user_code.py")).read_text()


def code_hash(code: str) -> str:
    """Names a deployment: the same cell gives the same name, so it is deployed once."""
    return hashlib.sha256((HANDLER_SOURCE + "\0" + code).encode()).hexdigest()[:16]


def package(code: str, main: str | None = None) -> bytes:
    """A zip holding the user's code and the handler (and, where the platform
    wants one, a ``__main__.py`` entry module)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hal_user_code.py", code)
        archive.writestr(f"{HANDLER_MODULE}.py", HANDLER_SOURCE)
        if main is not None:
            archive.writestr("__main__.py", main)
    return buffer.getvalue()


def event_for(jobs: list[JobSpec]) -> dict[str, Any]:
    return {"tasks": [{"id": j.id, "entrypoint": j.payload.get("entrypoint", "main"), "args": j.payload.get("args") or {}} for j in jobs]}


def reports_from(results: list[dict[str, Any]]) -> dict[str, Report]:
    """Per-task results of the handler, as reports."""
    reports: dict[str, Report] = {}
    for item in results:
        output = {"stdout": item.get("stdout", ""), "stderr": item.get("stderr", ""), "duration_s": round(item.get("duration_s", 0.0), 6)}
        if item.get("ok"):
            reports[item["id"]] = Finished({"value": item.get("value"), **output})
        else:
            reports[item["id"]] = Failed(code_error(str(item.get("type") or "Exception"), str(item.get("message", ""))), output)
    return reports


def completed(job: JobSpec, value: Any, stdout: str = "") -> dict[str, Report]:
    """A deployed function's answer as the job's result."""
    return {job.id: Finished({"value": value, "stdout": stdout, "stderr": "", "duration_s": 0.0})}


def failed_all(jobs: list[JobSpec], error: ErrorInfo) -> dict[str, Report]:
    return {j.id: Failed(error) for j in jobs}


THROTTLE_RETRIES = 5


def post_json(url: str, body: Any, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST to a function's HTTP endpoint; throttling (429) is retried with
    exponential backoff. Returns the status and the answer: its JSON, or its
    text when it is not JSON."""
    import requests

    for attempt in range(THROTTLE_RETRIES + 1):
        try:
            response = requests.post(url, json=body, headers=headers, timeout=timeout + 30)
        except requests.Timeout:
            return 504, {"error": f"no answer within {timeout + 30:g} s"}
        if response.status_code == 429 and attempt < THROTTLE_RETRIES:
            time.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0))
            continue
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text
    raise AssertionError("unreachable")


def invoke_error(status: int, body: Any) -> ErrorInfo:
    """The error of a failed HTTP invocation."""
    message = (str(body.get("error", body)) if isinstance(body, dict) else str(body))[:1000]
    if status in (408, 504) or "execution time" in message or "Timeout value" in message:
        return ErrorInfo(type=ErrorType.TIMEOUT, message=message)
    return ErrorInfo(type=ErrorType.FUNCTION_ERROR, message=f"HTTP {status}: {message}")


Group = tuple[str, ...]


class InvokingProvider(Provider):
    """A serverless platform called synchronously: each batch becomes one
    invocation per distinct code (carrying all its tasks) or one per call of a
    deployed function, run in this provider's own threads and polled from there.

    A synchronous invocation in flight when the server dies cannot be asked
    for its outcome later, and invoking again could run it twice: after a
    restart such jobs become UNKNOWN.
    """

    kind = "classical"
    max_concurrency = 8
    max_batch_size = 100
    resubmit_safe = False
    remote_survives_restart = False
    poll_interval = (1.0, 10.0)
    #: what a RUNNING job's message says
    running_message = "invoking"
    #: the platform's Python runtime: the provider's one backend
    runtime: str = "python3"
    #: the platform's limit on one invocation, in seconds
    max_timeout_s: int = 900

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._calls: dict[str, list[Future[dict[str, Report]]]] = {}
        self._guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"hal-{self.name}")

    def backends(self) -> list[BackendInfo]:
        return [BackendInfo(name=self.runtime, status="online", simulator=False)]

    def default_backend(self) -> str:
        return self.runtime

    def validate(self, job: JobSpec) -> None:
        if job.backend != self.runtime:
            raise InvalidRequest(f"{self.name} runs {self.runtime}; its only backend is {self.runtime!r}")
        if float(job.payload.get("timeout_s") or 60) > self.max_timeout_s:
            raise InvalidRequest(f"timeout_s on {self.name} is at most {self.max_timeout_s} (the platform's limit)")

    def deployment_name(self, code: str, timeout_s: int) -> str:
        """Code mode's function name: the same code and timeout, the same deployment."""
        return f"hal-{code_hash(code + chr(0) + str(timeout_s))}"

    @abstractmethod
    def invoke_code(self, code: str, timeout_s: int, jobs: list[JobSpec]) -> dict[str, Report]:
        """Deploy ``code`` if needed and run the jobs' tasks in one invocation."""

    @abstractmethod
    def invoke_function(self, job: JobSpec) -> dict[str, Report]:
        """Call the deployed function ``job.payload["function"]`` with the job's args."""

    def _invoke(self, key: Group, jobs: list[JobSpec]) -> dict[str, Report]:
        try:
            if key[0] == "function":
                return self.invoke_function(jobs[0])
            return self.invoke_code(key[1], int(key[2]), jobs)
        except Exception as exc:  # noqa: BLE001 - the provider's message becomes the jobs' error
            return failed_all(jobs, ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{self.description.split(' (')[0]}: {exc}"))

    def submit(self, batch: BatchSpec) -> Submission:
        groups: dict[Group, list[JobSpec]] = {}
        for job in batch.jobs:
            if job.payload.get("function"):
                groups[("function", job.id)] = [job]
            else:
                timeout = math.ceil(float(job.payload.get("timeout_s") or 60))
                groups.setdefault(("code", job.payload["code"], str(timeout)), []).append(job)
        futures = [self._pool.submit(self._invoke, key, jobs) for key, jobs in groups.items()]
        with self._guard:
            self._calls[batch.id] = futures
        for future in futures:
            future.add_done_callback(lambda _: self._notify(batch.id))
        return Submission(remote_ids={job.id: f"{self.name}:{batch.id}" for job in batch.jobs})

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        with self._guard:
            futures = self._calls.get(batch.id)
        if futures is None:
            return {}
        reports: dict[str, Report] = {}
        for future in futures:
            if future.done():
                reports.update(future.result())
        for job in batch.jobs:
            reports.setdefault(job.id, Running(self.running_message))
        if all(f.done() for f in futures):
            with self._guard:
                self._calls.pop(batch.id, None)
        return reports

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """A synchronous invocation cannot be stopped; its result is dropped."""

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
