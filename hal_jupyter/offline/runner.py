"""How the emulators run a function's real code: unpacked in a temporary folder,
called in a Python subprocess with the platform's time limit."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

_RUN = """
import importlib.util, json, sys, traceback
folder, entry, function, style = sys.argv[1:5]
sys.path.insert(0, folder)
spec = importlib.util.spec_from_file_location("hal_emulated", entry)
module = importlib.util.module_from_spec(spec)
event = json.loads(sys.stdin.read())
try:
    spec.loader.exec_module(module)
    call = getattr(module, function, None)
    if style == "lambda":
        value = call(event, None)
    elif style == "azure":  # an Azure Functions v2 app: `function` names a function of module.app
        import azure.functions as func
        fn = next(f for f in module.app.get_functions() if f.get_function_name() == function)
        request = func.HttpRequest(event["method"], event["url"], headers=event["headers"], params=event["params"], route_params={}, body=event["body"].encode())
        response = fn.get_user_function()(request)
        value = {"status": response.status_code, "mimetype": response.mimetype, "body": response.get_body().decode()}
    else:
        value = call(event)
    out = {"ok": True, "value": value}
except Exception as exc:
    out = {"ok": False, "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
sys.__stdout__.write("\\n__HAL_EMULATOR__" + json.dumps(out))
"""


@dataclass
class Outcome:
    """``timed_out``; else ``ok`` with ``value``, or the exception; ``logs`` is what it printed."""

    timed_out: bool = False
    ok: bool = False
    value: Any = None
    error: dict[str, str] | None = None
    logs: str = ""


def run(files: dict[str, bytes] | bytes, entry: str, function: str, event: Any, limit_s: float, style: str = "main") -> Outcome:
    """``files`` is a zip (bytes) or a mapping of file names to contents; ``entry``
    the file holding ``function``; ``style`` "main" calls ``f(params)``, "lambda"
    ``f(event, context)``, "azure" the function so named of an Azure Functions
    app with a ``func.HttpRequest`` made from ``event``."""
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(files, bytes):
            zipfile.ZipFile(io.BytesIO(files)).extractall(folder)
        else:
            for name, content in files.items():
                with open(f"{folder}/{name}", "wb") as handle:
                    handle.write(content)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _RUN, folder, f"{folder}/{entry}", function, style],
                input=json.dumps(event if event is not None else {}),
                capture_output=True, text=True, timeout=limit_s, cwd=folder,
            )
        except subprocess.TimeoutExpired:
            return Outcome(timed_out=True)
    logs, _, raw = proc.stdout.rpartition("\n__HAL_EMULATOR__")
    logs += proc.stderr
    if not raw:
        return Outcome(error={"type": "Runtime.ExitError", "message": proc.stderr[-500:], "traceback": ""}, logs=logs)
    out = json.loads(raw)
    if out["ok"]:
        return Outcome(ok=True, value=out["value"], logs=logs)
    return Outcome(error={k: out[k] for k in ("type", "message", "traceback")}, logs=logs)


def data_url_bytes(url: str) -> bytes:
    return base64.b64decode(url.partition(";base64,")[2])
