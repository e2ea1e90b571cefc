"""``aws_lambda``: Python on AWS Lambda through boto3.

Code mode deploys the cell (with the HAL's handler) as a function named by a
hash of the code and timeout, once; function mode invokes a deployed function
with ``args`` as its event. Credentials and region come from boto3's standard
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or a profile,
``AWS_REGION``); ``AWS_ENDPOINT_URL`` points it at another endpoint; code mode
needs an execution role, ``HAL_AWS_LAMBDA_ROLE``.

Invocations are synchronous (``RequestResponse``), see
:class:`~.serverless.InvokingProvider`.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from ..engine.errors import ProviderUnavailable
from ..engine.errors import ErrorType
from ..engine.models import CostEstimate, ErrorInfo
from . import serverless
from .prices import AWS_LAMBDA_PER_GB_S, AWS_LAMBDA_PER_REQUEST, AWS_LAMBDA_SOURCE
from ..engine.contract import Availability, JobSpec, Report, code_error

RUNTIME = "python3.11"
MEMORY_MB = 512


class AwsLambdaProvider(serverless.InvokingProvider):
    name = "aws_lambda"
    description = "AWS Lambda (boto3): code deployed by hash, or a deployed function by name"
    runtime = RUNTIME
    max_timeout_s = 900
    running_message = "invoking on AWS Lambda"

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._deployed: set[str] = set()

    def availability(self) -> Availability:
        try:
            import boto3
        except ImportError:
            return Availability(False, "boto3 is not installed: pip install 'hal-jupyter[aws]'")
        session = boto3.Session()
        if session.get_credentials() is None:
            return Availability(False, "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
        if not _region(session):
            return Availability(False, "no AWS region: set AWS_REGION")
        return Availability(True)

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        # "standard" retries throttling (TooManyRequestsException) with backoff and
        # jitter; a throttled invoke did not run, so retrying it cannot run it twice.
        config = Config(retries={"mode": "standard", "max_attempts": 6}, read_timeout=960, connect_timeout=10)
        return boto3.client("lambda", config=config, region_name=_region(boto3.Session()))

    def validate(self, job: JobSpec) -> None:
        super().validate(job)
        if job.payload.get("code") is not None and not os.environ.get("HAL_AWS_LAMBDA_ROLE"):
            raise ProviderUnavailable("code mode on aws_lambda needs an execution role: set HAL_AWS_LAMBDA_ROLE to its ARN")

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        seconds = float(job.payload.get("timeout_s") or 60)
        worst = AWS_LAMBDA_PER_REQUEST + AWS_LAMBDA_PER_GB_S * (MEMORY_MB / 1024) * seconds
        return CostEstimate(currency="USD", amount=round(worst, 8), basis=f"at most: 1 request + {MEMORY_MB} MB x {seconds:g} s ({AWS_LAMBDA_SOURCE})")

    # -- invoking -------------------------------------------------------------
    def invoke_code(self, code: str, timeout_s: int, jobs: list[JobSpec]) -> dict[str, Report]:
        client = self._client()
        name = self._deploy(client, code, timeout_s)
        response = client.invoke(FunctionName=name, Payload=json.dumps(serverless.event_for(jobs)).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return serverless.failed_all(jobs, _function_error(payload))
        return serverless.reports_from(payload["results"])

    def invoke_function(self, job: JobSpec) -> dict[str, Report]:
        response = self._client().invoke(
            FunctionName=job.payload["function"], Payload=json.dumps(job.payload.get("args") or {}).encode(), LogType="Tail"
        )
        payload = json.loads(response["Payload"].read() or b"null")
        logs = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
        if response.get("FunctionError"):
            return serverless.failed_all([job], _function_error(payload))
        return serverless.completed(job, payload, logs)

    def _deploy(self, client: Any, code: str, timeout: int) -> str:
        """The function for this code and timeout, created if it does not exist yet."""
        name = self.deployment_name(code, timeout)
        if name in self._deployed:
            return name
        try:
            client.get_function(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            client.create_function(
                FunctionName=name,
                Runtime=RUNTIME,
                Role=os.environ["HAL_AWS_LAMBDA_ROLE"],
                Handler=f"{serverless.HANDLER_MODULE}.handler",
                Code={"ZipFile": serverless.package(code)},
                Timeout=timeout,
                MemorySize=MEMORY_MB,
                Description="hal_jupyter code-mode function (named by the hash of its code)",
            )
            client.get_waiter("function_active_v2").wait(FunctionName=name)
        self._deployed.add(name)
        return name


def _region(session: Any) -> str | None:
    """boto3's region, or ``AWS_REGION`` (which older botocore releases ignore)."""
    return session.region_name or os.environ.get("AWS_REGION") or None


def _function_error(payload: Any) -> ErrorInfo:
    """Lambda's FunctionError: a timeout, the deployed function's own exception, or the platform's failure."""
    payload = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
    message = str(payload.get("errorMessage", "the function failed"))
    if "Task timed out" in message:
        return ErrorInfo(type=ErrorType.TIMEOUT, message=message)
    if payload.get("errorType"):
        return code_error(str(payload["errorType"]), message)
    return ErrorInfo(type=ErrorType.FUNCTION_ERROR, message=message)
