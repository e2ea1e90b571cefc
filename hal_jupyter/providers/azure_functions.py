"""``azure_functions``: Python on Azure Functions through HTTP triggers.

Settings (environment, never the request): ``AZURE_FUNCTIONS_URL`` (the app,
``https://<app>.azurewebsites.net``) and ``AZURE_FUNCTIONS_KEY`` (a function or
host key, sent as ``x-functions-key``).

Function mode calls ``POST /api/<function>`` (the function's route) with
``args`` as the JSON body; the JSON answer (or its text) is the value.

Azure Functions cannot take code through its HTTP API. Code mode therefore
needs the HAL runner (:mod:`hal_jupyter.providers.azure_functions_runner`),
deployed once to the app: ``python -m hal_jupyter.providers.azure_functions
write-runner DIR`` writes it, ``func azure functionapp publish <app>`` from DIR
publishes it, and ``AZURE_FUNCTIONS_RUNNER=hal-runner`` turns code mode on.
Without it a code-mode job is a 400 that says so. The code travels with each
invocation, so nothing is deployed per cell; a batch of standard jobs with the
same code is one invocation.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..engine.errors import InvalidRequest
from ..engine.errors import ErrorType
from ..engine.models import CostEstimate, ErrorInfo
from . import serverless
from .prices import AZURE_FUNCTIONS_PER_EXECUTION, AZURE_FUNCTIONS_PER_GB_S, AZURE_FUNCTIONS_SOURCE
from ..engine.contract import Availability, JobSpec, Report

RUNNER_APP = Path(__file__).with_name("azure_functions_runner")
RUNTIME = "python-3.11"
MEMORY_GB = 1.5


class AzureFunctionsProvider(serverless.InvokingProvider):
    name = "azure_functions"
    description = "Azure Functions (HTTP triggers): a function by route, or code through the HAL runner"
    runtime = RUNTIME
    # an HTTP-triggered function must answer within 230 s (Azure's load balancer)
    max_timeout_s = 230
    running_message = "invoking on Azure Functions"

    def availability(self) -> Availability:
        missing = [n for n in ("AZURE_FUNCTIONS_URL", "AZURE_FUNCTIONS_KEY") if not os.environ.get(n)]
        if missing:
            return Availability(False, f"set {' and '.join(missing)} (the function app and a function key)")
        return Availability(True)

    def validate(self, job: JobSpec) -> None:
        super().validate(job)
        if not job.payload.get("function") and not os.environ.get("AZURE_FUNCTIONS_RUNNER"):
            raise InvalidRequest(
                "azure_functions can't take code through its API: deploy the HAL runner to the function app "
                "(python -m hal_jupyter.providers.azure_functions write-runner DIR) and set AZURE_FUNCTIONS_RUNNER, "
                "or call a deployed function with 'function'"
            )

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        seconds = float(job.payload.get("timeout_s") or 60)
        amount = AZURE_FUNCTIONS_PER_EXECUTION + AZURE_FUNCTIONS_PER_GB_S * MEMORY_GB * seconds
        return CostEstimate(currency="USD", amount=round(amount, 8), basis=f"at most: 1 execution + {MEMORY_GB:g} GB x timeout ({AZURE_FUNCTIONS_SOURCE})")

    def _url(self, route: str) -> str:
        return f"{os.environ['AZURE_FUNCTIONS_URL'].rstrip('/')}/api/{route.strip('/')}"

    def _headers(self) -> dict[str, str]:
        return {"x-functions-key": os.environ["AZURE_FUNCTIONS_KEY"]}

    def invoke_code(self, code: str, timeout_s: int, jobs: list[JobSpec]) -> dict[str, Report]:
        request = {"code": code, "timeout_s": timeout_s, **serverless.event_for(jobs)}
        status, body = serverless.post_json(self._url(os.environ["AZURE_FUNCTIONS_RUNNER"]), request, timeout_s, self._headers())
        if status == 200 and isinstance(body, dict) and "results" in body:
            return serverless.reports_from(body["results"])
        if status == 404:
            return serverless.failed_all(jobs, ErrorInfo(type=ErrorType.NOT_FOUND, message=f"the function app has no HAL runner at route {os.environ['AZURE_FUNCTIONS_RUNNER']!r}"))
        return serverless.failed_all(jobs, serverless.invoke_error(status, body))

    def invoke_function(self, job: JobSpec) -> dict[str, Report]:
        timeout = float(job.payload.get("timeout_s") or 60)
        name = job.payload["function"]
        status, body = serverless.post_json(self._url(name), job.payload.get("args") or {}, timeout, self._headers())
        if 200 <= status < 300:
            return serverless.completed(job, body)
        if status == 404:
            return serverless.failed_all([job], ErrorInfo(type=ErrorType.NOT_FOUND, message=f"the function app has no function at route {name!r}"))
        return serverless.failed_all([job], serverless.invoke_error(status, body))


def write_runner(folder: str | Path) -> Path:
    """Write the HAL runner app (function_app.py, hal_handler.py, host.json,
    requirements.txt) to ``folder``, ready for ``func azure functionapp publish``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("function_app.py", "host.json", "requirements.txt"):
        shutil.copyfile(RUNNER_APP / name, target / name)
    (target / f"{serverless.HANDLER_MODULE}.py").write_text(serverless.HANDLER_SOURCE)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "write-runner":
        print("usage: python -m hal_jupyter.providers.azure_functions write-runner DIR", file=sys.stderr)
        return 2
    print(f"the HAL runner app is in {write_runner(argv[1])}: publish it with `func azure functionapp publish <app>`, "
          "then set AZURE_FUNCTIONS_RUNNER=hal-runner")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

__all__ = ["AzureFunctionsProvider", "write_runner"]
