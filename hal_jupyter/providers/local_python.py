"""``local_python``: Python cells run in a child process of the server, never in it.

Each job is its own process in its own process group and working directory,
with an environment that carries none of the server's variables (so none of
its credentials), and resource limits (memory, CPU time, file size, open
files). A timeout or a cancel kills the whole group.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..engine.errors import ErrorType, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo
from ..engine.contract import BatchSpec, Cancelled, Failed, Finished, JobSpec, Provider, Report, Running, Submission, Waiting, code_error

RUNNER = Path(__file__).with_name("user_code.py")  # the one user-code runner, run as a script
OUTPUT_LIMIT = 1_000_000  # bytes of stdout / stderr kept per job
_SAFE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


class LocalPythonProvider(Provider):
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
        self._pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="hal-python")
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
        limit = self.settings.local_python_timeout_s
        timeout = min(float(job.payload.get("timeout_s") or limit), limit)
        workdir = Path(tempfile.mkdtemp(prefix="hal-job-"))
        try:
            return self._run_in(job, workdir, timeout)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_in(self, job: JobSpec, workdir: Path, timeout: float) -> Report:
        env = {k: os.environ[k] for k in _SAFE_ENV if k in os.environ}
        env.update(HOME=str(workdir), TMPDIR=str(workdir), HAL_PARENT_PID=str(os.getpid()))
        limits = {
            "memory_bytes": self.settings.local_python_memory_mb * 2**20,
            "cpu_s": int(timeout) + 2,
            "file_bytes": 100 * 2**20,
            "open_files": 256,
        }
        spec = json.dumps({**{k: job.payload[k] for k in ("code", "entrypoint", "args")}, "limits": limits}).encode()
        with open(workdir / ".stdout", "w+b") as out, open(workdir / ".stderr", "w+b") as err, open(
            workdir / ".result", "w+b"
        ) as channel:
            env["HAL_RESULT_FD"] = str(channel.fileno())
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-I", str(RUNNER)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                pass_fds=(channel.fileno(),),
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
            with self._guard:
                self._procs[job.id] = proc
                self._state[job.id] = Running(f"running (pid {proc.pid}, limit {timeout:g} s)")
                stopped = job.id in self._cancelled or self._closed
            if stopped:  # cancelled (or shut down) while the process was starting
                _kill_group(proc)
            timed_out = False
            try:
                proc.communicate(spec, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)
                with self._guard:
                    self._procs.pop(job.id, None)
            duration = time.monotonic() - started
            stdout, stderr = _read(out), _read(err)
            channel.seek(0)
            raw = channel.read()
        if job.id in self._cancelled:
            return Cancelled()
        if timed_out:
            message = f"the job ran past its time limit of {timeout:g} s and was killed"
            return Failed(ErrorInfo(type=ErrorType.TIMEOUT, message=message))
        return _outcome(raw, proc.returncode, stdout, stderr, duration)

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
            _kill_group(proc)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            procs = list(self._procs.values())
        for proc in procs:
            _kill_group(proc)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _read(handle: Any) -> str:
    handle.seek(0)
    data = handle.read(OUTPUT_LIMIT + 1)
    text = data[:OUTPUT_LIMIT].decode("utf-8", errors="replace")
    return text + ("\n[output truncated]" if len(data) > OUTPUT_LIMIT else "")


def _outcome(raw: bytes, returncode: int | None, stdout: str, stderr: str, duration: float) -> Report:
    try:
        outcome = json.loads(raw) if raw else None
    except ValueError:
        outcome = None
    output = {"stdout": stdout, "stderr": stderr, "duration_s": round(duration, 6)}
    if outcome is None:
        message = f"the process exited with code {returncode} before returning a value"
        if stderr.strip():
            message += f": {stderr.strip().splitlines()[-1]}"
        return Failed(ErrorInfo(type=ErrorType.PROCESS_EXIT, message=message), output)
    if outcome["ok"]:
        return Finished({"value": outcome["value"], **output})
    output["traceback"] = outcome["traceback"]
    return Failed(code_error(outcome["type"], outcome["message"]), output)
