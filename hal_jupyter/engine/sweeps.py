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
program sets) run the circuits of :mod:`.estimation` (bound points, and
basis-rotated circuits to estimate) and make results from their counts there.
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
