"""``ibm_cloud_functions``: Python on Apache OpenWhisk, the API IBM Cloud Functions ran on.

IBM shut Cloud Functions down (no new entities since December 2023, all
deleted after October 2024); its REST API lives on in OpenWhisk deployments,
and IBM's successor is Code Engine (``ibm_code_engine``). Requests go through
``ibm-cloud-sdk-core``'s ``BaseService`` with an ``IAMAuthenticator``, which
exchanges the API key for a bearer token and refreshes it before it expires.

Settings (environment): ``IBM_CLOUD_FUNCTIONS_URL`` (API host),
``IBM_CLOUD_FUNCTIONS_NAMESPACE``, ``IBM_CLOUD_API_KEY``, and optionally
``IBM_CLOUD_IAM_URL`` (the IAM token service; default IBM Cloud's).

Code mode creates an action (kind ``python:3``, a zip of the cell and the HAL's
handler) named by the hash of code and timeout; function mode invokes an
existing action with ``args`` as its parameters. Invocations are blocking.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any
from urllib.parse import quote

from ..engine.errors import ErrorType
from ..engine.models import CostEstimate, ErrorInfo
from . import serverless
from .prices import IBM_CLOUD_FUNCTIONS_PER_GB_S, IBM_CLOUD_FUNCTIONS_SOURCE
from ..engine.contract import Availability, JobSpec, Report

KIND = "python:3"
ENV = ("IBM_CLOUD_FUNCTIONS_URL", "IBM_CLOUD_FUNCTIONS_NAMESPACE", "IBM_CLOUD_API_KEY")
MAIN = '''\
from hal_handler import handler


def main(params):
    return handler(params)
'''
THROTTLE_RETRIES = 5


class IbmCloudFunctionsProvider(serverless.InvokingProvider):
    name = "ibm_cloud_functions"
    description = "IBM Cloud Functions API (Apache OpenWhisk actions, IBM IAM): code deployed by hash, or an action by name"
    runtime = KIND
    max_timeout_s = 600
    running_message = "invoking an OpenWhisk action"

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._service: Any = None
        self._deployed: set[str] = set()

    def availability(self) -> Availability:
        try:
            import ibm_cloud_sdk_core  # noqa: F401
        except ImportError:
            return Availability(False, "ibm-cloud-sdk-core is not installed: pip install 'hal-jupyter[ibm]'")
        missing = [name for name in ENV if not os.environ.get(name)]
        if missing:
            return Availability(False, f"set {', '.join(missing)}")
        return Availability(True)

    def _api(self) -> Any:
        if self._service is None:
            from ibm_cloud_sdk_core import BaseService
            from ibm_cloud_sdk_core.authenticators import IAMAuthenticator

            iam_url = os.environ.get("IBM_CLOUD_IAM_URL") or None
            authenticator = IAMAuthenticator(os.environ["IBM_CLOUD_API_KEY"], url=iam_url)
            self._service = BaseService(service_url=os.environ["IBM_CLOUD_FUNCTIONS_URL"], authenticator=authenticator)
        return self._service

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> tuple[int, Any]:
        """One API call; throttling (429) is retried with backoff, other errors are returned."""
        from ibm_cloud_sdk_core import ApiException

        namespace = quote(os.environ["IBM_CLOUD_FUNCTIONS_NAMESPACE"], safe="")
        url = f"/api/v1/namespaces/{namespace}/{path}"
        service = self._api()
        for attempt in range(THROTTLE_RETRIES + 1):
            request = service.prepare_request(method, url, params=params, data=None if body is None else json.dumps(body), headers={"Content-Type": "application/json"})
            try:
                response = service.send(request)
                return response.get_status_code(), response.get_result()
            except ApiException as exc:
                if exc.code == 429 and attempt < THROTTLE_RETRIES:
                    time.sleep(min(8.0, 0.25 * 2**attempt))
                    continue
                body = exc.http_response.json() if exc.http_response is not None and exc.http_response.content else {"error": exc.message}
                return exc.code, body
        raise AssertionError("unreachable")

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        # 256 MB actions; self-hosted OpenWhisk costs what its host costs
        seconds = float(job.payload.get("timeout_s") or 60)
        amount = IBM_CLOUD_FUNCTIONS_PER_GB_S * 0.25 * seconds
        return CostEstimate(currency="USD", amount=round(amount, 8), basis=f"at most: 256 MB x timeout at {IBM_CLOUD_FUNCTIONS_SOURCE}")

    # -- invoking -------------------------------------------------------------
    def invoke_code(self, code: str, timeout_s: int, jobs: list[JobSpec]) -> dict[str, Report]:
        name = self._deploy(code, timeout_s)
        status, body = self._call("POST", f"actions/{name}", params={"blocking": "true", "result": "true"}, body=serverless.event_for(jobs))
        if status == 200 and isinstance(body, dict) and "results" in body:
            return serverless.reports_from(body["results"])
        return serverless.failed_all(jobs, _action_error(status, body))

    def invoke_function(self, job: JobSpec) -> dict[str, Report]:
        name = quote(job.payload["function"], safe="/")
        status, body = self._call("POST", f"actions/{name}", params={"blocking": "true", "result": "true"}, body=job.payload.get("args") or {})
        if status == 200:
            return serverless.completed(job, body)
        return serverless.failed_all([job], _action_error(status, body))

    def _deploy(self, code: str, timeout: int) -> str:
        name = self.deployment_name(code, timeout)
        if name in self._deployed:
            return name
        status, _ = self._call("GET", f"actions/{name}")
        if status == 404:
            archive = serverless.package(code, main=MAIN)
            action = {
                "exec": {"kind": KIND, "code": base64.b64encode(archive).decode(), "binary": True},
                "limits": {"timeout": timeout * 1000, "memory": 256},
                "annotations": [{"key": "description", "value": "hal_jupyter code-mode action (named by the hash of its code)"}],
            }
            status, body = self._call("PUT", f"actions/{name}", params={"overwrite": "false"}, body=action)
            if status not in (200, 409):  # 409: created meanwhile by another call, same code
                raise RuntimeError(f"creating the action failed ({status}): {_error_text(body)}")
        elif status != 200:
            raise RuntimeError(f"reading the action failed ({status})")
        self._deployed.add(name)
        return name


def _error_text(body: Any) -> str:
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


def _action_error(status: int, body: Any) -> ErrorInfo:
    message = _error_text(body)
    if "exceeded its time limits" in message:
        return ErrorInfo(type=ErrorType.TIMEOUT, message=message)
    if status == 404:
        return ErrorInfo(type=ErrorType.NOT_FOUND, message=message)
    return ErrorInfo(type=ErrorType.FUNCTION_ERROR, message=f"HTTP {status}: {message}")
