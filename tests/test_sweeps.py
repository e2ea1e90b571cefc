"""Parameter sweeps and expectation values (API v1.1): the same answers on every
quantum provider that runs here, and the 400s of bad ``parameters`` and ``observables``.

Each case is compared with the exact value from Qiskit's ``Statevector``, within
the noise the provider reports (its ``stds``) plus a small allowance for
shot-based estimates of noiseless simulators; sampling sweeps compare
distributions, never bitstrings.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from . import quantum_checks as checks
from .test_aws_braket import braket, braket_emulator, braket_world  # noqa: F401 - fixtures
from .test_azure_quantum import azure, azure_world  # noqa: F401 - fixtures
from .test_ibm_quantum_cloud import ibm, ibm_world  # noqa: F401 - fixtures

SHOTS = 4000
THETAS = [0.0, 0.6, 1.2, 1.8, 2.4, 3.0]

COS = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
bit[1] c;
ry(theta) q[0];
c[0] = measure q[0];
"""
BELL = checks.BELL
# qubit 0 flipped, qubit 2 in |+>: a reversed qubit order swaps <Z0> = -1 with <Z2> = 0
ASYMMETRIC = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nx q[0];\nh q[2];\nmeasure q -> c;\n'
HAMILTONIAN_CIRCUIT = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
input float[64] b;
qubit[3] q;
bit[3] c;
h q[0];
cx q[0], q[1];
ry(a) q[2];
rz(b) q[1];
c = measure q;
"""
HAMILTONIAN = {"ZZI": 0.5, "IZZ": -0.25, "XXI": 0.7, "XIX": 0.3, "YYZ": -0.4, "IIX": 0.2, "III": 0.1}

#: (provider, backend, fixture that points it at its service); ids name them
TARGETS = {
    "local_simulator": ("local_simulator", "aer_simulator", None),
    "ibm_quantum-local": ("ibm_quantum", "aer_simulator", "ibm_local"),
    "ibm_quantum-cloud-manila": ("ibm_quantum", "fake_manila", "ibm"),  # noisy: within the device's errors
    "braket_sv": ("aws_braket", "braket_sv", None),
    "braket-emulator-sv1": ("aws_braket", braket_emulator.SV1, "braket"),
    "braket-emulator-dm1": ("aws_braket", braket_emulator.DM1, "braket"),
    "azure-emulator-ionq": ("azure_quantum", "ionq.simulator", "azure"),
}


@pytest.fixture
def ibm_local(monkeypatch):
    pytest.importorskip("qiskit_ibm_runtime")
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "local")


@pytest.fixture(params=list(TARGETS))
def target(request) -> dict[str, str]:
    provider, backend, service = TARGETS[request.param]
    if service is not None:
        request.getfixturevalue(service)
    return {"provider": provider, "backend": backend}


def exact(circuit: str, observable: Any, binding: dict[str, float] | None = None) -> float:
    """The exact expectation value, from the state of the circuit without its measurements."""
    from qiskit.quantum_info import SparsePauliOp, Statevector

    from hal_jupyter.engine.qasm import parse_circuit

    qc = parse_circuit(circuit).remove_final_measurements(inplace=False)
    if binding:
        qc = qc.assign_parameters({p: binding[p.name] for p in qc.parameters})
    op = SparsePauliOp.from_list(list(observable.items())) if isinstance(observable, dict) else SparsePauliOp.from_sparse_list(observable, qc.num_qubits)
    return float(Statevector(qc).expectation_value(op).real)


def close(value: float, std: float, expected: float, scale: float = 1.0) -> bool:
    """Within five reported standard errors, plus what shot noise of a
    ``scale``-sized observable allows when a provider reports none."""
    return abs(value - expected) <= 5 * std + 5 * scale / math.sqrt(SHOTS) + 1e-6


async def estimate(api: Any, target: dict[str, str], circuit: str, observables: list[Any], parameters: dict[str, list[float]] | None = None) -> dict[str, Any]:
    body = {**target, "circuit": circuit, "observables": observables, "shots": SHOTS}
    if parameters is not None:
        body["parameters"] = parameters
    _, result = await checks.run(api, body, timeout=180)
    return result


async def test_a_cos_theta_sweep_of_z(api, target):
    result = await estimate(api, target, COS, [{"Z": 1.0}], {"theta": THETAS})
    assert result["parameters"] == {"theta": THETAS}
    evs, stds = result["evs"], result["stds"]
    assert len(evs) == 1 and len(evs[0]) == len(THETAS), result
    for theta, value, std in zip(THETAS, evs[0], stds[0]):
        assert close(value, std, math.cos(theta)), (theta, value, std, result)


async def test_bell_zz_and_xx(api, target):
    result = await estimate(api, target, BELL, [{"ZZ": 1.0}, {"XX": 1.0}, {"ZI": 1.0}, [["Y", [0], 1.0], ["Y", [1], 1.0]]])
    assert result["parameters"] is None and len(result["evs"]) == 4
    for value, std, expected in zip(result["evs"], result["stds"], [1.0, 1.0, 0.0, 0.0]):
        assert close(value, std, expected, scale=2.0), result


async def test_an_asymmetric_state_catches_a_reversed_qubit_order(api, target):
    observables = [{"IIZ": 1.0}, {"ZII": 1.0}, {"XII": 1.0}, [["Z", [1], 1.0]], [["XZ", [2, 0], 1.0]]]
    result = await estimate(api, target, ASYMMETRIC, observables)
    for value, std, expected in zip(result["evs"], result["stds"], [-1.0, 0.0, 1.0, 1.0, -1.0]):
        assert close(value, std, expected), result


async def test_a_three_qubit_hamiltonian_over_two_parameters(api, target):
    points = {"a": [0.3, 1.1, 2.5], "b": [0.0, 0.8, -1.3]}
    result = await estimate(api, target, HAMILTONIAN_CIRCUIT, [HAMILTONIAN, {"ZZI": 1.0}], points)
    scale = sum(abs(c) for c in HAMILTONIAN.values())
    for i in range(3):
        binding = {"a": points["a"][i], "b": points["b"][i]}
        assert close(result["evs"][0][i], result["stds"][0][i], exact(HAMILTONIAN_CIRCUIT, HAMILTONIAN, binding), scale), (i, result)
        assert close(result["evs"][1][i], result["stds"][1][i], exact(HAMILTONIAN_CIRCUIT, {"ZZI": 1.0}, binding)), (i, result)


async def test_a_sampling_sweep_has_counts_per_point(api, target):
    _, result = await checks.run(api, {**target, "circuit": COS, "parameters": {"theta": THETAS}, "shots": SHOTS}, timeout=180)
    assert result["parameters"] == {"theta": THETAS} and len(result["counts"]) == len(THETAS), result
    for theta, counts in zip(THETAS, result["counts"]):
        assert sum(counts.values()) == SHOTS
        ones = counts.get("1", 0) / SHOTS
        assert abs(ones - math.sin(theta / 2) ** 2) < 5 / math.sqrt(SHOTS), (theta, counts)


# -- one provider call per batch -------------------------------------------------------
async def ten_sweeps(api: Any, target: dict[str, str], observables: bool) -> list[dict[str, Any]]:
    extra: dict[str, Any] = {"observables": [{"Z": 1.0}]} if observables else {}
    jobs = [{**target, "circuit": COS, "parameters": {"theta": [0.1 * k, 0.1 * k + 1.0]}, "shots": 500, **extra} for k in range(10)]
    status, body = await api.post("quantum/jobs", {"jobs": jobs})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=180) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert len({f["batch_id"] for f in finals}) == 1, finals
    results = [(await api.get(f"jobs/{f['id']}/result"))[1] for f in finals]
    for k, result in enumerate(results):
        assert result["parameters"] == {"theta": [0.1 * k, 0.1 * k + 1.0]}
    return results


@pytest.mark.parametrize("observables", [False, True], ids=["sampling", "estimation"])
async def test_ten_sweeps_are_one_aer_primitive_call(api, observables):
    results = await ten_sweeps(api, {"provider": "local_simulator"}, observables)
    assert all(r["metadata"]["batch_size"] == 10 for r in results)
    assert {r["metadata"]["primitive"] for r in results} == {"EstimatorV2" if observables else "AerSimulator.run"}


@pytest.mark.parametrize("observables", [False, True], ids=["sampler", "estimator"])
@pytest.mark.parametrize("mode", ["ibm_local", "ibm"], ids=["local", "cloud"])
async def test_ten_sweeps_are_one_runtime_job_with_a_pub_each(api, request, mode, observables):
    service = request.getfixturevalue(mode)
    before = len(service.creates) if mode == "ibm" else 0
    results = await ten_sweeps(api, {"provider": "ibm_quantum", "backend": "fake_manila"}, observables)
    assert len({r["metadata"]["runtime_job"] for r in results}) == 1
    if mode == "ibm":  # the IBM Quantum Platform stand-in saw one runtime job
        assert service.creates[before:] == [results[0]["metadata"]["runtime_job"]]
    assert sorted(r["metadata"]["pub"] for r in results) == list(range(10))
    assert {r["metadata"]["primitive"] for r in results} == {"EstimatorV2" if observables else "SamplerV2"}


async def test_ten_sweeps_are_one_braket_program_set(api, braket):  # noqa: F811
    before = len(braket.creates)
    await ten_sweeps(api, {"provider": "aws_braket", "backend": braket_emulator.SV1}, observables=True)
    assert len(braket.creates) == before + 1


async def test_estimation_and_sampling_jobs_are_batched_apart(api):
    """One batch is one Sampler or one Estimator call: the two kinds never share one."""
    base = {"provider": "local_simulator", "circuit": BELL, "shots": 100}
    status, body = await api.post("quantum/jobs", {"jobs": [base, {**base, "observables": [{"ZZ": 1.0}]}, base]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    assert finals[0]["batch_id"] == finals[2]["batch_id"] != finals[1]["batch_id"]


async def test_exact_estimates_on_the_local_simulator_and_noisy_ones_on_request(api):
    _, exact_result = await checks.run(api, {"provider": "local_simulator", "circuit": BELL, "observables": [{"ZZ": 1.0}]})
    assert exact_result["evs"] == [pytest.approx(1.0)] and exact_result["stds"] == [0.0]
    assert exact_result["metadata"]["estimates"].startswith("exact")
    _, noisy = await checks.run(api, {"provider": "local_simulator", "circuit": BELL, "observables": [{"ZZ": 1.0}], "precision": 0.05})
    assert noisy["stds"] == [pytest.approx(0.05)] and abs(noisy["evs"][0] - 1.0) < 0.3


# -- bad input --------------------------------------------------------------------------
BAD = [
    ({"parameters": {"theta": [0.1]}}, BELL, "no free parameters"),
    ({}, COS, "free parameters (theta)"),
    ({"parameters": {"phi": [0.1]}}, COS, "missing values for theta"),
    ({"parameters": {"theta": [0.1], "phi": [0.2]}}, COS, "phi is not a parameter"),
    ({"parameters": {"theta": [0.1, "x"]}}, COS, "parameters.theta[1] must be a number"),
    ({"parameters": {"theta": [0.1, True]}}, COS, "parameters.theta[1] must be a number"),
    ({"parameters": {"theta": 0.1}}, COS, "must be a list"),
    ({"parameters": {"theta": []}}, COS, "is empty"),
    ({"parameters": {"a": [0.1, 0.2], "b": [0.1]}}, HAMILTONIAN_CIRCUIT, "same number of values"),
    ({"parameters": ["theta"]}, COS, "parameters"),
    ({"observables": [{"ZZZ": 1.0}]}, BELL, "has 3 Pauli(s) but the circuit has 2 qubit(s)"),
    ({"observables": [[["Z", [2], 1.0]]]}, BELL, "qubit 2 is not in the circuit"),
    ({"observables": [[["ZZ", [0], 1.0]]]}, BELL, "names 2 Pauli(s) for 1 qubit(s)"),
    ({"observables": [[["ZZ", [1, 1], 1.0]]]}, BELL, "appears twice"),
    ({"observables": [{"ZA": 1.0}]}, BELL, "made of I, X, Y and Z"),
    ({"observables": [{"ZZ": "1"}]}, BELL, "coefficient must be a finite real number"),
    ({"observables": []}, BELL, "non-empty list"),
    ({"observables": [7]}, BELL, "observables[0] must be"),
    ({"observables": {"ZZ": 1.0}}, BELL, "observables"),
    ({"precision": 0.01}, BELL, "precision is for estimation jobs"),
    ({"observables": [{"ZZ": 1.0}], "precision": 0}, BELL, "precision must be a number above 0"),
    ({"observables": [{"ZZ": 1.0}], "precision": "high"}, BELL, "precision must be a number above 0"),
]


@pytest.mark.parametrize("fields,circuit,reason", BAD, ids=[reason for _, _, reason in BAD])
async def test_bad_parameters_and_observables_are_400_with_the_reason(api, fields, circuit, reason):
    status, error = await api.post("quantum/jobs", {"provider": "local_simulator", "circuit": circuit, **fields})
    assert status == 400, error
    assert reason in error["message"], error
    code, listing = await api.get("jobs")
    assert listing["jobs"] == []  # nothing was stored


async def test_a_bad_sweep_in_a_bulk_request_names_its_index_and_stores_nothing(api):
    jobs = [{"circuit": COS, "parameters": {"theta": [0.0]}}, {"circuit": COS, "parameters": {"theta": [0.0, None]}}]
    status, error = await api.post("quantum/jobs", {"jobs": jobs})
    assert status == 400 and error["message"].startswith("jobs[1]: parameters.theta[1]"), error
    assert (await api.get("jobs"))[1]["jobs"] == []


async def test_an_estimation_circuit_needs_no_measurement(api):
    circuit = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n'
    _, result = await checks.run(api, {"provider": "local_simulator", "circuit": circuit, "observables": [{"ZZ": 1.0}, {"XX": 1.0}]})
    assert result["evs"] == [pytest.approx(1.0), pytest.approx(1.0)]
    status, error = await api.post("quantum/jobs", {"provider": "local_simulator", "circuit": circuit})
    assert status == 400 and "measures nothing" in error["message"]
