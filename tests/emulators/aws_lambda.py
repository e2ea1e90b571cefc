"""A local AWS Lambda: moto's server, with invoke running the real handler.

moto without Docker does not run a function's code on invoke. Here invoke
unpacks the function's zip and runs its handler in a Python subprocess with
the function's timeout, returning what Lambda returns: the handler's value, or
``errorType``/``errorMessage`` with ``x-amz-function-error``, or
"Task timed out after N seconds". Creates (deploys) and invokes are counted.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import zipfile
from typing import Any

from moto.awslambda import models
from moto.server import ThreadedMotoServer

from ..server_process import free_port

DEPLOYS: list[str] = []
INVOKES: list[str] = []
_RUN = """
import importlib, json, sys, traceback
module_name, func_name = sys.argv[1].rsplit(".", 1)
sys.path.insert(0, sys.argv[2])
event = json.loads(sys.stdin.read())
try:
    value = getattr(importlib.import_module(module_name), func_name)(event, None)
    out = {"ok": True, "value": value}
except Exception as exc:
    out = {"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": traceback.format_exc().splitlines()}
sys.__stdout__.write("\\n__HAL_LAMBDA__" + json.dumps(out))
"""


def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    INVOKES.append(self.function_name)
    with tempfile.TemporaryDirectory() as folder:
        zipfile.ZipFile(io.BytesIO(self.code_bytes)).extractall(folder)
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _RUN, self.handler, folder],
                input=json.dumps(event if event is not None else {}),
                capture_output=True,
                text=True,
                timeout=float(self.timeout),
                cwd=folder,
            )
        except subprocess.TimeoutExpired:
            message = f"Task timed out after {float(self.timeout):.2f} seconds"
            return json.dumps({"errorMessage": message}), True, message
    logs, _, raw = proc.stdout.rpartition("\n__HAL_LAMBDA__")
    if not raw:
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": proc.stderr[-1000:]}), True, proc.stderr
    out = json.loads(raw)
    if out["ok"]:
        return json.dumps(out["value"]), False, logs + proc.stderr
    return json.dumps({k: out[k] for k in ("errorType", "errorMessage", "stackTrace")}), True, logs + proc.stderr


_create = models.LambdaBackend.create_function


def _counting_create(self: Any, spec: dict[str, Any]) -> Any:
    DEPLOYS.append(spec["FunctionName"])
    return _create(self, spec)


def start() -> tuple[ThreadedMotoServer, str]:
    """Start the emulator on 127.0.0.1; returns the server and its endpoint URL."""
    models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    models.LambdaBackend.create_function = _counting_create  # type: ignore[method-assign]
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


if __name__ == "__main__":  # python -m tests.emulators.aws_lambda: a Lambda for offline demos
    import time

    _, url = start()
    print(f"AWS Lambda emulator at {url}: export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1")
    while True:
        time.sleep(3600)
