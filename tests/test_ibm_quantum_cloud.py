"""ibm_quantum on its cloud path: the real ``QiskitRuntimeService`` against the
local IBM Quantum Platform (``hal_jupyter/offline/ibm_quantum.py``: IAM, instance
lookup, backends, runtime jobs simulated with the fake backends' noise)."""

from __future__ import annotations

import asyncio
import math
import os

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from hal_jupyter.offline import ibm_quantum as emulator  # noqa: E402

from . import quantum_checks as checks  # noqa: E402

PROVIDER = "ibm_quantum"
BACKEND = "fake_manila"
COS = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc[0] = measure q[0];\n'


@pytest.fixture(scope="module")
def ibm_world():
    server, world, url = emulator.start()
    yield world, url
    server.shutdown()


@pytest.fixture
def ibm(ibm_world, monkeypatch):
    world, url = ibm_world
    for name, value in emulator.env(url).items():
        monkeypatch.setenv(name, value)
    world.hold.set()
    world.fail_next = None
    return world


async def test_backends_are_listed_with_qubits_and_status(api, ibm):
    code, body = await api.get(f"providers/{PROVIDER}/backends")
    assert code == 200, body
    backends = {b["name"]: b for b in body["backends"]}
    assert set(backends) == set(emulator.BACKENDS)
    assert backends["fake_manila"]["num_qubits"] == 5 and backends["fake_brisbane"]["num_qubits"] == 127
    assert all(b["status"] == "online" and b["queue_depth"] == 0 and not b["simulator"] for b in backends.values())
    # the operations and couplings of the devices' targets, as Qiskit names and directed pairs
    from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeManilaV2

    fake = FakeManilaV2()
    manila = backends["fake_manila"]
    assert {"cx", "id", "rz", "sx", "x", "measure", "reset", "delay"} <= set(manila["basis_gates"]) <= set(fake.target.operation_names), manila
    assert sorted(map(tuple, manila["coupling_map"])) == sorted(fake.coupling_map.get_edges()), manila
    brisbane = backends["fake_brisbane"]
    assert "ecr" in brisbane["basis_gates"] and "cx" not in brisbane["basis_gates"], brisbane["basis_gates"]
    assert sorted(map(tuple, brisbane["coupling_map"])) == sorted(FakeBrisbane().coupling_map.get_edges())
    code, body = await api.get("providers")
    assert {p["name"]: p for p in body["providers"]}[PROVIDER]["available"] is True


async def test_bell_and_ghz_distributions_in_qiskit_bit_order(api, ibm):
    await checks.bell_ghz_and_bit_order(api, PROVIDER, BACKEND, noisy=True)


async def test_memory_is_each_shot_of_the_sampler_in_the_counts_bit_order(api, ibm):
    await checks.per_shot_memory(api, PROVIDER, BACKEND)


async def test_ten_standard_jobs_are_one_runtime_job_with_ten_pubs(api, ibm):
    before = len(ibm.creates)
    finals = await checks.ten_jobs_one_call(api, PROVIDER, BACKEND)
    assert len(ibm.creates) == before + 1, ibm.creates[before:]
    runtime_job = ibm.creates[-1]
    assert {f["remote_id"] for f in finals} == {f"{runtime_job}#{k}" for k in range(10)}
    assert ibm.jobs[runtime_job]["tags"] == [f"hal-batch:{finals[0]['batch_id']}"]
    assert finals[0]["cost_estimate"]["amount"] > 0 and "ibm.com/quantum/pricing" in finals[0]["cost_estimate"]["basis"]


async def test_an_estimation_and_a_sweep(api, ibm):
    _, estimate = await checks.run(api, {"provider": PROVIDER, "backend": BACKEND, "circuit": checks.BELL, "observables": [{"ZZ": 1.0}, {"XX": 1.0}, {"ZI": 1.0}], "shots": 4000})
    assert estimate["metadata"]["primitive"] == "EstimatorV2" and len(estimate["evs"]) == 3, estimate
    for value, expected in zip(estimate["evs"], [1.0, 1.0, 0.0]):
        assert abs(value - expected) < 0.15, estimate  # noisy device: within its errors
    thetas = [0.0, 1.2, 2.4, 3.0]
    _, sweep = await checks.run(api, {"provider": PROVIDER, "backend": BACKEND, "circuit": COS, "parameters": {"theta": thetas}, "shots": 2000})
    assert sweep["parameters"] == {"theta": thetas} and len(sweep["counts"]) == len(thetas), sweep
    for theta, counts in zip(thetas, sweep["counts"]):
        assert abs(counts.get("1", 0) / 2000 - math.sin(theta / 2) ** 2) < 0.1, (theta, counts)


async def test_a_job_the_service_fails_is_failed_with_its_reason(api, ibm):
    ibm.fail_next = "the backend went into maintenance"
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": BACKEND, "circuit": checks.BELL, "priority": "high"})
    assert status == 201, record
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "the backend went into maintenance" in final["error"]["message"], final


async def test_cancelling_a_queued_job_cancels_the_runtime_job(api, ibm):
    ibm.hold.clear()  # the service keeps it QUEUED
    try:
        status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": BACKEND, "circuit": checks.BELL, "priority": "high"})
        assert status == 201, record
        for _ in range(400):
            current = (await api.get(f"jobs/{record['id']}"))[1]
            if current["remote_id"]:
                break
            await asyncio.sleep(0.05)
        runtime_job = current["remote_id"].partition("#")[0]
        assert ibm.jobs[runtime_job]["status"] == "Queued"
        status, cancelled = await api.post(f"jobs/{record['id']}/cancel")
        assert status == 200, cancelled
        final = await api.wait(record["id"], timeout=30)
    finally:
        ibm.hold.set()
    assert final["status"] == "CANCELLED", final
    assert runtime_job in ibm.cancels and ibm.jobs[runtime_job]["status"] == "Cancelled"
    assert ibm.jobs[runtime_job]["_result"] is None  # it never ran


async def test_jobs_are_found_by_their_tags(api, ibm):
    status, body = await api.post("quantum/jobs", {"jobs": [{"provider": PROVIDER, "backend": BACKEND, "circuit": checks.flip(k), "shots": 100, "tags": ["ibm-tagged"]} for k in range(2)]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    listed = (await api.get("jobs", tag="ibm-tagged"))[1]["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(f["id"] for f in finals)
    # the runtime job carries the batch's tag: the SDK finds it by that tag, as the provider does after a crash
    from qiskit_ibm_runtime import QiskitRuntimeService

    env = os.environ
    service = QiskitRuntimeService(channel=env["QISKIT_IBM_CHANNEL"], token=env["QISKIT_IBM_TOKEN"], instance=env["QISKIT_IBM_INSTANCE"], url=env["QISKIT_IBM_URL"])
    found = await asyncio.to_thread(service.jobs, job_tags=[f"hal-batch:{finals[0]['batch_id']}"])
    assert [j.job_id() for j in found] == [finals[0]["remote_id"].partition("#")[0]]
