"""hal_jupyter.qiskit on the embedded local simulator, used as Qiskit's users use
it: ``backend.run``, ``SamplerV2``/``EstimatorV2`` PUBs against Qiskit's exact
reference primitives, qiskit-algorithms' VQE and QAOA, Qiskit's own
``BackendSamplerV2`` over a ``HalBackend``, and jobs read again from their ids."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import real_amplitudes
from qiskit.primitives import BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.result import Result

from hal_jupyter import Hal
from hal_jupyter.engine.errors import BackendNotFound, InvalidRequest
from hal_jupyter.qiskit import HalBackend, HalEstimator, HalJob, HalPrimitiveJob, HalProvider, HalSampler

from . import qiskit_checks as checks

#: H2 at 0.735 Angstrom in the parity mapping (2 qubits): its ground energy is -1.857275 Ha
H2 = SparsePauliOp(["II", "IZ", "ZI", "ZZ", "XX"], [-1.052373245772859, 0.39793742484318045, -0.39793742484318045, -0.01128010425623538, 0.18093119978423156])


@pytest.fixture(scope="module")
def hal(tmp_path_factory):
    client = Hal(embedded=True, db_url=f"sqlite:///{tmp_path_factory.mktemp('qiskit') / 'jobs.sqlite'}", batch_window_s=0.05)
    yield client
    client.close()


@pytest.fixture(scope="module")
def backend(hal) -> HalBackend:
    return HalProvider(hal).get_backend("aer_simulator", provider="local_simulator")


def test_the_provider_lists_backends_with_targets_and_names_what_it_lacks(hal, backend):
    provider = HalProvider(hal)
    names = {b.name for b in provider.backends()}
    assert {"local_simulator/aer_simulator", "aws_braket/braket_sv"} <= names
    assert backend.name == "local_simulator/aer_simulator" and backend.num_qubits >= 20
    assert {"cx", "rz", "measure"} <= set(backend.target.operation_names)
    assert provider.get_backend("local_simulator/aer_simulator").name == backend.name
    with pytest.raises(BackendNotFound, match="available: .*aer_simulator"):
        provider.get_backend("no_such_device", provider="local_simulator")
    with pytest.raises(InvalidRequest, match="unknown option 'shots'"):
        HalSampler(backend, options={"shots": 10})


def test_backend_run_is_one_batch_whose_result_reads_like_aers(hal, backend):
    from qiskit_aer import AerSimulator

    qc = checks.two_registers().assign_parameters({checks.THETA: np.pi, checks.PHI: np.pi})  # every bit 1
    job = backend.run([qc, qc], shots=50, memory=True)
    assert isinstance(job, HalJob) and len(job.job_id().split(",")) == 2
    result = job.result(timeout=60)
    assert isinstance(result, Result) and result.success
    aer = AerSimulator().run(qc, shots=50).result().get_counts()
    assert result.get_counts(0) == aer == {"11 1": 50}  # registers spaced, as Aer gives them
    assert result.get_memory(1) == ["11 1"] * 50
    assert job.status().name == "DONE" and len(checks.batch_ids(hal, job.job_id().split(","))) == 1
    again = HalProvider(hal).job(job.job_id())  # from another kernel: only the ids are needed
    assert isinstance(again, HalJob) and again.result().get_counts(1) == {"11 1": 50}
    with pytest.raises(InvalidRequest, match="unbound parameters"):
        backend.run(checks.entangler())


def test_sampler_pubs_match_the_exact_sampler_and_travel_as_one_batch(hal, backend):
    sampler = HalSampler(backend, options={"default_shots": 500})
    ids = checks.check_sampler(sampler, shots=2000)
    assert len(checks.batch_ids(hal, ids)) == 1
    again = sampler.job(",".join(ids))
    assert isinstance(again, HalPrimitiveJob) and again.result()[0].data.low.shape == (2, 3)
    # default_shots; an unparametrised circuit over a shape of (3,): its own samples at each point
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    result = sampler.run([(bell, np.zeros((3, 0)))]).result()
    bits = result[0].data.meas
    assert bits.shape == (3,) and bits.num_shots == 500 and set(bits.get_counts(2)) == {"00", "11"}


def test_sampler_bit_arrays_come_from_each_shot(hal, backend):
    """With per-shot data the samples are the shots' own, in order (Aer's memory)."""
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    result = HalSampler(backend).run([qc], shots=64).result()
    record = hal.transport.result(result.metadata["hal_job_ids"][0])
    assert result[0].data.c.get_bitstrings() == record["memory"]


def test_estimator_pubs_broadcast_as_qiskits(hal, backend):
    estimator = HalEstimator(backend, options={"default_precision": 0.01})
    ids = checks.check_estimator(estimator, precision=0.01, bound=0.05)
    assert len(checks.batch_ids(hal, ids)) == 1
    result = estimator.run([(checks.entangler(), SparsePauliOp("ZZ"), [0.3])]).result()
    assert result[0].metadata["target_precision"] == 0.01 and result[0].metadata["shots"] == 10000
    assert result[0].data.evs.shape == ()  # one point of one parameter, one observable: Qiskit broadcasts to ()


def test_backend_sampler_v2_runs_over_a_hal_backend(backend):
    pubs = [(checks.two_registers(), [[0.0, 0.0], [np.pi, np.pi]])]
    result = BackendSamplerV2(backend=backend, options={"default_shots": 100}).run(pubs).result()
    assert result[0].data.low.get_counts(0) == {"0": 100} and result[0].data.high.get_counts(1) == {"11": 100}


def test_vqe_with_the_hal_estimator_finds_the_ground_energy(backend):
    from qiskit_algorithms import VQE, NumPyMinimumEigensolver
    from qiskit_algorithms.optimizers import COBYLA

    exact = NumPyMinimumEigensolver().compute_minimum_eigenvalue(H2).eigenvalue.real
    estimator = HalEstimator(backend, options={"default_precision": 0.002, "priority": "high"})
    ansatz = real_amplitudes(2, reps=1)
    vqe = VQE(estimator, ansatz, COBYLA(maxiter=25), initial_point=np.full(ansatz.num_parameters, 0.1))
    found = vqe.compute_minimum_eigenvalue(H2).eigenvalue.real
    assert abs(found - exact) < 0.05, (found, exact)


def test_qaoa_with_the_hal_sampler_finds_the_max_cut(backend):
    from qiskit_algorithms import QAOA, NumPyMinimumEigensolver
    from qiskit_algorithms.optimizers import COBYLA

    # max-cut of a 4-ring: the Ising form's ground energy is -2 (bitstrings 0101 and 1010)
    ring = SparsePauliOp(["ZZII", "IZZI", "IIZZ", "ZIIZ"], [0.5] * 4)
    exact = NumPyMinimumEigensolver().compute_minimum_eigenvalue(ring).eigenvalue.real
    sampler = HalSampler(backend, options={"default_shots": 1000, "priority": "high"})
    qaoa = QAOA(sampler, COBYLA(maxiter=40), reps=1, initial_point=[0.4, 0.4])
    result = qaoa.compute_minimum_eigenvalue(ring)
    assert result.best_measurement["value"].real == pytest.approx(exact)
    assert result.best_measurement["bitstring"] in ("0101", "1010")
