"""Parameter sweeps and expectation values (API v1.1): what a quantum request's
``parameters``, ``observables`` and ``precision`` mean, checked against its
circuit, and the pieces every provider builds its own native form from.

A request is checked at submission (:func:`check`) and stored in one canonical
form (:class:`Sweep`, ``payload["sweep"]``): parameter columns in the circuit's
own order and observables as sparse Pauli terms ``(paulis, qubits, coeff)``,
where ``paulis[i]`` acts on ``qubits[i]``. That form names qubits by index, so
no provider has to think about label order: Qiskit's dense labels (rightmost
character = qubit 0) are turned into it here, once.

Providers with native sweeps and estimators use :meth:`Sweep.values_array` and
:meth:`Sweep.sparse_pauli_ops`; the others (Azure Quantum, devices without
program sets) run the bound circuits of :func:`bound_circuits` and, to
estimate, the basis-rotated circuits of :func:`measurement_plan`, whose counts
:func:`estimate_from_counts` turns into expectation values and standard errors
(qubit-wise commuting terms share one circuit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

#: most points one sweep may hold, and most parameter values in all
MAX_POINTS = 10_000
MAX_VALUES = 200_000
#: most observables one job may estimate, and most Pauli terms in all of them
MAX_OBSERVABLES = 1_000
MAX_TERMS = 20_000
#: most measurement settings per point where estimates are made from counts
MAX_SETTINGS = 1_000
_PAULIS = frozenset("IXYZ")

Term = tuple[str, tuple[int, ...], float]


@dataclass(frozen=True)
class Sweep:
    """A job's parameter points and observables, checked against its circuit.

    ``names``: the circuit's free parameters (in its own order, by name);
    ``points``: N rows of values, one per name (empty when the circuit has none);
    ``observables``: per observable its terms, or None for a sampling job.
    """

    names: tuple[str, ...] = ()
    points: tuple[tuple[float, ...], ...] = ()
    observables: tuple[tuple[Term, ...], ...] | None = None
    precision: float | None = None
    #: the width of the circuit the observables were checked against
    num_qubits: int = 0

    @property
    def swept(self) -> bool:
        return bool(self.names)

    @property
    def estimating(self) -> bool:
        return self.observables is not None

    @property
    def num_points(self) -> int:
        """How many times the circuit runs: N with parameters, else 1."""
        return len(self.points) if self.swept else 1

    def parameters(self) -> dict[str, list[float]] | None:
        """The request's ``parameters`` again (name -> N values), or None."""
        if not self.swept:
            return None
        return {name: [row[i] for row in self.points] for i, name in enumerate(self.names)}

    def binding(self, index: int) -> dict[str, float]:
        return dict(zip(self.names, self.points[index]))

    def values_array(self, order: list[str] | None = None) -> Any:
        """The points as a numpy array of shape (N, len(names)), columns in ``order`` (default: ``names``)."""
        import numpy as np

        columns = [self.names.index(name) for name in (order or self.names)]
        return np.asarray(self.points, dtype=float)[:, columns] if self.points else np.zeros((0, len(columns)))

    def sparse_pauli_ops(self, circuit: Any = None) -> list[Any]:
        """Each observable as a Qiskit ``SparsePauliOp`` on the job's qubits, or on the
        qubits of ``circuit``, a transpiled (ISA) form of the job's circuit: carried
        through its layout, as Qiskit Runtime's Estimator requires."""
        from qiskit.quantum_info import SparsePauliOp

        assert self.observables is not None
        ops = [SparsePauliOp.from_sparse_list([(p, list(q), c) for p, q, c in terms], self.num_qubits) for terms in self.observables]
        layout = getattr(circuit, "layout", None)
        return ops if layout is None else [op.apply_layout(layout) for op in ops]

    def pub_values(self, circuit: Any) -> Any:
        """The points as a primitive's PUB takes them for ``circuit`` (columns in its
        parameter order), or None without parameters."""
        return self.values_array([p.name for p in circuit.parameters]) if self.swept else None

    def pub_observables(self, circuit: Any) -> Any:
        """The observables as an Estimator PUB takes them for ``circuit``: through its
        layout, and shaped (observables, 1) to broadcast against a sweep's N points."""
        observables = self.sparse_pauli_ops(circuit)
        return [[op] for op in observables] if self.swept else observables

    def estimates_of(self, data: Any) -> tuple[list[list[float]], list[list[float]]]:
        """``evs`` and ``stds`` of an Estimator PUB's data, as ``[observable][point]`` lists."""
        rows = len(self.observables or ())
        return data.evs.reshape(rows, -1).tolist(), data.stds.reshape(rows, -1).tolist()

    def to_payload(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "points": [list(row) for row in self.points],
            "observables": None if self.observables is None else [[[p, list(q), c] for p, q, c in terms] for terms in self.observables],
            "precision": self.precision,
            "num_qubits": self.num_qubits,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any] | None) -> Sweep:
        if not data:
            return cls()
        observables = data.get("observables")
        return cls(
            names=tuple(data.get("names") or ()),
            points=tuple(tuple(float(v) for v in row) for row in data.get("points") or ()),
            observables=None if observables is None else tuple(tuple((p, tuple(q), float(c)) for p, q, c in terms) for terms in observables),
            precision=data.get("precision"),
            num_qubits=int(data.get("num_qubits") or 0),
        )


def of(payload: dict[str, Any]) -> Sweep:
    """The sweep of a stored job payload (a plain sampling job: an empty one)."""
    return Sweep.from_payload(payload.get("sweep"))


def estimating(payload: dict[str, Any]) -> bool:
    """Whether a stored job payload is an estimation job, without reading its points
    (the scheduler asks this of every job it queues)."""
    return (payload.get("sweep") or {}).get("observables") is not None


def num_points(payload: dict[str, Any]) -> int:
    """How many times a stored job's circuit runs, without reading its points."""
    return len((payload.get("sweep") or {}).get("points") or ()) or 1


# -- checking a request ---------------------------------------------------------------
def check(parameters: Any, observables: Any, precision: Any, circuit_parameters: list[str] | None, num_qubits: int) -> Sweep:
    """The request's sweep, or ``InvalidRequest`` (400) saying what is wrong.

    ``circuit_parameters``: the names of the circuit's free parameters (None
    when the circuit was not built, i.e. OpenQASM 2, which has none).
    """
    names = list(circuit_parameters or [])
    points = _check_parameters(parameters, names)
    terms = None if observables is None else _check_observables(observables, num_qubits)
    if precision is not None:
        if terms is None:
            raise InvalidRequest("precision is for estimation jobs: give 'observables' too, or leave 'precision' out")
        if isinstance(precision, bool) or not isinstance(precision, (int, float)) or not math.isfinite(precision) or not 0 < precision <= 1:
            raise InvalidRequest(f"precision must be a number above 0 and at most 1 (a target standard error), not {precision!r}")
        precision = float(precision)
    return Sweep(tuple(names), points, terms, precision, num_qubits)


def _check_parameters(parameters: Any, names: list[str]) -> tuple[tuple[float, ...], ...]:
    if parameters is None:
        if names:
            raise InvalidRequest(
                f"the circuit has free parameters ({_list(names)}) but the request gives no 'parameters': "
                f'give their values, e.g. "parameters": {{"{names[0]}": [0.0, 0.5]}}'
            )
        return ()
    if not isinstance(parameters, dict):
        raise InvalidRequest('parameters must be an object of name -> list of numbers, e.g. {"theta": [0.0, 0.5]}')
    if not names:
        raise InvalidRequest(
            "the circuit has no free parameters, so 'parameters' has nothing to set "
            "(declare them in OpenQASM 3: input float[64] theta;)"
        )
    missing = [n for n in names if n not in parameters]
    extra = [n for n in parameters if n not in names]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing values for {_list(missing)}")
        if extra:
            parts.append(f"{_list(extra)} {'is' if len(extra) == 1 else 'are'} not a parameter of the circuit")
        raise InvalidRequest(f"parameters: {'; '.join(parts)} (the circuit's parameters: {_list(names)})")
    columns = []
    length = None
    for name in names:
        values = parameters[name]
        if not isinstance(values, list):
            raise InvalidRequest(f"parameters.{name} must be a list of numbers (one per point), not {_kind(values)}")
        if not values:
            raise InvalidRequest(f"parameters.{name} is empty: a sweep has at least one point")
        if length is None:
            length = len(values)
        elif len(values) != length:
            raise InvalidRequest(f"every parameter needs the same number of values: {names[0]} has {length}, {name} has {len(values)}")
        for index, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidRequest(f"parameters.{name}[{index}] must be a number, not {_kind(value)}")
            if not math.isfinite(value):
                raise InvalidRequest(f"parameters.{name}[{index}] must be a finite number, not {value}")
        columns.append([float(v) for v in values])
    assert length is not None
    if length > MAX_POINTS:
        raise InvalidRequest(f"a sweep holds at most {MAX_POINTS} points; this one has {length}: split it into several jobs")
    if length * len(names) > MAX_VALUES:
        raise InvalidRequest(f"a sweep holds at most {MAX_VALUES} parameter values; this one has {length * len(names)}")
    return tuple(zip(*columns))


def _check_observables(observables: Any, num_qubits: int) -> tuple[tuple[Term, ...], ...]:
    if not isinstance(observables, list) or not observables:
        raise InvalidRequest('observables must be a non-empty list of observables, e.g. [{"ZZ": 1.0}]')
    if len(observables) > MAX_OBSERVABLES:
        raise InvalidRequest(f"at most {MAX_OBSERVABLES} observables per job")
    out = []
    total = 0
    for index, observable in enumerate(observables):
        where = f"observables[{index}]"
        if isinstance(observable, str):
            observable = {observable: 1.0}
        if isinstance(observable, dict):
            terms = [_dense_term(f"{where}[{label!r}]", label, coeff, num_qubits) for label, coeff in observable.items()]
        elif isinstance(observable, list):
            terms = [_sparse_term(f"{where}[{k}]", term, num_qubits) for k, term in enumerate(observable)]
        else:
            raise InvalidRequest(
                f'{where} must be a dense-label object ({{"ZZ": 1.0}}), a list of sparse terms ([["ZZ", [0, 1], 1.0]]) or a label, not {_kind(observable)}'
            )
        if not terms:
            raise InvalidRequest(f"{where} has no terms")
        total += len(terms)
        if total > MAX_TERMS:
            raise InvalidRequest(f"the observables hold more than {MAX_TERMS} Pauli terms in all")
        out.append(tuple(terms))
    return tuple(out)


def _coeff(where: str, coeff: Any) -> float:
    if isinstance(coeff, bool) or not isinstance(coeff, (int, float)) or not math.isfinite(coeff):
        raise InvalidRequest(f"{where}: the coefficient must be a finite real number, not {coeff!r}")
    return float(coeff)


def _dense_term(where: str, label: Any, coeff: Any, num_qubits: int) -> Term:
    if not isinstance(label, str) or not label or set(label.upper()) - _PAULIS:
        raise InvalidRequest(f"{where}: a Pauli label is made of I, X, Y and Z (rightmost = qubit 0), such as 'ZZ'")
    if len(label) != num_qubits:
        raise InvalidRequest(
            f"{where}: the label {label!r} has {len(label)} Pauli(s) but the circuit has {num_qubits} qubit(s): a dense label "
            f"names every qubit (rightmost = qubit 0); for some qubits only, use a sparse term [pauli, qubits, coeff]"
        )
    paulis, qubits = [], []
    for qubit, pauli in enumerate(reversed(label.upper())):
        if pauli != "I":
            paulis.append(pauli)
            qubits.append(qubit)
    return ("".join(paulis), tuple(qubits), _coeff(where, coeff))


def _sparse_term(where: str, term: Any, num_qubits: int) -> Term:
    if not (isinstance(term, list) and len(term) == 3 and isinstance(term[0], str) and isinstance(term[1], list)):
        raise InvalidRequest(f'{where}: a sparse term is [pauli, qubits, coeff], such as ["XZ", [2, 0], 0.5]')
    label, qubits, coeff = term
    if set(label.upper()) - _PAULIS:
        raise InvalidRequest(f"{where}: a Pauli string is made of I, X, Y and Z, not {label!r}")
    if len(label) != len(qubits):
        raise InvalidRequest(f"{where}: {label!r} names {len(label)} Pauli(s) for {len(qubits)} qubit(s)")
    for qubit in qubits:
        if isinstance(qubit, bool) or not isinstance(qubit, int) or not 0 <= qubit < num_qubits:
            raise InvalidRequest(f"{where}: qubit {qubit!r} is not in the circuit (it has qubits 0 to {num_qubits - 1})")
    if len(set(qubits)) != len(qubits):
        raise InvalidRequest(f"{where}: a qubit appears twice in {qubits}")
    pairs = sorted((q, p) for p, q in zip(label.upper(), qubits) if p != "I")
    return ("".join(p for _, p in pairs), tuple(q for q, _ in pairs), _coeff(where, coeff))


def _list(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return {dict: "an object", list: "a list"}.get(type(value), f"a {type(value).__name__}")


def circuit_parameter_names(circuit: Any) -> list[str]:
    """The names of a ``QuantumCircuit``'s free parameters, in its own (sorted) order."""
    return [p.name for p in circuit.parameters]


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


def sampling_result(sweep: Sweep, counts: list[dict[str, int]], shots: int | None, backend: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The result of a sampling job: one counts dict, or one per point for a sweep."""
    if not sweep.swept:
        return {"counts": counts[0], "shots": shots, "backend": backend, "metadata": metadata}
    return {"counts": counts, "parameters": sweep.parameters(), "shots": shots, "backend": backend, "metadata": metadata}


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


def result_from_executions(circuit: Any, sweep: Sweep, counts: list[dict[str, int]], shots: int | None, backend: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """A job's result from the counts of :func:`executions`, in their order."""
    if sweep.estimating:
        return estimate_by_counts(sweep, measurement_plan(sweep), counts, shots, backend, metadata)
    return sampling_result(sweep, counts, shots, backend, metadata)
