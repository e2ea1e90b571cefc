"""A local AWS Lambda: moto's server, with invoke running the real handler.

moto without Docker does not run a function's code on invoke. Here invoke
unpacks the function's zip and runs its handler in a Python subprocess with
the function's timeout, returning what Lambda returns: the handler's value, or
``errorType``/``errorMessage`` with ``x-amz-function-error``, or
"Task timed out after N seconds". Creates (deploys) and invokes are counted.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda import models
from moto.server import ThreadedMotoServer

from . import credentials, runner
from .http import free_port

DEPLOYS: list[str] = []
INVOKES: list[str] = []
def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    INVOKES.append(self.function_name)
    module, _, function = self.handler.rpartition(".")
    outcome = runner.run(self.code_bytes, f"{module}.py", function, event, float(self.timeout), style="lambda")
    if outcome.timed_out:
        message = f"Task timed out after {float(self.timeout):.2f} seconds"
        return json.dumps({"errorMessage": message}), True, message
    if not outcome.ok:
        error = outcome.error or {}
        body = {"errorType": error.get("type"), "errorMessage": error.get("message"), "stackTrace": error.get("traceback", "").splitlines()}
        return json.dumps(body), True, outcome.logs
    return json.dumps(outcome.value), False, outcome.logs


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
    print(f"AWS Lambda emulator at {url}: export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID={credentials.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY={credentials.AWS_SECRET_ACCESS_KEY} AWS_REGION=us-east-1")
    while True:
        time.sleep(3600)
