"""``local_python``: Python cells run in a child process of the server, never in it.

Each job is its own sandboxed process (:mod:`.sandbox`): its own process group
and working directory, none of the server's variables (so none of its
credentials), resource limits. A timeout or a cancel kills the whole group.

With ``local_executor = "dask"`` the same child runs on a Dask worker instead
(:mod:`.dask_executor`); a cancel there kills its group too.
"""

from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..engine.errors import ErrorType, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo
from . import dask_executor
from .sandbox import kill_group, run_code
from ..engine.contract import BatchSpec, Cancelled, Failed, Finished, JobSpec, Provider, Report, Running, Submission, Waiting

#: jobs in flight at once on a Dask cluster (each waits for its task on a thread here)
DASK_SLOTS = 32


class LocalPythonProvider(dask_executor.LocalWork, Provider):
    name = "local_python"
    kind = "classical"
    description = "Python code in a separate, time-limited process on the Jupyter server's machine (embedded default)"
    max_concurrency = 4
    max_batch_size = 200
    resubmit_safe = True
    remote_survives_restart = False
    poll_interval = (0.5, 5.0)

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._dask = dask_executor.executor_for(self.settings)  # None: child processes of this server
        slots = DASK_SLOTS if self._dask is not None else max(2, os.cpu_count() or 2)
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="hal-python")
        self._state: dict[str, Report] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cancelled: set[str] = set()
        self._closed = False
        self._guard = threading.Lock()

    def backends(self) -> list[BackendInfo]:
        return [BackendInfo(name="python3", status="online", queue_depth=0, simulator=False)]

    def default_backend(self) -> str:
        return "python3"

    def validate(self, job: JobSpec) -> None:
        if job.backend != "python3":
            raise InvalidRequest(f"local_python has no backend {job.backend!r}; its only backend is 'python3'")
        if job.payload.get("function") is not None:
            raise InvalidRequest("local_python runs code; it has no deployed functions: send 'code' instead of 'function'")
        try:
            compile(job.payload["code"], "<hal job>", "exec")
        except SyntaxError as exc:
            raise InvalidRequest(
                f"the code does not compile: {exc.msg} (line {exc.lineno})",
                details=[{"line": exc.lineno, "column": exc.offset, "message": exc.msg}],
            ) from None

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return CostEstimate(currency="USD", amount=0.0, basis="free local process")

    def warm_up(self) -> None:
        """On Dask: connect to the cluster (or start the embedded one) now, not with the first job."""
        if self._dask is not None:
            dask_executor.warm_up(self._dask)

    # -- running ------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        with self._guard:
            for job in batch.jobs:
                self._state[job.id] = Waiting("waiting for a free process slot")
        for job in batch.jobs:
            self._pool.submit(self._run_and_notify, batch.id, job)
        return Submission(remote_ids={job.id: f"local-{job.id}" for job in batch.jobs})

    def _run_and_notify(self, batch_id: str, job: JobSpec) -> None:
        try:
            report = self._run(job)
        except Exception as exc:  # noqa: BLE001 - a runner failure is the job's failure
            report = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"the process could not run: {type(exc).__name__}: {exc}"))
        with self._guard:
            if job.id in self._cancelled:
                report = Cancelled()
            self._state[job.id] = report
        self._notify(batch_id)

    def _run(self, job: JobSpec) -> Report:
        with self._guard:
            if job.id in self._cancelled:
                return Cancelled()
        if self._dask is not None:
            with self._guard:
                self._state[job.id] = Running("on the Dask cluster: running, or waiting for a free worker")
            return self._dask.run_python(job.id, job.payload, self.settings, lambda: self._is_cancelled(job.id))
        try:
            return run_code(job.payload, self.settings, lambda proc, timeout: self._started(job.id, proc, timeout))
        finally:
            with self._guard:
                self._procs.pop(job.id, None)

    def _is_cancelled(self, job_id: str) -> bool:
        with self._guard:
            return job_id in self._cancelled or self._closed

    def _started(self, job_id: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """The job's child runs: kept to be killed by a cancel; True if it was cancelled (or shut down) meanwhile."""
        with self._guard:
            self._procs[job_id] = proc
            self._state[job_id] = Running(f"running (pid {proc.pid}, limit {timeout:g} s)")
            return job_id in self._cancelled or self._closed

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        reports: dict[str, Report] = {}
        with self._guard:
            for job in batch.jobs:
                state = self._state.get(job.id)
                if state is None:
                    state = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="the process was lost (server restarted)"))
                reports[job.id] = state
                if isinstance(state, (Finished, Failed, Cancelled)):
                    self._state.pop(job.id, None)
                    self._cancelled.discard(job.id)
        return reports

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        with self._guard:
            self._cancelled.update(job_ids)
            procs = [self._procs[j] for j in job_ids if j in self._procs]
        for proc in procs:
            kill_group(proc)
        if self._dask is not None:
            self._dask.cancel_python(job_ids)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            procs = list(self._procs.values())
            running = list(self._state)
        for proc in procs:
            kill_group(proc)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._dask is not None:
            self._dask.cancel_python(running)
            self._dask.release()
