"""A local AWS (Lambda, IAM and S3): moto's server, with Lambda's invoke running
the real handler.

moto without Docker does not run a function's code on invoke. Here invoke
unpacks the function's zip and runs its handler through the HAL's user-code
runner in a child process with the function's timeout, returning what Lambda
returns: the handler's value, or ``errorType``/``errorMessage`` with
``x-amz-function-error``, or "Task timed out after N seconds". Creates
(deploys) and invokes are counted. The same server is the S3 that the Braket
stand-in writes its results to.

Injected faults (``--faults``) are throttling, 503 and slow answers, all before
the request is carried out: moto's answer cannot be lost after the fact here.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.awslambda import models
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from werkzeug.serving import make_server

from . import credentials, runner
from .http import STATS_PATH, World, free_port


class Aws(World):
    service = "AWS Lambda, IAM and S3 (moto)"


#: one per process: moto's backends are process-wide
WORLD = Aws()
WORLD.faults.kinds = ("throttle", "unavailable", "slow")
DEPLOYS, INVOKES = WORLD.deploys, WORLD.invokes


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


_ERRORS = {"throttle": (429, "TooManyRequestsException", "Rate exceeded"), "unavailable": (503, "ServiceException", "injected fault")}


class _Offline:
    """WSGI middleware over moto: ``GET /__offline__/stats`` and the injected faults."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == STATS_PATH and environ.get("REQUEST_METHOD") == "GET":
            return self._answer(start_response, 200, WORLD.stats(), [])
        fault = WORLD.faults.draw()
        if fault in _ERRORS:
            status, kind, message = _ERRORS[fault]
            headers = [("x-amzn-ErrorType", kind), ("Retry-After", "0")]
            return self._answer(start_response, status, {"__type": kind, "message": message, "Message": message}, headers)
        if fault is not None:  # slow (or a timeout, not drawn here): the right answer, late
            time.sleep(WORLD.faults.slow_s)
        return self.app(environ, start_response)

    @staticmethod
    def _answer(start_response: Any, status: int, body: Any, headers: list[tuple[str, str]]) -> list[bytes]:
        data = json.dumps(body).encode()
        reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}[status]
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers])
        return [data]


class _Server(ThreadedMotoServer):
    def _server_entry(self) -> None:  # moto's own, with the middleware around its app
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = _Offline(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()


def start(port: int | None = None) -> tuple[ThreadedMotoServer, Aws, str]:
    """Start the stand-in on 127.0.0.1; the server, its state and its endpoint URL."""
    models.LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    models.LambdaBackend.create_function = _counting_create  # type: ignore[method-assign]
    port = port or free_port()
    server = _Server(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, WORLD, f"http://127.0.0.1:{port}"


def env(url: str) -> dict[str, str]:
    """The AWS variables that point boto3 (Lambda, S3, IAM) at this stand-in."""
    return {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": credentials.AWS_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": credentials.AWS_SECRET_ACCESS_KEY, "AWS_REGION": "us-east-1"}
