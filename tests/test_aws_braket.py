"""aws_braket through amazon-braket-sdk: the LocalSimulator devices, and devices by
ARN through the real AwsDevice / AwsQuantumTask against a local Braket API with
results in moto's S3."""

from __future__ import annotations

import pytest

pytest.importorskip("braket.devices")

from . import quantum_checks as checks  # noqa: E402

PROVIDER = "aws_braket"


@pytest.fixture
def no_account(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AMZN_BRAKET_OUT_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")


async def test_local_simulators_need_no_account_and_devices_say_what_to_set(api, no_account):
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is True and "AWS_ACCESS_KEY_ID" in info["reason"] and "AMZN_BRAKET_OUT_S3_BUCKET" in info["reason"]
    code, body = await api.get(f"providers/{PROVIDER}/backends")
    assert {b["name"] for b in body["backends"]} == {"braket_sv", "braket_dm"}
    arn = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": arn, "circuit": checks.BELL})
    assert status == 503 and "AWS_ACCESS_KEY_ID" in error["message"], error


@pytest.mark.parametrize("backend", ["braket_sv", "braket_dm"])
async def test_bell_and_ghz_on_the_local_simulators_in_qiskit_bit_order(api, backend):
    await checks.bell_ghz_and_bit_order(api, PROVIDER, backend, noisy=False)


async def test_ten_standard_jobs_are_one_local_program_set(api):
    await checks.ten_jobs_one_call(api, PROVIDER, "braket_sv", priced=False)


async def test_what_braket_cannot_run_is_a_400(api):
    reset = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nreset q[0];\nmeasure q -> c;\n'
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "circuit": reset})
    assert status == 400 and "does not take reset" in error["message"]
    mid = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[2];\nmeasure q[0] -> c[0];\nx q[0];\nmeasure q[0] -> c[1];\n'
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "circuit": mid})
    assert status == 400 and "mid-circuit measurement" in error["message"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "braket_dm", "circuit": checks.flip(0, width=14)})
    assert status == 400 and "14 qubits" in error["message"]
