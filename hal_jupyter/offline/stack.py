"""Every cloud emulator at once, for offline demos and the provider notebooks
(Qiskit Runtime's local mode stands in for IBM Quantum).

``start_all()`` starts them on 127.0.0.1 (in this process, on daemon threads)
and returns the environment variables that point the HAL's providers at them,
exactly the variables a real account would set. ``python -m tests.emulators``
runs them until stopped and prints (or writes to a ``.env`` file) the same.
"""

from __future__ import annotations

import logging
from typing import Any

from . import aws_lambda, azure_functions, azure_quantum, braket, code_engine, credentials, openwhisk

BRAKET_BUCKET = "amazon-braket-hal-offline"
_started: dict[str, str] | None = None
_servers: list[Any] = []
#: the emulators' state (what they were asked to create, cancel, ...), by provider name
worlds: dict[str, Any] = {}


def start_all() -> dict[str, str]:
    """Start the emulators (once per process); the provider variables that reach them."""
    global _started
    if _started is not None:
        return dict(_started)
    env: dict[str, str] = {}
    # Qiskit's first import must not happen on a thread that exits (PROVIDERS.md): the
    # emulators simulate on short-lived threads, so import it here, on the caller's thread.
    import qiskit.qasm2  # noqa: F401
    import qiskit_aer  # noqa: F401

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request

    server, url = aws_lambda.start()
    _servers.append(server)
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID=credentials.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=credentials.AWS_SECRET_ACCESS_KEY, AWS_REGION="us-east-1")
    env["HAL_AWS_LAMBDA_ROLE"] = _lambda_role(url)

    server, host, url = azure_functions.start()
    _servers.append(server)
    azure_functions.deploy_runner(host)
    env.update(azure_functions.env(url))

    server, whisk, url = openwhisk.start()
    _servers.append(server)
    env.update(openwhisk.env(url))

    server, engine, url = code_engine.start()
    _servers.append(server)
    engine.iam = whisk.iam  # one IBM Cloud IAM for both IBM services
    env.update({k: v for k, v in code_engine.env(url).items() if k != "IBM_CLOUD_IAM_URL"})  # IAM: the one above

    import boto3

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1", aws_access_key_id=credentials.AWS_ACCESS_KEY_ID, aws_secret_access_key=credentials.AWS_SECRET_ACCESS_KEY)
    s3.create_bucket(Bucket=BRAKET_BUCKET)
    server, worlds["aws_braket"], url = braket.start(env["AWS_ENDPOINT_URL"])
    _servers.append(server)
    env.update(BRAKET_ENDPOINT=url, AMZN_BRAKET_OUT_S3_BUCKET=BRAKET_BUCKET)

    server, worlds["azure_quantum"], url = azure_quantum.start()
    _servers.append(server)
    env.update(azure_quantum.env(url))
    env["QISKIT_IBM_CHANNEL"] = "local"  # Qiskit Runtime's local mode: the fake backends

    _started = env
    return dict(env)


def _lambda_role(endpoint: str) -> str:
    import boto3

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=credentials.AWS_ACCESS_KEY_ID, aws_secret_access_key=credentials.AWS_SECRET_ACCESS_KEY)
    try:
        return iam.create_role(RoleName="hal-lambda-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:  # moto's state is per process: another test made it
        return iam.get_role(RoleName="hal-lambda-role")["Role"]["Arn"]
