"""hal_jupyter's one user-code runner: call user code, answer a JSON outcome.

Every place that runs user code uses this file, so they cannot drift apart:

- ``local_python`` runs it as a script (``python -I user_code.py``): one job,
  ``{"code", "entrypoint", "args", "limits"}`` on stdin;
- the serverless providers ship it verbatim as ``hal_handler.py`` beside the
  cell's code (``hal_user_code.py``): :func:`handler` runs each task of an
  invocation, with its own stdout and stderr;
- the HAL runner app for Azure Functions and the offline stand-ins of the
  serverless platforms call a deployed function through it in a child process
  (:func:`call_in_child`), as their platform would: ``{"package", "module",
  "function", "style", "event"}`` on stdin.

An outcome is ``{"ok": true, "value": ...}`` or ``{"ok": false, "type",
"message", "traceback"}``. The file imports only the standard library and
nothing of hal_jupyter: it must run inside a function package and in a fresh
interpreter whose process holds nothing the user's code did not import.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

#: the environment variable naming the file descriptor a child writes its outcome to
RESULT_FD = "HAL_RESULT_FD"


def outcome(call):
    """Call ``call()``; its JSON outcome. Every failure of user code is reported,
    a value that JSON cannot carry included."""
    try:
        value = call()
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the return value is not JSON-serializable: {exc}") from None
        return {"ok": True, "value": value}
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt of user code too
        return {"ok": False, "type": type(exc).__name__, "message": str(exc), "traceback": "".join(traceback.format_exception(exc))}


def entry_point(namespace, name):
    """The function ``name`` of a module or namespace dict, or a NameError that says so."""
    entry = namespace.get(name) if isinstance(namespace, dict) else getattr(namespace, name, None)
    if not callable(entry):
        raise NameError(f"the code defines no function named {name!r}")
    return entry


def handler(event, context=None):
    """The serverless handler: each task of ``event`` against ``hal_user_code``,
    its value, output or exception on its own (``{"results": [...]}``)."""
    tasks = event.get("tasks", [])
    loaded = outcome(lambda: bool(__import__("hal_user_code")))
    if not loaded["ok"]:  # the code itself failed to load
        failure = {"ok": False, "type": loaded["type"], "message": loaded["message"], "stdout": "", "stderr": loaded["traceback"]}
        return {"results": [dict(failure, id=task["id"]) for task in tasks]}
    module = sys.modules["hal_user_code"]
    results = []
    for task in tasks:
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result = outcome(lambda: entry_point(module, task["entrypoint"])(**task["args"]))
        result.update(id=task["id"], stdout=out.getvalue(), stderr=err.getvalue(), duration_s=time.monotonic() - started)
        results.append(result)
    return {"results": results}


# -- a child process -------------------------------------------------------------------


def die_with_parent(parent_pid):
    """Have Linux kill this process when its parent dies (also by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died before prctl took effect


def apply_limits(limits):
    """Resource limits for this process and its children, before any user code runs:
    memory (address space), CPU seconds (a backstop behind the wall-clock
    timeout), size of files written, open files."""
    import resource

    names = {"memory_bytes": resource.RLIMIT_AS, "cpu_s": resource.RLIMIT_CPU, "file_bytes": resource.RLIMIT_FSIZE, "open_files": resource.RLIMIT_NOFILE}
    for key, limit in limits.items():
        if limit:
            resource.setrlimit(names[key], (int(limit), int(limit)))


def _run_code(spec):
    """One ``local_python`` job: the code executed in a fresh namespace, its entry point called."""
    namespace = {"__name__": "__hal_job__", "__builtins__": __builtins__}

    def call():
        exec(compile(spec["code"], "<hal job>", "exec"), namespace)
        return entry_point(namespace, spec["entrypoint"])(**spec["args"])

    return outcome(call)


def _call_deployed(spec):
    """A deployed function called as its platform calls it: ``style`` "main" is
    ``f(event)`` (OpenWhisk, Code Engine, the HAL handler), "lambda" ``f(event, context)``,
    "azure" the function so named of an Azure Functions v2 app, with a
    ``func.HttpRequest`` made from ``event`` (its answer: status, mimetype, body)."""
    import importlib.util

    sys.path.insert(0, spec["package"])
    module_spec = importlib.util.spec_from_file_location("hal_deployed", spec["module"])
    module = importlib.util.module_from_spec(module_spec)
    event, style = spec.get("event"), spec.get("style", "main")

    def call():
        module_spec.loader.exec_module(module)
        if style == "azure":
            import azure.functions as func

            fn = next((f for f in module.app.get_functions() if f.get_function_name() == spec["function"]), None)
            if fn is None:
                raise NameError(f"the app defines no function named {spec['function']!r}")
            request = func.HttpRequest(event["method"], event["url"], headers=event["headers"], params=event["params"], route_params={}, body=event["body"].encode())
            response = fn.get_user_function()(request)
            return {"status": response.status_code, "mimetype": response.mimetype, "body": response.get_body().decode()}
        entry = entry_point(module, spec["function"])
        return entry(event, None) if style == "lambda" else entry(event)

    return outcome(call)


def main():
    """The child's side: the spec on stdin, the outcome to the descriptor in ``HAL_RESULT_FD``."""
    if "HAL_PARENT_PID" in os.environ:
        die_with_parent(int(os.environ.pop("HAL_PARENT_PID")))
    result_fd = int(os.environ.pop(RESULT_FD))
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()
    apply_limits(spec.get("limits") or {})
    result = _call_deployed(spec) if "package" in spec else _run_code(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    with os.fdopen(result_fd, "w") as channel:
        json.dump(result, channel)


def call_in_child(spec, timeout, cwd=None):
    """Run ``spec`` (see :func:`main`) in a child Python process within ``timeout``
    seconds: ``(outcome, stdout, stderr)``; the outcome is None past the timeout,
    and a ``ProcessExit`` failure when the child died without one."""
    with tempfile.TemporaryFile() as channel:
        env = {**os.environ, RESULT_FD: str(channel.fileno()), "HAL_PARENT_PID": str(os.getpid())}
        try:
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__)],
                input=json.dumps(spec), capture_output=True, text=True, timeout=timeout,
                cwd=cwd, env=env, pass_fds=(channel.fileno(),),
            )
        except subprocess.TimeoutExpired:
            return None, "", ""
        channel.seek(0)
        raw = channel.read()
    if not raw:
        message = f"the process exited with code {child.returncode} before returning a value"
        return {"ok": False, "type": "ProcessExit", "message": message, "traceback": child.stderr[-2000:]}, child.stdout, child.stderr
    return json.loads(raw), child.stdout, child.stderr


if __name__ == "__main__":
    main()
