"""Checks of hal_jupyter.qiskit shared by the provider test modules: the HAL's
primitives against Qiskit's exact reference primitives (``StatevectorSampler``,
``StatevectorEstimator``), compared as distributions within noise bounds, on
PUBs whose shapes broadcast."""

from __future__ import annotations

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.quantum_info import SparsePauliOp

THETA, PHI = Parameter("theta"), Parameter("phi")


def two_registers() -> QuantumCircuit:
    """A parametrised circuit measured into two registers, ``low`` (1 bit) and ``high`` (2 bits)."""
    q, low, high = QuantumRegister(3, "q"), ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    qc = QuantumCircuit(q, low, high)
    qc.ry(THETA, 0)
    qc.cx(0, 1)
    qc.rx(PHI, 2)
    qc.measure(0, low[0])
    qc.measure(1, high[0])
    qc.measure(2, high[1])
    return qc


def entangler() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.ry(THETA, 0)
    qc.cx(0, 1)
    return qc


def observables() -> list[list[SparsePauliOp]]:
    """Shape (3, 1): broadcasts against parameter values of shape (N,) to (3, N)."""
    return [[SparsePauliOp("ZZ")], [SparsePauliOp(["XX", "YY"], [0.5, -0.5])], [SparsePauliOp(["ZI", "IZ"], [1.0, 0.5])]]


def distance(a: dict[str, int], b: dict[str, int]) -> float:
    """Total variation distance between two count dictionaries."""
    na, nb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in set(a) | set(b))


def check_sampler(sampler, shots: int = 1000, bound: float = 0.1) -> list[str]:
    """A PUB of shape (2, 3) on two registers, and a PUB without parameters: shapes,
    registers, metadata and every point's distribution as the exact sampler gives it.
    Returns the HAL job ids (one per PUB)."""
    qc = two_registers()
    values = np.stack(np.meshgrid(np.linspace(0, np.pi, 3), [0.0, np.pi / 2], indexing="xy"), axis=-1)  # (2, 3, 2)
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    pubs = [(qc, values), (bell,)]
    job = sampler.run(pubs, shots=shots)
    result = job.result(timeout=120)
    exact = StatevectorSampler(default_shots=20000, seed=7).run(pubs).result()
    assert len(result) == 2
    first = result[0]
    assert first.data.shape == (2, 3) and first.data.low.shape == (2, 3) and first.data.high.num_bits == 2
    assert first.data.low.num_shots == shots and first.metadata["shots"] == shots
    for index in np.ndindex(2, 3):
        for register in ("low", "high"):
            got, want = getattr(first.data, register).get_counts(index), getattr(exact[0].data, register).get_counts(index)
            assert distance(got, want) < bound, (index, register, got, want)
    assert distance(result[1].data.meas.get_counts(), exact[1].data.meas.get_counts()) < bound
    assert result[1].data.shape == ()
    return list(result.metadata["hal_job_ids"])


def check_estimator(estimator, precision: float = 0.02, bound: float = 0.12) -> list[str]:
    """Observables (3, 1) against 3 points: evs and stds of shape (3, 3); zipped
    observables and points (3,); and no parameters at all; against the exact estimator."""
    qc = entangler()
    points = np.linspace(0, np.pi, 3)
    zz, xx = SparsePauliOp("ZZ"), SparsePauliOp("XX")
    plain = QuantumCircuit(2)
    plain.h(0)
    plain.cx(0, 1)
    pubs = [(qc, observables(), points), (qc, [zz, xx, zz], points), (plain, [zz, xx, SparsePauliOp("ZI")])]
    result = estimator.run(pubs, precision=precision).result(timeout=120)
    exact = StatevectorEstimator().run(pubs).result()
    shapes = [(3, 3), (3,), (3,)]
    for got, want, shape in zip(result, exact, shapes):
        assert got.data.evs.shape == shape and got.data.stds.shape == shape
        assert np.allclose(got.data.evs, want.data.evs, atol=bound), (got.data.evs, want.data.evs)
        assert got.metadata["target_precision"] == precision
    return list(result.metadata["hal_job_ids"])


def batch_ids(hal, ids: list[str]) -> set[str]:
    return {r["batch_id"] for r in hal.records(ids)}
