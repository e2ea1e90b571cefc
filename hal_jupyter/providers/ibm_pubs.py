"""A HAL job as a Qiskit Runtime PUB, and its result from the PUB's result.

A Sampler PUB is ``(circuit, parameter values)``; an Estimator PUB is
``(circuit, observables, parameter values, precision)``, the observables carried
through the ISA circuit's layout. Free of any device or service code.
"""

from __future__ import annotations

from typing import Any

from ..engine import estimation, sweeps
from ..engine.contract import BatchSpec, JobSpec
from . import quantum


def pub(circuit: Any, sweep: sweeps.Sweep, shots: int) -> tuple[Any, ...]:
    """A job's PUB for its ISA circuit: ``(circuit, parameter values)`` for a Sampler;
    ``(circuit, observables, parameter values, precision)`` for an Estimator, the
    observables carried through the circuit's layout and shaped (observables, 1)
    to broadcast against the N points. Without a ``precision``, the shots of one
    point set it (a standard error of 1/sqrt(shots) for a +-1 observable)."""
    values = sweep.pub_values(circuit)
    if not sweep.estimating:
        return (circuit,) if values is None else (circuit, values)
    return (circuit, sweep.pub_observables(circuit), values, sweep.precision or 1 / shots**0.5)


def outcome(job: JobSpec, pub_result: Any, batch: BatchSpec, metadata: dict[str, Any]) -> dict[str, Any]:
    """A job's result from its PUB's result."""
    sweep = sweeps.of(job.payload)
    if sweep.estimating:
        evs, stds = sweep.estimates_of(pub_result.data)
        return estimation.estimate_result(sweep, evs, stds, batch.shots, batch.backend, {**metadata, "primitive": "EstimatorV2"})
    joined = pub_result.join_data()
    counts = [joined.get_counts(loc=i) for i in range(sweep.num_points)] if sweep.swept else [joined.get_counts()]
    memory = None
    if quantum.wants_memory(job):  # every shot, as the counts key it (registers side by side)
        memory = [joined.get_bitstrings(loc=i) for i in range(sweep.num_points)] if sweep.swept else [joined.get_bitstrings()]
    return estimation.sampling_result(sweep, counts, batch.shots, batch.backend, {**metadata, "primitive": "SamplerV2"}, memory)


__all__ = ["outcome", "pub"]
