"""azure_quantum through azure-quantum's real Workspace / Target / Job code, against a
local Azure Quantum data plane and blob store that simulate the jobs."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

pytest.importorskip("azure.quantum")

from . import quantum_checks as checks  # noqa: E402
from hal_jupyter.offline import azure_quantum as emulator  # noqa: E402

PROVIDER = "azure_quantum"
SETTINGS = ("AZURE_QUANTUM_CONNECTION_STRING", "AZURE_QUANTUM_SUBSCRIPTION_ID", "AZURE_QUANTUM_WORKSPACE_RG", "AZURE_QUANTUM_WORKSPACE_NAME", "AZURE_QUANTUM_WORKSPACE_LOCATION")


@pytest.fixture(scope="module")
def azure_world():
    server, world, url = emulator.start()
    yield world, url
    server.shutdown()


@pytest.fixture
def azure(azure_world, monkeypatch):
    world, url = azure_world
    monkeypatch.delenv("AZURE_QUANTUM_CONNECTION_STRING", raising=False)
    for name, value in emulator.env(url).items():
        monkeypatch.setenv(name, value)
    world.hold.set()
    return world


async def test_without_settings_it_is_unavailable_and_says_what_to_set(api, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is False and "AZURE_QUANTUM_CONNECTION_STRING" in info["reason"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "circuit": checks.BELL})
    assert status == 503 and "AZURE_QUANTUM_WORKSPACE_NAME" in error["message"]


async def test_targets_are_listed_with_availability_and_queue_time(api, azure):
    code, body = await api.get(f"providers/{PROVIDER}/backends")
    targets = {b["name"]: b for b in body["backends"]}
    assert targets["ionq.qpu.aria-1"]["queue_time_s"] == 3600 and targets["quantinuum.qpu.h2-1"]["status"] == "degraded"
    assert targets["ionq.simulator"]["simulator"] is True and targets["ionq.simulator"]["num_qubits"] == 29


@pytest.mark.parametrize("target", ["ionq.simulator", "quantinuum.sim.h2-1e"])
async def test_bell_and_ghz_in_each_targets_format_in_qiskit_bit_order(api, azure, target):
    await checks.bell_ghz_and_bit_order(api, PROVIDER, target, noisy=False)


async def test_memory_on_quantinuum_is_each_shot_it_returns_in_qiskit_bit_order(api, azure):
    await checks.per_shot_memory(api, PROVIDER, "quantinuum.sim.h2-1e")


async def test_memory_on_ionq_which_returns_probabilities_is_a_400_naming_the_target(api, azure):
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": checks.BELL, "memory": True})
    assert status == 400 and error["type"] == "InvalidRequest" and "ionq.simulator" in error["message"] and "memory" in error["message"], error


async def test_ten_standard_jobs_are_one_session_and_keep_their_own_results(api, azure):
    before = len(azure.creates)
    finals = await checks.ten_jobs_one_call(api, PROVIDER, "ionq.simulator", priced=False)
    created = azure.creates[before:]
    assert len(created) == 10 and len({azure.jobs[j]["sessionId"] for j in created}) == 1
    assert {f["remote_id"] for f in finals} == set(created)


async def test_what_a_target_cannot_take_is_a_400(api, azure):
    reset = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nreset q[0];\nmeasure q -> c;\n'
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": reset})
    assert status == 400 and "does not take reset" in error["message"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": checks.flip(0, width=30)})
    assert status == 400 and "30 qubits" in error["message"]
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "rigetti.sim.qvm", "circuit": checks.BELL})
    assert status == 400 and "QIR" in error["message"]


async def test_a_job_that_fails_at_azure_is_failed_with_its_message(api, azure):
    azure.fail_next = "Target quantinuum.sim.h2-1e is offline for calibration"
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "quantinuum.sim.h2-1e", "circuit": checks.BELL, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "offline for calibration" in final["error"]["message"], final


async def test_cancel_reaches_azure(api, azure):
    azure.hold.clear()
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": checks.BELL, "priority": "high"})
    for _ in range(200):
        current = (await api.get(f"jobs/{record['id']}"))[1]
        if current["remote_id"]:
            break
        await asyncio.sleep(0.05)
    status, _ = await api.post(f"jobs/{record['id']}/cancel")
    final = await api.wait(record["id"], timeout=30)
    azure.hold.set()
    assert final["status"] == "CANCELLED" and current["remote_id"] in azure.cancels


def test_a_resubmitted_batch_creates_nothing_again(azure):
    """What a resubmission after a crash in SUBMITTING does (a restart re-attaching to
    submitted jobs: tests/test_crash_points.py, every crash point)."""
    from hal_jupyter.providers.azure_quantum import AzureQuantumProvider
    from hal_jupyter.engine.contract import BatchSpec, JobSpec

    # a crash in SUBMITTING: the batch is submitted again with the same ids, and nothing new is created
    provider = AzureQuantumProvider()
    batch = BatchSpec("b-again", PROVIDER, "ionq.simulator", 50, {}, [JobSpec(f"j{k}", "quantum", "ionq.simulator", 50, {"circuit": checks.flip(k)}) for k in range(2)])
    before = len(azure.creates)
    assert provider.submit(batch).remote_ids == provider.submit(batch).remote_ids and len(azure.creates) == before + 2


# -- sweeps and estimates (API v1.1): bound circuits and basis-rotated measurements, one Azure job each
COS = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc[0] = measure q[0];\n'
THETAS = [0.0, 1.0, 2.0]


def close(value: float, expected: float, std: float) -> bool:
    """Within 5 standard errors, and 0.05 besides (the IonQ simulator may give exact probabilities: std 0)."""
    return abs(value - expected) <= 5 * std + 0.05


async def test_bell_estimates_are_one_azure_job_per_measurement_setting(api, azure):
    before = len(azure.creates)
    final, result = await checks.run(api, {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": checks.BELL, "observables": [{"ZZ": 1.0}, {"XX": 1.0}]})
    created = azure.creates[before:]
    assert len(created) == 2 and len({azure.jobs[j]["sessionId"] for j in created}) == 1  # ZZ and XX: two settings, one session
    assert all(close(ev, 1.0, std) for ev, std in zip(result["evs"], result["stds"])), result
    assert result["parameters"] is None and result["metadata"]["azure_jobs"] == created and final["remote_id"].endswith("*2")


async def test_a_sweep_estimates_and_samples_at_each_point(api, azure):
    target = {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": COS, "parameters": {"theta": THETAS}}
    _, estimate = await checks.run(api, {**target, "observables": [{"Z": 1.0}]})
    assert len(estimate["evs"]) == 1 and estimate["parameters"] == {"theta": THETAS}, estimate
    for theta, ev, std in zip(THETAS, estimate["evs"][0], estimate["stds"][0]):
        assert close(ev, math.cos(theta), std), (theta, estimate)
    _, sample = await checks.run(api, target)
    assert isinstance(sample["counts"], list) and len(sample["counts"]) == 3, sample
    for theta, counts in zip(THETAS, sample["counts"]):
        assert abs(checks.share(counts, {"1"}) - math.sin(theta / 2) ** 2) < 0.1, (theta, counts)


@pytest.mark.parametrize("target", ["ionq.simulator", "quantinuum.sim.h2-1e"])
async def test_estimates_keep_qiskit_qubit_order(api, azure, target):
    # x on qubit 0 of 3: <Z0> = -1 and <Z2> = +1, swapped if the qubit order were reversed
    observables = [{"IIZ": 1.0}, {"ZII": 1.0}, [["Z", [0], 0.5], ["ZZ", [1, 2], 1.0]]]
    _, result = await checks.run(api, {"provider": PROVIDER, "backend": target, "circuit": checks.flip(0), "observables": observables})
    assert [round(ev, 6) for ev in result["evs"]] == [-1.0, 1.0, 0.5], result


async def test_a_failed_circuit_names_its_point(api, azure):
    azure.fail_next = "calibration"
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": COS, "parameters": {"theta": THETAS}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "calibration (circuit 1 of 3, point 0 (theta=0))" in final["error"]["message"], final


async def test_too_many_circuits_is_a_400_before_anything_is_created(api, azure):
    before = len(azure.creates)
    many = {"theta": [0.1 * k for k in range(501)]}
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": COS, "parameters": many, "observables": [{"Z": 1.0}, {"X": 1.0}]})
    assert status == 400 and "needs 1002 (501 points x 2 measurement settings)" in error["message"] and "fewer points or observables" in error["message"], error
    assert len(azure.creates) == before


async def test_a_precision_sets_the_shots_of_each_circuit(api, azure):
    body = {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": checks.BELL, "observables": [{"ZZ": 1.0}]}
    before = len(azure.creates)
    _, result = await checks.run(api, {**body, "precision": 0.05})
    assert result["shots"] == 400 and [azure.jobs[j]["inputParams"]["shots"] for j in azure.creates[before:]] == [400], result
    status, error = await api.post("quantum/jobs", {**body, "precision": 0.001})
    assert status == 400 and "ask for a precision of 0.0032 or more" in error["message"], error


async def test_cancelling_a_sweep_cancels_each_of_its_azure_jobs(api, azure):
    from hal_jupyter.providers.azure_quantum import azure_ids

    azure.hold.clear()
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": "ionq.simulator", "circuit": COS, "parameters": {"theta": THETAS}, "priority": "high"})
    for _ in range(200):
        current = (await api.get(f"jobs/{record['id']}"))[1]
        if current["status_message"] == "Azure Quantum: 0 of 3 circuits done":  # polled: every circuit waits
            break
        await asyncio.sleep(0.05)
    status, _ = await api.post(f"jobs/{record['id']}/cancel")
    final = await api.wait(record["id"], timeout=30)
    azure.hold.set()
    assert current["status_message"] == "Azure Quantum: 0 of 3 circuits done", current
    assert final["status"] == "CANCELLED" and set(azure_ids(current["remote_id"])) <= set(azure.cancels), final


def test_a_sweep_submitted_again_creates_nothing_and_a_new_server_finds_every_circuit(azure):
    from hal_jupyter.engine import sweeps
    from hal_jupyter.engine.contract import BatchSpec, JobSpec
    from hal_jupyter.providers.azure_quantum import AzureQuantumProvider

    sweep = sweeps.check({"theta": THETAS}, [{"Z": 1.0}, {"X": 1.0}], None, ["theta"], 1)
    job = JobSpec("j-sweep", "quantum", "ionq.simulator", 400, {"circuit": COS, "sweep": sweep.to_payload()})
    batch = BatchSpec("b-sweep-again", PROVIDER, "ionq.simulator", 400, {}, [job])
    before = len(azure.creates)
    remote = AzureQuantumProvider().submit(batch).remote_ids
    assert AzureQuantumProvider().submit(batch).remote_ids == remote and len(azure.creates) == before + 6  # 3 points x 2 settings, once
    assert len(remote["j-sweep"]) < 45
    completed(AzureQuantumProvider(), batch, remote)
    # a crash after the fifth of six creates: submitted again, only the sixth is created
    last = azure.creates[-1]
    del azure.jobs[last]
    assert AzureQuantumProvider().submit(batch).remote_ids == remote and azure.creates[before + 6 :] == [last]
    result = completed(AzureQuantumProvider(), batch, remote)  # a restarted server: only the stored remote id
    for k, theta in enumerate(THETAS):
        assert close(result["evs"][0][k], math.cos(theta), result["stds"][0][k]), result
        assert close(result["evs"][1][k], math.sin(theta), result["stds"][1][k]), result


def completed(provider, batch, remote) -> dict:
    """Poll until the batch's one job finished; its result."""
    from hal_jupyter.engine.contract import Finished, Running, Waiting

    deadline = time.monotonic() + 60
    report = provider.poll(batch, remote)[batch.jobs[0].id]
    while not isinstance(report, Finished) and time.monotonic() < deadline:
        assert isinstance(report, (Waiting, Running)), report
        time.sleep(0.2)
        report = provider.poll(batch, remote)[batch.jobs[0].id]
    assert isinstance(report, Finished), report
    return report.result
