"""Circuits and results of sweeps and estimates, for providers without native ones.

Such a provider (Azure Quantum, Braket devices without program sets) runs, for
a job, each point's bound circuit (:func:`bound_circuits`) and, to estimate,
each bound circuit once per measurement setting of :func:`measurement_plan`
(qubit-wise commuting Pauli terms share one basis-rotated circuit):
:func:`executions`. :func:`result_from_executions` turns their counts, in that
order, into the job's result: counts per point, or expectation values and
standard errors (:func:`estimate_from_counts`). The result shapes of the
contract are made here for every provider (:func:`estimate_result`,
:func:`sampling_result`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest
from .sweeps import MAX_SETTINGS, Sweep, Term

# -- circuits -------------------------------------------------------------------------
def without_measurements(circuit: Any) -> Any:
    """The circuit an estimate is made of: its final measurements (and the bits they
    leave unused) removed, so one circuit serves sampling and estimation alike."""
    return circuit.remove_final_measurements(inplace=False)


def bound_circuits(circuit: Any, sweep: Sweep) -> list[Any]:
    """The circuit with each point's values assigned (the circuit itself once, without parameters)."""
    if not sweep.swept:
        return [circuit]
    by_name = {p.name: p for p in circuit.parameters}
    return [circuit.assign_parameters({by_name[n]: v for n, v in sweep.binding(i).items() if n in by_name}) for i in range(sweep.num_points)]


@dataclass(frozen=True)
class Setting:
    """One measurement setting: a basis per qubit (qubit-wise commuting terms share it).
    ``qubits`` are measured, in this order, into classical bits 0, 1, ..."""

    qubits: tuple[int, ...]
    bases: tuple[str, ...]


def measurement_plan(sweep: Sweep) -> list[Setting]:
    """The settings (greedy, first fit) such that every non-identity term of every
    observable is diagonal in one of them: qubit-wise commuting terms are grouped.
    At most :data:`MAX_SETTINGS`, else ``InvalidRequest``: each setting is one more
    circuit per point on providers that measure in rotated bases."""
    assert sweep.observables is not None
    masks: list[list[int]] = []  # per setting: [pauli codes, support], 2 bits per qubit
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for terms in sweep.observables:
        for paulis, qubits, _ in terms:
            if not qubits or (paulis, qubits) in seen:
                continue
            seen.add((paulis, qubits))
            codes, support = _masks(paulis, qubits)
            for mask in masks:
                if (mask[0] ^ codes) & mask[1] & support == 0:  # they agree wherever both act
                    mask[0] |= codes
                    mask[1] |= support
                    break
            else:
                if len(masks) == MAX_SETTINGS:
                    raise InvalidRequest(
                        f"the observables need more than {MAX_SETTINGS} measurement settings (groups of qubit-wise "
                        f"commuting terms) per point on this provider: use fewer or more compatible terms"
                    )
                masks.append([codes, support])
    return [_setting(codes, support) for codes, support in masks]


_CODES = {"X": 1, "Y": 2, "Z": 3}
_BASES = {1: "X", 2: "Y", 3: "Z"}


def _masks(paulis: str, qubits: tuple[int, ...]) -> tuple[int, int]:
    codes = support = 0
    for pauli, qubit in zip(paulis, qubits):
        codes |= _CODES[pauli] << (2 * qubit)
        support |= 3 << (2 * qubit)
    return codes, support


def _setting(codes: int, support: int) -> Setting:
    qubits = tuple(q for q in range(support.bit_length() // 2 + 1) if support >> (2 * q) & 3)
    return Setting(qubits, tuple(_BASES[codes >> (2 * q) & 3] for q in qubits))


def rotated(circuit: Any, setting: Setting) -> Any:
    """``circuit`` (without measurements) rotated into ``setting``'s bases and measured there."""
    from qiskit import ClassicalRegister

    out = without_measurements(circuit)
    out.add_register(ClassicalRegister(len(setting.qubits), "hal_meas"))
    for qubit, basis in zip(setting.qubits, setting.bases):
        if basis == "X":
            out.h(qubit)
        elif basis == "Y":
            out.sdg(qubit)
            out.h(qubit)
    creg = out.cregs[-1]
    for k, qubit in enumerate(setting.qubits):
        out.measure(qubit, creg[k])
    return out


def estimate_from_counts(sweep: Sweep, plan: list[Setting], counts: list[dict[str, int]]) -> tuple[list[float], list[float], int]:
    """Each observable's expectation value and standard error at one point, from
    the counts of each setting of ``plan`` (keys in Qiskit order: the setting's
    register, added last by :func:`rotated`, is the leftmost ``len(qubits)``
    characters, its bit k = ``qubits[k]`` read from the right). Settings are
    independent runs, so the variances of an observable's parts in each setting add up."""
    return _estimates(sweep, plan, _placement(plan), counts)


def _placement(plan: list[Setting]) -> dict[int, int]:
    """Pauli codes of each setting -> its index, for finding a term's setting by masks."""
    return {s: _masks("".join(setting.bases), setting.qubits)[0] for s, setting in enumerate(plan)}


def _estimates(sweep: Sweep, plan: list[Setting], placement: dict[int, int], counts: list[dict[str, int]]) -> tuple[list[float], list[float], int]:
    assert sweep.observables is not None
    evs, stds = [], []
    shots_used = 0
    for terms in sweep.observables:
        constant = sum(c for _, q, c in terms if not q)
        parts: dict[int, list[Term]] = {}
        for term in terms:
            if term[1]:
                parts.setdefault(_setting_of(term, placement), []).append(term)
        value, variance = constant, 0.0
        for s, group in parts.items():
            setting, table = plan[s], counts[s]
            width = len(setting.qubits)
            position = {qubit: width - 1 - k for k, qubit in enumerate(setting.qubits)}
            shots = sum(table.values())
            shots_used = max(shots_used, shots)
            if shots == 0:
                continue
            mean = square = 0.0
            for key, n in table.items():
                bits = key.replace(" ", "")
                x = 0.0
                for _, qubits, coeff in group:
                    parity = sum(bits[position[q]] == "1" for q in qubits) & 1
                    x += -coeff if parity else coeff
                mean += n * x
                square += n * x * x
            mean /= shots
            value += mean
            variance += max(square / shots - mean * mean, 0.0) / shots
        evs.append(value)
        stds.append(math.sqrt(variance))
    return evs, stds, shots_used


def _setting_of(term: Term, placement: dict[int, int]) -> int:
    codes, support = _masks(term[0], term[1])
    for s, setting_codes in placement.items():
        if setting_codes & support == codes:
            return s
    raise ValueError(f"no measurement setting for the term {term[0]} on {term[1]}")


# -- results --------------------------------------------------------------------------
def shape_estimates(sweep: Sweep, evs: list[list[float]], stds: list[list[float]]) -> tuple[Any, Any]:
    """``evs[observable][point]`` as the contract shapes them: [len(observables)]
    without parameters, [len(observables)][N] with them."""
    if sweep.swept:
        return [[float(v) for v in row] for row in evs], [[float(v) for v in row] for row in stds]
    return [float(row[0]) for row in evs], [float(row[0]) for row in stds]


def estimate_result(sweep: Sweep, evs: list[list[float]], stds: list[list[float]], shots: int | None, backend: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The result of an estimation job; ``evs[observable][point]``."""
    shaped_evs, shaped_stds = shape_estimates(sweep, evs, stds)
    return {"evs": shaped_evs, "stds": shaped_stds, "shots": shots, "parameters": sweep.parameters(), "backend": backend, "metadata": metadata}


def sampling_result(
    sweep: Sweep, counts: list[dict[str, int]], shots: int | None, backend: str, metadata: dict[str, Any], memory: list[list[str]] | None = None
) -> dict[str, Any]:
    """The result of a sampling job: one counts dict, or one per point for a sweep;
    with ``memory`` (per point, one bitstring per shot) shaped the same way."""
    if not sweep.swept:
        result = {"counts": counts[0], "shots": shots, "backend": backend, "metadata": metadata}
    else:
        result = {"counts": counts, "parameters": sweep.parameters(), "shots": shots, "backend": backend, "metadata": metadata}
    if memory is not None:
        result["memory"] = memory if sweep.swept else memory[0]
    return result


def estimate_by_counts(sweep: Sweep, plan: list[Setting], counts: list[dict[str, int]], shots: int | None, backend: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """An estimation job's result from the counts of its circuits, run in the order
    of :func:`executions` (point-major, then setting)."""
    per_point = [counts[i * len(plan) : (i + 1) * len(plan)] for i in range(sweep.num_points)]
    placement = _placement(plan)
    columns = [_estimates(sweep, plan, placement, point) for point in per_point]
    evs = [[column[0][o] for column in columns] for o in range(len(sweep.observables or ()))]
    stds = [[column[1][o] for column in columns] for o in range(len(sweep.observables or ()))]
    return estimate_result(sweep, evs, stds, shots, backend, {**metadata, "estimator": "counts", "settings": len(plan)})


def executions(circuit: Any, sweep: Sweep) -> list[Any]:
    """The circuits a provider without native sweeps or estimators runs for a job:
    each point's bound circuit; to estimate, each bound circuit once per setting of
    :func:`measurement_plan` (point-major)."""
    bound = bound_circuits(circuit, sweep)
    if not sweep.estimating:
        return bound
    plan = measurement_plan(sweep)
    return [rotated(b, setting) for b in bound for setting in plan]


def result_from_executions(
    circuit: Any, sweep: Sweep, counts: list[dict[str, int]], shots: int | None, backend: str, metadata: dict[str, Any],
    memory: list[list[str]] | None = None,
) -> dict[str, Any]:
    """A job's result from the counts (and, sampling, the per-shot ``memory``) of
    :func:`executions`, in their order."""
    if sweep.estimating:
        return estimate_by_counts(sweep, measurement_plan(sweep), counts, shots, backend, metadata)
    return sampling_result(sweep, counts, shots, backend, metadata, memory)
