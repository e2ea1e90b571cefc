"""How the serverless stand-ins run a deployed function's real code: unpacked in
a temporary folder and called, as its platform calls it, by hal_jupyter's one
user-code runner (:mod:`hal_jupyter.providers.user_code`) in a child process,
within the platform's time limit."""

from __future__ import annotations

import base64
import io
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

from ..providers.user_code import call_in_child


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
        spec = {"package": folder, "module": f"{folder}/{entry}", "function": function, "style": style, "event": event if event is not None else {}}
        result, stdout, stderr = call_in_child(spec, limit_s, cwd=folder)
    if result is None:
        return Outcome(timed_out=True)
    if result["ok"]:
        return Outcome(ok=True, value=result["value"], logs=stdout + stderr)
    return Outcome(error={k: result[k] for k in ("type", "message", "traceback")}, logs=stdout + stderr)


def data_url_bytes(url: str) -> bytes:
    return base64.b64decode(url.partition(";base64,")[2])
