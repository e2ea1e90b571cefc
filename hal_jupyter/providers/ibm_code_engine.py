"""``ibm_code_engine``: Python functions on IBM Code Engine (the successor of IBM
Cloud Functions), managed through ``ibm-code-engine-sdk`` and invoked at their
HTTPS endpoint.

Settings (environment): ``IBM_CODE_ENGINE_PROJECT_ID``, ``IBM_CLOUD_API_KEY``,
and ``IBM_CODE_ENGINE_URL`` (the API, e.g. ``https://api.us-south.codeengine.cloud.ibm.com/v2``)
or ``IBM_CODE_ENGINE_REGION``; ``IBM_CLOUD_IAM_URL`` for another IAM.

Code mode creates a function from the cell (a zip with the HAL's handler,
passed inline as a data URL) named by the hash of code and timeout; function
mode invokes an existing function's endpoint with ``args`` as its parameters.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

from ..engine.errors import ErrorType
from ..engine.models import CostEstimate, ErrorInfo
from . import serverless
from .prices import IBM_CODE_ENGINE_PER_GB_S, IBM_CODE_ENGINE_PER_VCPU_S, IBM_CODE_ENGINE_SOURCE
from ..engine.contract import Availability, JobSpec, Report

RUNTIME = "python-3.11"
API_VERSION = "2025-01-10"
MAIN = '''\
from hal_handler import handler


def main(params):
    return {"headers": {"Content-Type": "application/json"}, "statusCode": 200, "body": handler(params)}
'''
READY_WAIT_S = 120


class IbmCodeEngineProvider(serverless.InvokingProvider):
    name = "ibm_code_engine"
    description = "IBM Code Engine functions (ibm-code-engine-sdk): code deployed by hash, or a function by name"
    runtime = RUNTIME
    max_timeout_s = 120
    running_message = "invoking a Code Engine function"

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._service: Any = None
        self._endpoints: dict[str, str] = {}

    def availability(self) -> Availability:
        try:
            import ibm_code_engine_sdk  # noqa: F401
        except ImportError:
            return Availability(False, "ibm-code-engine-sdk is not installed: pip install 'hal-jupyter[ibm]'")
        missing = [n for n in ("IBM_CODE_ENGINE_PROJECT_ID", "IBM_CLOUD_API_KEY") if not os.environ.get(n)]
        if not (os.environ.get("IBM_CODE_ENGINE_URL") or os.environ.get("IBM_CODE_ENGINE_REGION")):
            missing.append("IBM_CODE_ENGINE_REGION (or IBM_CODE_ENGINE_URL)")
        return Availability(False, f"set {', '.join(missing)}") if missing else Availability(True)

    def _api(self) -> Any:
        if self._service is None:
            from ibm_cloud_sdk_core.authenticators import IAMAuthenticator
            from ibm_code_engine_sdk.code_engine_v2 import CodeEngineV2

            authenticator = IAMAuthenticator(os.environ["IBM_CLOUD_API_KEY"], url=os.environ.get("IBM_CLOUD_IAM_URL") or None)
            service = CodeEngineV2(authenticator=authenticator, version=API_VERSION)
            url = os.environ.get("IBM_CODE_ENGINE_URL") or f"https://api.{os.environ['IBM_CODE_ENGINE_REGION']}.codeengine.cloud.ibm.com/v2"
            service.set_service_url(url)
            self._service = service
        return self._service

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        # functions run with 1 vCPU / 4 GB at most here
        seconds = float(job.payload.get("timeout_s") or 60)
        amount = (IBM_CODE_ENGINE_PER_VCPU_S * 1 + IBM_CODE_ENGINE_PER_GB_S * 4) * seconds
        return CostEstimate(currency="USD", amount=round(amount, 8), basis=f"at most: 1 vCPU + 4 GB x timeout ({IBM_CODE_ENGINE_SOURCE})")

    # -- invoking -------------------------------------------------------------
    def invoke_code(self, code: str, timeout_s: int, jobs: list[JobSpec]) -> dict[str, Report]:
        endpoint = self._deploy(code, timeout_s)
        status, body = serverless.post_json(endpoint, serverless.event_for(jobs), timeout_s)
        if status == 200 and isinstance(body, dict) and "results" in body:
            return serverless.reports_from(body["results"])
        return serverless.failed_all(jobs, serverless.invoke_error(status, body))

    def invoke_function(self, job: JobSpec) -> dict[str, Report]:
        endpoint = self._endpoint(job.payload["function"])
        if endpoint is None:
            return serverless.failed_all([job], ErrorInfo(type=ErrorType.NOT_FOUND, message=f"no Code Engine function named {job.payload['function']!r} in the project"))
        timeout = float(job.payload.get("timeout_s") or 60)
        status, body = serverless.post_json(endpoint, job.payload.get("args") or {}, timeout)
        if status == 200:
            return serverless.completed(job, body)
        return serverless.failed_all([job], serverless.invoke_error(status, body))

    def _endpoint(self, name: str) -> str | None:
        from ibm_cloud_sdk_core import ApiException

        if name in self._endpoints:
            return self._endpoints[name]
        try:
            function = self._api().get_function(os.environ["IBM_CODE_ENGINE_PROJECT_ID"], name).get_result()
        except ApiException as exc:
            if exc.code == 404:
                return None
            raise
        return self._ready(name, function)

    def _ready(self, name: str, function: dict[str, Any]) -> str:
        """Wait (bounded) until the function is ready; its endpoint."""
        deadline = time.monotonic() + READY_WAIT_S
        while function.get("status") != "ready":
            if function.get("status") == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"the function {name} is {function.get('status')}: {function.get('status_details')}")
            time.sleep(1.0)
            function = self._api().get_function(os.environ["IBM_CODE_ENGINE_PROJECT_ID"], name).get_result()
        self._endpoints[name] = function["endpoint"]
        return function["endpoint"]

    def _deploy(self, code: str, timeout: int) -> str:
        from ibm_cloud_sdk_core import ApiException

        name = self.deployment_name(code, timeout)
        endpoint = self._endpoint(name)
        if endpoint is not None:
            return endpoint
        bundle = base64.b64encode(serverless.package(code, main=MAIN)).decode()
        try:
            function = self._api().create_function(
                os.environ["IBM_CODE_ENGINE_PROJECT_ID"],
                f"data:application/zip;base64,{bundle}",
                name,
                RUNTIME,
                code_binary=True,
                code_main="main",
                scale_max_execution_time=timeout,
            ).get_result()
        except ApiException as exc:
            if exc.code != 409:  # 409: created meanwhile by another call, same code
                raise
            function = self._api().get_function(os.environ["IBM_CODE_ENGINE_PROJECT_ID"], name).get_result()
        return self._ready(name, function)


__all__ = ["IbmCodeEngineProvider"]
