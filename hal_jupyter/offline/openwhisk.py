"""A local Apache OpenWhisk (the IBM Cloud Functions API) with an IBM IAM token endpoint.

- ``POST /identity/token``: exchanges an API key for a JWT bearer token with a
  short life (``TOKEN_TTL_S``), so clients must refresh it;
- ``PUT|GET /api/v1/namespaces/{ns}/actions/{name}``: actions (zip or text code);
- ``POST .../actions/{name}?blocking=true&result=true``: runs the action's real
  ``main(params)`` in a Python subprocess, with its time limit; answers as
  OpenWhisk does (200 + result, or 502 + ``{"error": ...}``).
Every action call checks the bearer token. Deploys, invokes and tokens are counted.
"""

from __future__ import annotations

import base64
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import runner
from .http import JsonHandler, World, serve
from .iam import API_KEY, TOKEN_TTL_S, Iam

__all__ = ["API_KEY", "TOKEN_TTL_S", "OpenWhisk", "start"]
ACTION = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/actions/(?P<name>[^?]+)$")


class OpenWhisk(World):
    service = "IBM Cloud Functions (OpenWhisk, with IBM Cloud IAM)"

    def __init__(self) -> None:
        super().__init__()
        self.actions: dict[tuple[str, str], dict[str, Any]] = {}
        self.iam = Iam()

    @property
    def token_requests(self) -> int:
        return self.iam.token_requests

    def valid(self, header: str | None) -> bool:
        return self.iam.valid(header)

    def run(self, action: dict[str, Any], params: Any) -> tuple[int, Any]:
        limit_s = action.get("limits", {}).get("timeout", 60000) / 1000
        code = action["exec"]["code"]
        if action["exec"].get("binary"):
            outcome = runner.run(base64.b64decode(code), "__main__.py", "main", params, limit_s)
        else:
            outcome = runner.run({"action.py": code.encode()}, "action.py", "main", params, limit_s)
        if outcome.timed_out:
            return 502, {"error": f"The action exceeded its time limits of {int(limit_s * 1000)} milliseconds."}
        if not outcome.ok:
            return 502, {"error": outcome.error["traceback"] or outcome.error["message"]}
        if not isinstance(outcome.value, dict):
            return 502, {"error": "The action did not return a dictionary."}
        return 200, outcome.value


def _handler(world: OpenWhisk) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _action(self, path: str) -> re.Match[str] | None:
            """The action's path match once the caller is authorised; else answered (404/401)."""
            match = ACTION.match(path)
            if not match:
                self._reply(404, {"error": "The requested resource does not exist."})
            elif not world.valid(self.headers.get("Authorization")):
                self._reply(401, {"error": "The supplied authentication is invalid"})
            else:
                return match
            return None

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            raw = self._body()
            if url.path == "/identity/token":
                return self._reply(*world.iam.exchange(raw))
            match = self._action(url.path)
            if match is None:
                return
            action = world.actions.get((match["ns"], match["name"]))
            if action is None:
                return self._reply(404, {"error": "The requested resource does not exist."})
            world.invokes.append(match["name"])
            self._reply(*world.run(action, json.loads(raw or b"{}")))

        def do_PUT(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            match = self._action(url.path)
            if match is None:
                return
            key = (match["ns"], match["name"])
            overwrite = parse_qs(url.query).get("overwrite", ["false"]) == ["true"]
            with world.guard:
                if key in world.actions and not overwrite:
                    return self._reply(409, {"error": "resource already exists"})
                world.actions[key] = json.loads(self._body())
                world.deploys.append(match["name"])
            self._reply(200, {"name": match["name"], "namespace": match["ns"]})

        def do_GET(self) -> None:  # noqa: N802
            match = self._action(urlparse(self.path).path)
            if match is None:
                return
            action = world.actions.get((match["ns"], match["name"]))
            if action is None:
                return self._reply(404, {"error": "The requested resource does not exist."})
            self._reply(200, {"name": match["name"], "exec": {"kind": action["exec"]["kind"]}})

    return Handler


def env(url: str) -> dict[str, str]:
    """The provider variables that point ibm_cloud_functions at this emulator."""
    return {"IBM_CLOUD_FUNCTIONS_URL": url, "IBM_CLOUD_IAM_URL": url, "IBM_CLOUD_FUNCTIONS_NAMESPACE": "hal", "IBM_CLOUD_API_KEY": API_KEY}


def start() -> tuple[ThreadingHTTPServer, OpenWhisk, str]:
    world = OpenWhisk()
    server, url = serve(_handler(world), "openwhisk-offline", world=world)
    return server, world, url
