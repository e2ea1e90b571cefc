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


async def test_memory_on_the_local_simulator_follows_the_counts_in_qiskit_bit_order(api):
    await checks.per_shot_memory(api, PROVIDER, "braket_sv")


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


# -- devices by ARN, through the real AwsDevice against the Braket emulator -----------
from hal_jupyter.offline import aws_lambda as moto_emulator  # noqa: E402
from hal_jupyter.offline import braket as braket_emulator  # noqa: E402
from hal_jupyter.offline import credentials  # noqa: E402

BUCKET = "amazon-braket-hal-tests"


@pytest.fixture(scope="module")
def braket_world():
    import boto3

    moto, _, s3_url = moto_emulator.start()
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id=credentials.AWS_ACCESS_KEY_ID, aws_secret_access_key=credentials.AWS_SECRET_ACCESS_KEY).create_bucket(Bucket=BUCKET)
    server, world, url = braket_emulator.start(s3_url)
    yield world, url, s3_url
    server.shutdown()
    moto.stop()


@pytest.fixture
def braket(braket_world, monkeypatch):
    world, url, s3_url = braket_world
    for name, value in {
        "AWS_ENDPOINT_URL": s3_url, "BRAKET_ENDPOINT": url, "AWS_ACCESS_KEY_ID": credentials.AWS_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": credentials.AWS_SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1", "AMZN_BRAKET_OUT_S3_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    world.hold.set()
    return world


async def test_devices_are_listed_with_qubits_and_queue(api, braket):
    code, body = await api.get(f"providers/{PROVIDER}/backends")
    backends = {b["name"]: b for b in body["backends"]}
    assert backends[braket_emulator.SV1]["num_qubits"] == 26 and backends[braket_emulator.SV1]["queue_depth"] == 0
    # the Qiskit names of the gates the HAL converts to the device's operations; no coupling map:
    # Braket places and routes the circuit's virtual qubits itself
    sv1 = backends[braket_emulator.SV1]
    assert {"cx", "h", "rz", "sx", "swap", "measure"} <= set(sv1["basis_gates"]) and "reset" not in sv1["basis_gates"], sv1
    assert sv1["coupling_map"] is None
    assert {b["name"]: b["basis_gates"] for b in body["backends"]}["braket_sv"] is None  # local simulators: every gate of the HAL


@pytest.mark.parametrize("device", [braket_emulator.SV1, braket_emulator.DM1])
async def test_bell_and_ghz_through_aws_device_in_qiskit_bit_order(api, braket, device):
    await checks.bell_ghz_and_bit_order(api, PROVIDER, device, noisy=False)


async def test_memory_through_aws_device_follows_the_counts_in_qiskit_bit_order(api, braket):
    await checks.per_shot_memory(api, PROVIDER, braket_emulator.SV1)


async def test_ten_jobs_are_one_program_set_task_where_the_device_takes_them(api, braket):
    before = len(braket.creates)
    finals = await checks.ten_jobs_one_call(api, PROVIDER, braket_emulator.SV1)
    assert len(braket.creates) == before + 1 and len({f["remote_id"].partition("#")[0] for f in finals}) == 1
    estimate = finals[0]["cost_estimate"]
    assert estimate["amount"] > 0 and "aws.amazon.com/braket/pricing" in estimate["basis"]


async def test_without_program_sets_a_batch_is_one_task_per_circuit_under_one_batch(api, braket):
    before = len(braket.creates)
    finals = await checks.ten_jobs_one_call(api, PROVIDER, braket_emulator.DM1, priced=False)
    assert len(braket.creates) == before + 10 and len({f["remote_id"] for f in finals}) == 10


async def test_a_task_that_fails_at_braket_is_failed_with_its_reason(api, braket):
    braket.fail_next = "Device is retired"
    status, record = await api.post("quantum/jobs", {"provider": PROVIDER, "backend": braket_emulator.SV1, "circuit": checks.BELL, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "Device is retired" in final["error"]["message"], final


async def cancel_once_sent(api, braket, body):
    """Hold the emulator's tasks, submit, cancel once the job has its remote id;
    returns the record as it was sent and the final one."""
    import asyncio

    braket.hold.clear()
    status, record = await api.post("quantum/jobs", body)
    for _ in range(200):
        status, current = await api.get(f"jobs/{record['id']}")
        if current["remote_id"]:
            break
        await asyncio.sleep(0.05)
    status, cancelled = await api.post(f"jobs/{record['id']}/cancel")
    assert status == 200, cancelled
    final = await api.wait(record["id"], timeout=30)
    braket.hold.set()
    return current, final


async def test_cancel_reaches_braket(api, braket):
    body = {"provider": PROVIDER, "backend": braket_emulator.SV1, "circuit": checks.BELL, "priority": "high"}
    current, final = await cancel_once_sent(api, braket, body)
    assert final["status"] == "CANCELLED" and current["remote_id"] in braket.cancels


def test_submitting_a_batch_again_returns_the_same_tasks(braket):
    """What a resubmission after a crash in SUBMITTING does: the client token makes Braket return the same tasks."""
    from hal_jupyter.providers.aws_braket import AwsBraketProvider
    from hal_jupyter.engine.contract import BatchSpec, JobSpec

    provider = AwsBraketProvider()
    for device, new_tasks in ((braket_emulator.SV1, 1), (braket_emulator.DM1, 2)):
        jobs = [JobSpec(f"j{k}", "quantum", device, 50, {"circuit": checks.flip(k)}) for k in range(2)]
        batch = BatchSpec(f"b-resubmit-{device[-3:]}", PROVIDER, device, 50, {}, jobs)
        before = len(braket.creates)
        first = provider.submit(batch).remote_ids
        again = provider.submit(batch).remote_ids
        assert first == again and len(braket.creates) == before + new_tasks
    provider.close()


# -- sweeps and expectation values (API v1.1) -----------------------------------------
import math  # noqa: E402

RY = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc[0] = measure q[0];\n'


def _close(value: float, std: float, expected: float) -> bool:
    return abs(value - expected) <= 5 * std + 0.05


def _ones(counts: dict[str, int]) -> float:
    return counts.get("1", 0) / sum(counts.values())


@pytest.fixture
def serial_braket(braket, monkeypatch):
    """The emulator runs each task in a thread of its own, and Braket's density-matrix simulator
    aborts the process ("Numba workqueue threading layer is terminating: Concurrent access") when
    two threads run a two-qubit gate at once: tests that create several DM1 tasks together let
    the emulator simulate one task at a time."""
    import threading

    lock, simulate = threading.Lock(), braket._simulate

    def one_at_a_time(task):
        with lock:
            return simulate(task)

    monkeypatch.setattr(braket, "_simulate", one_at_a_time)
    return braket


async def test_ten_sweep_jobs_are_one_program_set_task_with_results_per_point(api, braket):
    before = len(braket.creates)
    thetas = [[0.3 * k, 0.3 * k + 1.5, math.pi] for k in range(10)]
    jobs = [{"provider": PROVIDER, "backend": braket_emulator.SV1, "circuit": RY, "parameters": {"theta": t}, "shots": 1000} for t in thetas]
    status, body = await api.post("quantum/jobs", {"jobs": jobs})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=120) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert len(braket.creates) == before + 1 and len({f["batch_id"] for f in finals}) == 1
    assert len({f["remote_id"].partition("#")[0] for f in finals}) == 1 and sorted(int(f["remote_id"].partition("#")[2]) for f in finals) == list(range(10))
    assert all("batching saves" in f["cost_estimate"]["basis"] for f in finals), finals[0]
    for values, final in zip(thetas, finals):
        result = (await api.get(f"jobs/{final['id']}/result"))[1]
        assert result["parameters"] == {"theta": values} and len(result["counts"]) == 3, result
        for theta, counts in zip(values, result["counts"]):
            assert sum(counts.values()) == 1000 and abs(_ones(counts) - math.sin(theta / 2) ** 2) < 0.08, (theta, counts)


async def test_an_estimate_on_a_device_without_program_sets_is_one_task_per_setting(api, serial_braket):
    braket = serial_braket
    before = len(braket.creates)
    final, result = await checks.run(api, {"provider": PROVIDER, "backend": braket_emulator.DM1, "circuit": checks.BELL, "observables": [{"ZZ": 1.0}, {"XX": 1.0}], "shots": 2000})
    assert len(braket.creates) == before + 2 and len(final["remote_id"].split(",")) == 2, final  # ZZ and XX do not share a setting
    assert result["parameters"] is None and result["shots"] == 2000, result
    for value, std in zip(result["evs"], result["stds"]):
        assert _close(value, std, 1.0), result


async def test_a_cos_theta_sweep_of_z_on_the_local_simulator(api):
    thetas = [0.0, 1.0, 2.0, 3.0]
    _, result = await checks.run(api, {"provider": PROVIDER, "backend": "braket_sv", "circuit": RY, "parameters": {"theta": thetas}, "observables": [{"Z": 1.0}], "shots": 2000})
    assert result["parameters"] == {"theta": thetas} and len(result["evs"]) == 1, result
    for theta, value, std in zip(thetas, result["evs"][0], result["stds"][0]):
        assert _close(value, std, math.cos(theta)), (theta, result)


async def test_a_sweep_larger_than_a_program_set_is_split_over_tasks_in_order(api, braket):
    """SV1 takes at most 100 executables per program set: 101 points are two tasks, read back in order."""
    before = len(braket.creates)
    thetas = [math.pi if k % 3 == 0 else 0.0 for k in range(101)]
    final, result = await checks.run(api, {"provider": PROVIDER, "backend": braket_emulator.SV1, "circuit": RY, "parameters": {"theta": thetas}, "shots": 20})
    assert len(braket.creates) == before + 2 and [p.partition("#")[2] for p in final["remote_id"].split(",")] == ["0", "0"], final
    assert result["counts"] == [{"1": 20} if theta else {"0": 20} for theta in thetas], result


async def test_a_job_of_more_tasks_than_its_remote_id_can_list_is_a_400(api, braket):
    body = {"provider": PROVIDER, "backend": braket_emulator.DM1, "circuit": RY, "parameters": {"theta": [0.1 * k for k in range(20)]}}
    status, error = await api.post("quantum/jobs", body)
    assert status == 400 and "20 tasks" in error["message"] and "split the sweep" in error["message"], error
    status, error = await api.post("quantum/jobs", {"provider": PROVIDER, "circuit": checks.BELL, "observables": [{"II": 2.0}]})
    assert status == 400 and "identity terms only" in error["message"], error


def test_a_job_over_several_tasks_is_read_back_from_its_remote_id_alone(serial_braket):
    """What a restart does: another provider object, with nothing cached, polls by the remote ids;
    and submitting the batch again creates nothing new."""
    from hal_jupyter.engine import sweeps
    from hal_jupyter.engine.contract import BatchSpec, JobSpec
    from hal_jupyter.engine.qasm import parse_circuit
    from hal_jupyter.providers.aws_braket import AwsBraketProvider

    thetas = [0.0, math.pi / 2, math.pi]
    circuit = parse_circuit(RY)
    sweep = sweeps.check({"theta": thetas}, [{"Z": 1.0}, {"X": 1.0}], None, ["theta"], 1)
    jobs = [JobSpec(f"j{k}", "quantum", braket_emulator.DM1, 2000, {"circuit": RY, "sweep": sweep.to_payload()}, circuit) for k in range(2)]
    batch = BatchSpec("b-sweep-reattach", PROVIDER, braket_emulator.DM1, 2000, {}, jobs)
    first, second = AwsBraketProvider(), AwsBraketProvider()
    braket = serial_braket
    before = len(braket.creates)
    remote = first.submit(batch).remote_ids
    assert first.submit(batch).remote_ids == remote and len(braket.creates) == before + 12  # 2 jobs x 3 points x 2 settings
    assert all(len(r) <= 400 and len(r.split(",")) == 6 for r in remote.values()), remote
    first.close()
    import time

    deadline = time.monotonic() + 60
    from hal_jupyter.engine.contract import Finished

    updates = second.poll(batch, remote)
    while not all(isinstance(u, Finished) for u in updates.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        updates = second.poll(batch, remote)
    second.close()
    for update in updates.values():
        evs, stds = update.result["evs"], update.result["stds"]
        for point, theta in enumerate(thetas):
            assert _close(evs[0][point], stds[0][point], math.cos(theta)) and _close(evs[1][point], stds[1][point], math.sin(theta)), update.result


def test_parameters_of_any_name_become_braket_inputs():
    """Qiskit names such as θ[0] or _φ_0_ are no OpenQASM identifiers: Braket sees p0, p1, ..."""
    from qiskit.circuit import Parameter, ParameterVector, QuantumCircuit

    from hal_jupyter.engine import sweeps
    from hal_jupyter.engine.contract import BatchSpec, JobSpec
    from hal_jupyter.providers.aws_braket import AwsBraketProvider, parameter_names, to_braket

    theta, phi = ParameterVector("θ", 2), Parameter("_φ_0_")
    circuit = QuantumCircuit(2, 2)
    circuit.ry(theta[0] + phi, 0)
    circuit.ry(2 * theta[1], 1)
    circuit.measure([0, 1], [0, 1])
    assert parameter_names(circuit) == {"_φ_0_": "p0", "θ[0]": "p1", "θ[1]": "p2"}
    assert {str(p) for p in to_braket(circuit, {"ry", "measure"}).parameters} == {"p0", "p1", "p2"}
    values = {"_φ_0_": [0.0, math.pi / 2], "θ[0]": [0.0, math.pi / 2], "θ[1]": [math.pi / 2, 0.0]}
    sweep = sweeps.check(values, None, None, sweeps.circuit_parameter_names(circuit), 2)
    job = JobSpec("j0", "quantum", "braket_sv", 500, {"circuit": "", "sweep": sweep.to_payload()}, circuit)
    provider = AwsBraketProvider()
    provider.set_notifier(lambda _: None)
    batch = BatchSpec("b-names", PROVIDER, "braket_sv", 500, {}, [job])
    remote = provider.submit(batch).remote_ids
    import time

    deadline = time.monotonic() + 60
    from hal_jupyter.engine.contract import Finished

    while not isinstance(update := provider.poll(batch, remote)["j0"], Finished) and time.monotonic() < deadline:
        time.sleep(0.1)
    provider.close()
    assert update.result["counts"] == [{"10": 500}, {"01": 500}], update  # qubit 1 flipped, then qubit 0 (Qiskit order)


async def test_a_job_over_several_tasks_fails_with_any_and_cancels_all(api, serial_braket):
    braket = serial_braket
    body = {"provider": PROVIDER, "backend": braket_emulator.DM1, "circuit": checks.BELL, "observables": [{"ZZ": 1.0}, {"XX": 1.0}], "priority": "high"}
    braket.fail_next = "Device is retired"
    status, record = await api.post("quantum/jobs", body)
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "Device is retired" in final["error"]["message"], final

    current, final = await cancel_once_sent(api, braket, body)
    tasks = braket.creates[-2:]
    assert final["status"] == "CANCELLED" and set(tasks) <= set(braket.cancels) and current["remote_id"].split(",")[0] == tasks[0], (final, braket.cancels)
