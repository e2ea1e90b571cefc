"""Runs one ``local_python`` job in a child process; not imported by the server.

Protocol: the job (``code``, ``entrypoint``, ``args``) arrives as JSON on stdin;
the outcome is written as JSON to the file descriptor named by ``HAL_RESULT_FD``.
The user's own stdout and stderr stay theirs. The process dies with the server
(``PR_SET_PDEATHSIG``). It imports nothing of hal_jupyter, so the job's process
holds no more than the standard library until the user's code imports more.
"""

import json
import os
import sys
import traceback


def die_with_parent(parent_pid: int) -> None:
    """Have Linux kill this process when the server dies (also by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)  # the server died before prctl took effect


def apply_limits(limits: dict) -> None:
    """Resource limits for this process and its children, before any user code runs:
    memory (address space), CPU seconds (a backstop behind the wall-clock
    timeout), size of files written, open files."""
    import resource

    names = {"memory_bytes": resource.RLIMIT_AS, "cpu_s": resource.RLIMIT_CPU, "file_bytes": resource.RLIMIT_FSIZE, "open_files": resource.RLIMIT_NOFILE}
    for key, limit in limits.items():
        if limit:
            resource.setrlimit(names[key], (int(limit), int(limit)))


def _outcome(spec: dict) -> dict:
    namespace = {"__name__": "__hal_job__", "__builtins__": __builtins__}
    try:
        exec(compile(spec["code"], "<hal job>", "exec"), namespace)
        entry = namespace.get(spec["entrypoint"])
        if not callable(entry):
            raise NameError(f"the code defines no function named {spec['entrypoint']!r}")
        value = entry(**spec["args"])
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the return value is not JSON-serializable: {exc}") from None
        return {"ok": True, "value": value}
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is reported
        return {
            "ok": False,
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)[1:]),
        }


def main() -> None:
    die_with_parent(int(os.environ.pop("HAL_PARENT_PID", os.getppid())))
    result_fd = int(os.environ.pop("HAL_RESULT_FD"))
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()
    apply_limits(spec.get("limits") or {})
    outcome = _outcome(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    with os.fdopen(result_fd, "w") as channel:
        json.dump(outcome, channel)


if __name__ == "__main__":
    main()
