"""The misconfigurations people make never answer 500.

With a missing AWS profile, a garbled Azure connection string, a wrong IBM
channel, URLs that are no URLs or variables set empty, the provider listing
still answers 200 with every provider (a broken one unavailable, with the
reason), and a job for any provider is a 4xx/503 with a message, or a job
that ends FAILED (or UNKNOWN) with one. The embedded providers keep working.

No variable here names a host outside this machine: the SDKs refuse these
values before they would reach any network.
"""

from __future__ import annotations

import pytest

from .conftest import BELL_QASM2

PROVIDERS = {
    "local_simulator", "local_python", "ibm_quantum", "aws_braket", "azure_quantum",
    "aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine",
}
NO_URL = "this is no url"
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAHALMISCONFIG01", "AWS_SECRET_ACCESS_KEY": "hal-misconfig-secret-0001", "AWS_REGION": "us-east-1"}
IBM_CLOUD = {"IBM_CLOUD_API_KEY": "hal-misconfig-apikey-0001", "IBM_CLOUD_IAM_URL": NO_URL}
MISCONFIGURATIONS = {
    "aws profile that does not exist": {"AWS_PROFILE": "hal-no-such-profile"},
    "aws profile set empty": {"AWS_PROFILE": ""},
    "aws endpoints that are no urls": {
        **AWS_KEYS, "AWS_ENDPOINT_URL": NO_URL, "BRAKET_ENDPOINT": NO_URL,
        "AMZN_BRAKET_OUT_S3_BUCKET": "hal-bucket", "HAL_AWS_LAMBDA_ROLE": "arn:aws:iam::123456789012:role/hal",
    },
    "azure connection string garbled": {"AZURE_QUANTUM_CONNECTION_STRING": "SubscriptionId=;garbled;;=="},
    "azure workspace half set": {"AZURE_QUANTUM_SUBSCRIPTION_ID": "not-a-guid", "AZURE_QUANTUM_WORKSPACE_NAME": "ws"},
    "ibm channel that does not exist": {"QISKIT_IBM_CHANNEL": "nonsense", "QISKIT_IBM_TOKEN": "hal-misconfig-token-0001"},
    "ibm channel shut down in 2025": {"QISKIT_IBM_CHANNEL": "ibm_quantum", "QISKIT_IBM_TOKEN": "hal-misconfig-token-0002"},
    "classical urls that are no urls": {
        **IBM_CLOUD, "IBM_CLOUD_FUNCTIONS_URL": NO_URL, "IBM_CLOUD_FUNCTIONS_NAMESPACE": "ns",
        "IBM_CODE_ENGINE_URL": NO_URL, "IBM_CODE_ENGINE_PROJECT_ID": "project",
        "AZURE_FUNCTIONS_URL": NO_URL, "AZURE_FUNCTIONS_KEY": "hal-misconfig-fnkey-0001", "AZURE_FUNCTIONS_RUNNER": "hal-runner",
    },
    "every variable set empty": {
        name: ""
        for name in (
            "AWS_PROFILE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "BRAKET_ENDPOINT",
            "AMZN_BRAKET_OUT_S3_BUCKET", "HAL_AWS_LAMBDA_ROLE", "AZURE_QUANTUM_CONNECTION_STRING",
            "AZURE_QUANTUM_SUBSCRIPTION_ID", "AZURE_QUANTUM_WORKSPACE_RG", "AZURE_QUANTUM_WORKSPACE_NAME",
            "AZURE_QUANTUM_WORKSPACE_LOCATION", "QISKIT_IBM_CHANNEL", "QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE",
            "IBM_CLOUD_API_KEY", "IBM_CLOUD_IAM_URL", "IBM_CLOUD_FUNCTIONS_URL", "IBM_CLOUD_FUNCTIONS_NAMESPACE",
            "IBM_CODE_ENGINE_URL", "IBM_CODE_ENGINE_PROJECT_ID", "IBM_CODE_ENGINE_REGION",
            "AZURE_FUNCTIONS_URL", "AZURE_FUNCTIONS_KEY", "AZURE_FUNCTIONS_RUNNER",
        )
    },
}
CLASSICAL = {"code": "def main(x):\n    return x + 1\n", "args": {"x": 1}}


@pytest.fixture(params=list(MISCONFIGURATIONS))
def misconfiguration(request, monkeypatch):
    for name, value in MISCONFIGURATIONS[request.param].items():
        monkeypatch.setenv(name, value)
    return request.param


@pytest.fixture
def jp_server_config(misconfiguration, jp_server_config, hal_config):
    # the variables are set before the server starts; failures are not retried for long
    hal_config.update(submit_attempts=2, retry_base_s=0.05, retry_max_s=0.1, provider_timeout_s=5.0)
    jp_server_config["HalExtension"].update(hal_config)
    return jp_server_config


def _error(status, body, where):
    assert status != 500 and status < 600, (where, status, body)
    assert isinstance(body, dict) and body.get("type") and body.get("message"), (where, body)
    assert "Traceback" not in body["message"], (where, body)


async def test_a_misconfiguration_is_never_a_500(api, misconfiguration):
    status, body = await api.get("providers")
    assert status == 200, body
    listed = {p["name"]: p for p in body["providers"]}
    assert set(listed) == PROVIDERS, body
    for info in listed.values():
        assert info["available"] or info["reason"], info
    assert listed["local_simulator"]["available"] and listed["local_python"]["available"]

    for name, info in listed.items():
        status, body = await api.get(f"providers/{name}/backends")
        if status != 200:
            _error(status, body, f"backends of {name}")
            assert status in (404, 503), (name, status, body)

        request = {"circuit": BELL_QASM2, "shots": 100} if info["kind"] == "quantum" else dict(CLASSICAL)
        status, body = await api.post(f"{info['kind']}/jobs", {**request, "provider": name, "priority": "high"})
        if status != 201:
            _error(status, body, f"job for {name}")
            assert status in (400, 404, 503), (name, status, body)
            continue
        final = await api.wait(body["id"], timeout=60)
        if name in ("local_simulator", "local_python"):
            assert final["status"] == "COMPLETED", final
        elif final["status"] in ("FAILED", "UNKNOWN"):
            assert final["error"] and final["error"]["message"], final
        for secret in ("hal-misconfig-secret", "hal-misconfig-apikey", "hal-misconfig-token", "hal-misconfig-fnkey"):
            assert secret not in str(final), final

    status, body = await api.get("jobs")
    assert status == 200, body
