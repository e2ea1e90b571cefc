"""A local IBM Code Engine (functions part of the v2 API) with IAM, running real functions.

- ``POST /identity/token``: IAM (see :mod:`.iam`);
- ``POST /v2/projects/{project}/functions``, ``GET .../functions/{name}``: the
  management API ``ibm-code-engine-sdk`` calls (bearer token checked);
- ``POST /run/{project}/{name}``: a function's endpoint; runs its ``main(params)``
  in a Python subprocess within ``scale_max_execution_time`` and answers the
  returned ``body`` (or 504 past the time limit, 500 on an exception).
"""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from . import runner
from .http import JsonHandler, World, free_port, serve
from .iam import API_KEY, Iam

PROJECT = "hal-project"
FUNCTIONS = re.compile(r"^/v2/projects/(?P<project>[^/]+)/functions(?:/(?P<name>[^/]+))?$")
RUN = re.compile(r"^/run/(?P<project>[^/]+)/(?P<name>[^/]+)$")
class CodeEngine(World):
    service = "IBM Code Engine (with IBM Cloud IAM)"

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.functions: dict[tuple[str, str], dict[str, Any]] = {}
        self.iam = Iam()

    def run(self, function: dict[str, Any], params: Any) -> tuple[int, Any]:
        limit = float(function.get("scale_max_execution_time", 60))
        code = runner.data_url_bytes(function["code_reference"])
        main = function.get("code_main", "main")
        if function.get("code_binary"):
            outcome = runner.run(code, "__main__.py", main, params, limit)
        else:
            outcome = runner.run({"main.py": code}, "main.py", main, params, limit)
        if outcome.timed_out:
            return 504, {"error": f"the function exceeded its maximum execution time of {limit:g} s"}
        if not outcome.ok:
            return 500, {"error": outcome.error["traceback"] or outcome.error["message"]}
        value = outcome.value
        if isinstance(value, dict) and "body" in value:
            return int(value.get("statusCode", 200)), value["body"]
        return 200, value


def _handler(world: CodeEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802
            path = urlparse(self.path).path
            raw = self._body()
            if path == "/identity/token":
                return self._reply(*world.iam.exchange(raw))
            run = RUN.match(path)
            if run:
                function = world.functions.get((run["project"], run["name"]))
                if function is None:
                    return self._reply(404, {"error": "not found"})
                world.invokes.append(run["name"])
                return self._reply(*world.run(function, json.loads(raw or b"{}")))
            match = FUNCTIONS.match(path)
            if not match or match["name"]:
                return self._reply(404, {"errors": [{"code": "not_found"}]})
            if not world.iam.valid(self.headers.get("Authorization")):
                return self._reply(401, {"errors": [{"code": "unauthorized", "message": "invalid token"}]})
            spec = json.loads(raw)
            key = (match["project"], spec["name"])
            with world.guard:
                if key in world.functions:
                    return self._reply(409, {"errors": [{"code": "already_exists", "message": f"function {spec['name']} exists"}]})
                world.functions[key] = {
                    **spec,
                    "status": "ready",
                    "endpoint": f"{world.base_url}/run/{match['project']}/{spec['name']}",
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                world.deploys.append(spec["name"])
            self._reply(201, world.functions[key])

        def do_GET(self) -> None:  # noqa: N802
            match = FUNCTIONS.match(urlparse(self.path).path)
            if not match or not match["name"]:
                return self._reply(404, {"errors": [{"code": "not_found"}]})
            if not world.iam.valid(self.headers.get("Authorization")):
                return self._reply(401, {"errors": [{"code": "unauthorized", "message": "invalid token"}]})
            function = world.functions.get((match["project"], match["name"]))
            if function is None:
                return self._reply(404, {"errors": [{"code": "function_not_found", "message": "not found"}]})
            self._reply(200, function)

    return Handler


def env(url: str) -> dict[str, str]:
    """The provider variables that point ibm_code_engine at this emulator (and its IAM)."""
    return {"IBM_CODE_ENGINE_URL": f"{url}/v2", "IBM_CLOUD_IAM_URL": url, "IBM_CODE_ENGINE_PROJECT_ID": PROJECT, "IBM_CLOUD_API_KEY": API_KEY}


def start() -> tuple[ThreadingHTTPServer, CodeEngine, str]:
    port = free_port()
    world = CodeEngine(f"http://127.0.0.1:{port}")
    server, _ = serve(_handler(world), "code-engine-offline", port, world=world)
    return server, world, world.base_url
