"""A local Azure Functions app (Python v2 programming model) running real handlers.

:meth:`FunctionsHost.deploy` takes an app as it would be published (a zip with
``function_app.py`` and ``host.json``) and counts it. ``POST /api/{route}``
checks the function key (``x-functions-key`` header or ``?code=``) for
functions of auth level FUNCTION, builds a real ``azure.functions.HttpRequest``
and calls the function in a Python subprocess within the app's
``functionTimeout`` (past it: 500 with Azure's "Timeout value ... exceeded"
message, as the Functions host answers).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tempfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from . import credentials, runner
from .http import JsonHandler, World, free_port, serve

KEY = credentials.AZURE_FUNCTIONS_KEY


def zip_folder(folder: str | Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in Path(folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _timeout_s(value: str) -> float:
    hours, minutes, seconds = (float(part) for part in value.split(":"))
    return hours * 3600 + minutes * 60 + seconds


class FunctionsHost(World):
    service = "Azure Functions"

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.routes: dict[str, dict[str, Any]] = {}

    def deploy(self, app_zip: bytes, name: str = "app") -> None:
        """Publish an app: its functions' routes replace the same routes of earlier apps."""
        with tempfile.TemporaryDirectory() as folder:
            zipfile.ZipFile(io.BytesIO(app_zip)).extractall(folder)
            host = json.loads(Path(folder, "host.json").read_text())
            spec = importlib.util.spec_from_file_location(f"hal_emulated_app_{len(self.deploys)}", Path(folder, "function_app.py"))
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, folder)
            try:
                spec.loader.exec_module(module)  # only to read the routes; calls run in a subprocess
            finally:
                sys.path.remove(folder)
        limit = _timeout_s(host.get("functionTimeout", "00:05:00"))
        with self.guard:
            for function in module.app.get_functions():
                trigger = function.get_trigger()
                route = trigger.route or function.get_function_name()
                self.routes[route] = {"app": app_zip, "function": function.get_function_name(), "auth": trigger.auth_level.value, "limit": limit}
            self.deploys.append(name)

    def call(self, route: str, request: dict[str, Any]) -> tuple[int, str, str]:
        target = self.routes[route]
        self.invokes.append(route)
        outcome = runner.run(target["app"], "function_app.py", target["function"], request, target["limit"], style="azure")
        if outcome.timed_out:
            limit = time.strftime("%H:%M:%S", time.gmtime(target["limit"]))
            return 500, "application/json", json.dumps({"error": f"Timeout value of {limit} was exceeded by function: Functions.{target['function']}"})
        if not outcome.ok:
            return 500, "application/json", json.dumps({"error": f"Exception while executing function: Functions.{target['function']}: {outcome.error['message']}"})
        value = outcome.value
        return value["status"], value["mimetype"] or "text/plain", value["body"]


def _handler(host: FunctionsHost) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            raw = self._body()
            route = url.path.removeprefix("/api/")
            target = host.routes.get(route) if url.path.startswith("/api/") else None
            if target is None:
                return self._reply(404, "", "text/plain")
            params = dict(parse_qsl(url.query))
            if target["auth"] != "anonymous" and KEY not in (self.headers.get("x-functions-key"), params.get("code")):
                return self._reply(401, "", "text/plain")
            request = {"method": "POST", "url": host.base_url + self.path, "headers": dict(self.headers), "params": params, "body": raw.decode()}
            status, mimetype, body = host.call(route, request)
            self._reply(status, body, mimetype)

    return Handler


def env(url: str) -> dict[str, str]:
    """The provider variables that point azure_functions (and its HAL runner) at this emulator."""
    return {"AZURE_FUNCTIONS_URL": url, "AZURE_FUNCTIONS_KEY": KEY, "AZURE_FUNCTIONS_RUNNER": "hal-runner"}


def start() -> tuple[ThreadingHTTPServer, FunctionsHost, str]:
    port = free_port()
    host = FunctionsHost(f"http://127.0.0.1:{port}")
    server, _ = serve(_handler(host), "azure-functions-offline", port, world=host)
    return server, host, host.base_url


def deploy_runner(host: FunctionsHost) -> None:
    """Publish the HAL runner app, as its owner would once."""
    from hal_jupyter.providers.azure_functions import write_runner

    with tempfile.TemporaryDirectory() as folder:
        host.deploy(zip_folder(write_runner(folder)), name="hal-runner")
