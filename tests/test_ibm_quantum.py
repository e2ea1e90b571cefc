"""ibm_quantum through qiskit-ibm-runtime's local mode (QISKIT_IBM_CHANNEL=local):
the real Sampler code on noisy fake backends."""

from __future__ import annotations

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from . import quantum_checks as checks  # noqa: E402

PROVIDER = "ibm_quantum"


@pytest.fixture
def local(monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "local")


async def test_without_a_token_it_is_unavailable_and_says_what_to_set(api, monkeypatch):
    for name in ("QISKIT_IBM_CHANNEL", "QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is False and "QISKIT_IBM_TOKEN" in info["reason"] and "local" in info["reason"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "circuit": checks.BELL})
    assert status == 503 and "QISKIT_IBM_TOKEN" in error["message"]


async def test_fake_backends_are_listed_with_qubits_and_queue(api, local):
    code, body = await api.get(f"providers/{PROVIDER}/backends")
    backends = {b["name"]: b for b in body["backends"]}
    assert backends["fake_brisbane"]["num_qubits"] == 127 and backends["fake_brisbane"]["queue_depth"] == 0
    assert backends["fake_manila"]["num_qubits"] == 5 and len(backends) > 50


async def test_bell_and_ghz_distributions_in_qiskit_bit_order(api, local):
    await checks.bell_ghz_and_bit_order(api, PROVIDER, "fake_manila", noisy=True)


async def test_ten_standard_jobs_are_one_runtime_job_with_ten_pubs(api, local):
    finals = await checks.ten_jobs_one_call(api, PROVIDER, "fake_manila")
    runtime_jobs = {f["remote_id"].partition("#")[0] for f in finals}
    pubs = sorted(int(f["remote_id"].partition("#")[2]) for f in finals)
    assert len(runtime_jobs) == 1 and pubs == list(range(10))


async def test_circuits_that_cannot_run_are_400s_that_say_why(api, local):
    too_big = checks.flip(0, width=6)
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "fake_manila", "circuit": too_big})
    assert status == 400 and "6 qubits" in error["message"] and "fake_manila has 5" in error["message"]
    opaque = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nopaque magic q;\nqreg q[1];\ncreg c[1];\nmagic q[0];\nmeasure q -> c;\n'
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "fake_manila", "circuit": opaque})
    assert status == 400 and "cannot run magic" in error["message"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "fake_nowhere", "circuit": checks.BELL})
    assert status == 400 and "fake_nowhere" in error["message"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "fake_manila", "circuit": checks.BELL, "options": {"optimization_level": 7}})
    assert status == 400


async def test_a_job_the_service_refuses_is_failed_with_its_message(api, local):
    # not ISA for the backend (h is not a native gate) and transpilation skipped: the runtime refuses it
    status, record = await api.post(
        "quantum/jobs", {"provider": PROVIDER, "backend": "fake_manila", "circuit": checks.BELL, "options": {"skip_transpilation": True}, "priority": "high"}
    )
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "not supported by the target" in final["error"]["message"], final


async def test_local_mode_costs_nothing_but_shows_the_device_price(api, local):
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "fake_manila", "circuit": checks.BELL})
    estimate = record["cost_estimate"]
    assert estimate["amount"] == 0.0 and "USD" in estimate["basis"] and "ibm.com/quantum/pricing" in estimate["basis"]
    await api.wait(record["id"], timeout=90)
