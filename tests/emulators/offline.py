"""Every cloud emulator at once, for offline demos and the provider notebooks.

``start_all()`` starts them on 127.0.0.1 (in this process, on daemon threads)
and returns the environment variables that point the HAL's providers at them,
exactly the variables a real account would set. ``python -m tests.emulators``
runs them until stopped and prints (or writes to a ``.env`` file) the same.
"""

from __future__ import annotations

import logging
from typing import Any

from . import aws_lambda, azure_functions, code_engine, openwhisk
from .iam import API_KEY

_started: dict[str, str] | None = None
_servers: list[Any] = []


def start_all() -> dict[str, str]:
    """Start the emulators (once per process); the provider variables that reach them."""
    global _started
    if _started is not None:
        return dict(_started)
    env: dict[str, str] = {}
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request

    server, url = aws_lambda.start()
    _servers.append(server)
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1")
    env["HAL_AWS_LAMBDA_ROLE"] = _lambda_role(url)

    server, host, url = azure_functions.start()
    _servers.append(server)
    azure_functions.deploy_runner(host)
    env.update(AZURE_FUNCTIONS_URL=url, AZURE_FUNCTIONS_KEY=azure_functions.KEY, AZURE_FUNCTIONS_RUNNER="hal-runner")

    server, whisk, url = openwhisk.start()
    _servers.append(server)
    env.update(IBM_CLOUD_FUNCTIONS_URL=url, IBM_CLOUD_FUNCTIONS_NAMESPACE="hal", IBM_CLOUD_IAM_URL=url, IBM_CLOUD_API_KEY=API_KEY)

    server, engine, url = code_engine.start()
    _servers.append(server)
    engine.iam = whisk.iam  # one IBM Cloud IAM for both IBM services
    env.update(IBM_CODE_ENGINE_URL=f"{url}/v2", IBM_CODE_ENGINE_PROJECT_ID=code_engine.PROJECT)

    _started = env
    return dict(env)


def _lambda_role(endpoint: str) -> str:
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return iam.create_role(RoleName="hal-lambda-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
