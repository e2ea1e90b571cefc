"""Every cloud stand-in at once: :class:`OfflineClouds`.

``OfflineClouds(only, faults).start()`` starts the stand-ins on 127.0.0.1 (in
this process, on daemon threads) and gathers the environment variables that
point the HAL's providers at them, exactly the variables a real account sets.
``hal-jupyter offline`` (:mod:`.cli`) runs them until stopped; :func:`start_all`
starts them once per process for a kernel or a test; :func:`connect` finds the
ones ``hal-jupyter offline`` runs, else starts them here.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .http import STATS_PATH

#: the providers that have a stand-in, in the order they start
PROVIDERS = ("aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine", "aws_braket", "azure_quantum", "ibm_quantum")
BRAKET_BUCKET = "amazon-braket-hal-offline"
#: the packages each stand-in needs (all in hal-jupyter[offline])
NEEDS = {
    "aws_lambda": ("moto", "boto3"), "aws_braket": ("moto", "boto3", "braket"), "azure_functions": ("azure.functions",),
    "ibm_cloud_functions": ("jwt",), "ibm_code_engine": ("jwt",), "azure_quantum": ("azure.quantum",), "ibm_quantum": ("qiskit_ibm_runtime",),
}
#: the variable listing the running stand-ins (``name=url,...``) in the env file
URLS_VARIABLE = "HAL_OFFLINE_URLS"


@dataclass
class StandIn:
    """One running stand-in: the provider it serves, its state and its base URL."""

    provider: str
    service: str
    url: str
    world: Any
    server: Any

    def stop(self) -> None:
        if hasattr(self.server, "server_close"):  # an http.server
            self.server.shutdown()
            self.server.server_close()
        else:  # moto's threaded server
            self.server.stop()


@dataclass
class OfflineClouds:
    """The stand-ins of ``only`` these providers (default: all), faulty at ``faults``
    (a share of requests: throttling, 503, lost answers, slow answers)."""

    only: tuple[str, ...] = PROVIDERS
    faults: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    stand_ins: dict[str, StandIn] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.only) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"no stand-in for {', '.join(unknown)}; there are: {', '.join(PROVIDERS)}")
        if not 0.0 <= self.faults <= 1.0:
            raise ValueError(f"the fault rate is a share of requests, from 0 to 1, not {self.faults}")
        missing = sorted({package for name in self.only for package in NEEDS[name] if not _installed(package)})
        if missing:
            raise ValueError(f"the stand-ins need {', '.join(missing)}: pip install 'hal-jupyter[offline]'")

    def start(self) -> OfflineClouds:
        # Qiskit's first import must not happen on a thread that exits (docs/PROVIDERS.md): the
        # stand-ins simulate on short-lived threads, so import it here, on the caller's thread.
        import qiskit.qasm2  # noqa: F401
        import qiskit_aer  # noqa: F401

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
        wanted = set(self.only)
        try:
            if wanted & {"aws_lambda", "aws_braket"}:
                self._start_aws(wanted)
            if "azure_functions" in wanted:
                from . import azure_functions

                server, host, url = azure_functions.start()
                azure_functions.deploy_runner(host)
                self._add("azure_functions", server, host, url, azure_functions.env(url))
            iam = None
            if "ibm_cloud_functions" in wanted:
                from . import openwhisk

                server, whisk, url = openwhisk.start()
                iam = whisk.iam
                self._add("ibm_cloud_functions", server, whisk, url, openwhisk.env(url))
            if "ibm_code_engine" in wanted:
                from . import code_engine

                server, engine, url = code_engine.start()
                variables = code_engine.env(url)
                if iam is not None:  # one IBM Cloud IAM for both IBM serverless services: the one above
                    engine.iam = iam
                    variables = {k: v for k, v in variables.items() if k != "IBM_CLOUD_IAM_URL"}
                self._add("ibm_code_engine", server, engine, url, variables)
            if "azure_quantum" in wanted:
                from . import azure_quantum

                server, world, url = azure_quantum.start()
                self._add("azure_quantum", server, world, url, azure_quantum.env(url))
            if "ibm_quantum" in wanted:
                from . import ibm_quantum

                server, world, url = ibm_quantum.start()
                self._add("ibm_quantum", server, world, url, ibm_quantum.env(url))
        except BaseException:
            self.stop()
            raise
        for stand_in in self.stand_ins.values():
            stand_in.world.faults.set(self.faults)
        self.env[URLS_VARIABLE] = ",".join(f"{name}={s.url}" for name, s in self.stand_ins.items())
        return self

    def _start_aws(self, wanted: set[str]) -> None:
        """moto (Lambda, IAM, and the S3 Braket writes results to), then Braket's API."""
        import boto3

        from . import aws_lambda, braket, credentials

        server, world, url = aws_lambda.start()
        aws_env = aws_lambda.env(url)
        self._add("aws_lambda", server, world, url, aws_env)
        if "aws_lambda" in wanted:
            self.env["HAL_AWS_LAMBDA_ROLE"] = _lambda_role(url)
        if "aws_braket" in wanted:
            keys = {"aws_access_key_id": credentials.AWS_ACCESS_KEY_ID, "aws_secret_access_key": credentials.AWS_SECRET_ACCESS_KEY}
            s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **keys)
            try:
                s3.create_bucket(Bucket=BRAKET_BUCKET)
            except s3.exceptions.BucketAlreadyOwnedByYou:  # moto's state is per process
                pass
            server, world, braket_url = braket.start(url)
            self._add("aws_braket", server, world, braket_url, {"BRAKET_ENDPOINT": braket_url, "AMZN_BRAKET_OUT_S3_BUCKET": BRAKET_BUCKET})

    def _add(self, provider: str, server: Any, world: Any, url: str, variables: dict[str, str]) -> None:
        self.stand_ins[provider] = StandIn(provider, world.service, url, world, server)
        self.env.update(variables)

    @property
    def worlds(self) -> dict[str, Any]:
        """Each stand-in's state (what it was asked to create, cancel, ...), by provider."""
        return {name: s.world for name, s in self.stand_ins.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: s.world.stats() for name, s in self.stand_ins.items()}

    def stop(self) -> None:
        for stand_in in reversed(list(self.stand_ins.values())):
            try:
                stand_in.stop()
            except Exception:  # noqa: BLE001 - stop the others regardless
                logging.getLogger(__name__).exception("stopping the %s stand-in", stand_in.provider)
        self.stand_ins.clear()


def _installed(package: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _lambda_role(endpoint: str) -> str:
    import boto3

    from . import credentials

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=credentials.AWS_ACCESS_KEY_ID, aws_secret_access_key=credentials.AWS_SECRET_ACCESS_KEY)
    try:
        return iam.create_role(RoleName="hal-lambda-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:  # moto's state is per process: another test made it
        return iam.get_role(RoleName="hal-lambda-role")["Role"]["Arn"]


_clouds: OfflineClouds | None = None
#: the in-process stand-ins' state, by provider (filled by :func:`start_all`)
worlds: dict[str, Any] = {}


def start_all(only: tuple[str, ...] | None = None) -> dict[str, str]:
    """Start the stand-ins (every one, or ``only`` these) in this process, once each;
    the provider variables that reach them."""
    global _clouds
    wanted = tuple(only or PROVIDERS)
    if _clouds is None:
        _clouds = OfflineClouds(only=wanted).start()
        worlds.update(_clouds.worlds)
        return dict(_clouds.env)
    missing = tuple(name for name in wanted if name not in _clouds.stand_ins)
    if missing:  # asked for more than this process runs: start those too, beside the others
        more = OfflineClouds(only=missing).start()
        _clouds.stand_ins.update(more.stand_ins)
        _clouds.env.update({k: v for k, v in more.env.items() if k != URLS_VARIABLE})
        _clouds.env[URLS_VARIABLE] = ",".join(f"{name}={s.url}" for name, s in _clouds.stand_ins.items())
        worlds.update(more.worlds)
    return dict(_clouds.env)


def connect(env_file: str | None = None, only: tuple[str, ...] | None = None) -> dict[str, str]:
    """The provider variables of the stand-ins that ``hal-jupyter offline`` runs,
    found through the env file it wrote (``env_file``, else ``$HAL_OFFLINE_ENV_FILE``,
    else ``.env`` in this folder or the nearest parent that has one) when every one
    of them answers; else those of stand-ins started in this process (:func:`start_all`:
    every one, or ``only`` the providers a notebook uses)."""
    from dotenv import dotenv_values, find_dotenv

    path = env_file or os.environ.get("HAL_OFFLINE_ENV_FILE") or find_dotenv(usecwd=True)
    values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path and os.path.exists(path) else {}
    urls = [entry.partition("=")[2] for entry in values.get(URLS_VARIABLE, "").split(",") if entry]
    if urls and all(_answers(url) for url in urls):
        return values
    return start_all(only)


def stats(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Each running stand-in's counters (``GET /__offline__/stats``), by provider:
    those ``env`` lists (as :func:`connect` returns it), else this process's."""
    listing = (env or {}).get(URLS_VARIABLE) or (_clouds.env[URLS_VARIABLE] if _clouds else "")
    out = {}
    for entry in filter(None, listing.split(",")):
        name, _, url = entry.partition("=")
        out[name] = _get_json(url + STATS_PATH)
    return out


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1, our own stand-in
        return json.loads(response.read())


def _answers(url: str) -> bool:
    try:
        _get_json(url + STATS_PATH)
        return True
    except (OSError, ValueError):
        return False
