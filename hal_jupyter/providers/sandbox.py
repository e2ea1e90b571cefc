"""The sandboxed child process of a ``local_python`` job, wherever it runs.

The child is the one user-code runner (:mod:`.user_code`) run as a script, in
its own process group and working directory, with an environment that carries
none of its parent's variables (so none of its credentials), and resource
limits (memory, CPU time, file size, open files). A timeout or a cancel kills
the whole group. The server's ``local_python`` provider runs it on one of its
threads; with ``local_executor = "dask"``, a Dask worker does (:mod:`.dask_tasks`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine.errors import ErrorType
from ..engine.models import ErrorInfo
from ..engine.contract import Failed, Finished, Report, Settings, code_error

RUNNER = Path(__file__).with_name("user_code.py")  # the one user-code runner, run as a script
OUTPUT_LIMIT = 1_000_000  # bytes of stdout / stderr kept per job
_SAFE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def run_code(payload: dict[str, Any], settings: Settings, started: Callable[[subprocess.Popen[bytes], float], bool]) -> Report:
    """Run one job's code in its sandboxed child process, to the end or its time limit.

    ``started(child, timeout)`` is told of the child as soon as it runs (to kill its
    group on a cancel) and answers True to have it killed at once. The server's
    provider runs this in a thread; on Dask, a worker runs it (:mod:`.dask_tasks`).
    """
    limit = settings.local_python_timeout_s
    timeout = min(float(payload.get("timeout_s") or limit), limit)
    workdir = Path(tempfile.mkdtemp(prefix="hal-job-"))
    try:
        return _run_in(payload, settings, workdir, timeout, started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_in(
    payload: dict[str, Any], settings: Settings, workdir: Path, timeout: float, started: Callable[[subprocess.Popen[bytes], float], bool]
) -> Report:
    env = {k: os.environ[k] for k in _SAFE_ENV if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), HAL_PARENT_PID=str(os.getpid()))
    limits = {
        "memory_bytes": settings.local_python_memory_mb * 2**20,
        "cpu_s": int(timeout) + 2,
        "file_bytes": 100 * 2**20,
        "open_files": 256,
    }
    spec = json.dumps({**{k: payload[k] for k in ("code", "entrypoint", "args")}, "limits": limits}).encode()
    with open(workdir / ".stdout", "w+b") as out, open(workdir / ".stderr", "w+b") as err, open(
        workdir / ".result", "w+b"
    ) as channel:
        env["HAL_RESULT_FD"] = str(channel.fileno())
        start = time.monotonic()
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
        if started(proc, timeout):  # cancelled (or shut down) while the process was starting
            kill_group(proc)
        timed_out = False
        try:
            proc.communicate(spec, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(proc)
        duration = time.monotonic() - start
        stdout, stderr = _read(out), _read(err)
        channel.seek(0)
        raw = channel.read()
    if timed_out:
        message = f"the job ran past its time limit of {timeout:g} s and was killed"
        return Failed(ErrorInfo(type=ErrorType.TIMEOUT, message=message))
    return _outcome(raw, proc.returncode, stdout, stderr, duration)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and every process it started (its process group)."""
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
