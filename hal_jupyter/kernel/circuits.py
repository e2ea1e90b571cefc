"""Turn what a notebook holds into the fields of a quantum request: a Qiskit or
Braket circuit (or QASM text) into OpenQASM, parameter values into
``parameters`` and Qiskit, Braket or JSON observables into ``observables`` (API v1.1).

Parameter names: OpenQASM 3 escapes names it cannot declare (``φ[0]`` becomes
``_φ_0_``, ``input`` becomes ``input_0``), which a user could not guess. So a
circuit's parameters are first renamed to readable ASCII identifiers (``θ`` ->
``theta``, ``φ[0]`` -> ``phi_0``), the names the dumped text really declares are
read back from it, and the user's keys (``Parameter`` and ``ParameterVector``
objects, their names or the new ones) are translated to those.

Qubit order: the sparse form ``[pauli, qubits, coeff]`` names qubits by index
(``pauli[i]`` acts on ``qubits[i]``), so every observable is turned into it here
and no label order travels further. Qiskit's labels put qubit 0 rightmost, a
Braket ``PauliString`` puts it leftmost. A Braket circuit's qubits are numbered
0..n-1 in order in the text: the targets of Braket observables given with it
are renumbered the same way, and observables without targets (a PauliString,
``Z() @ X()``) act on its qubits by position.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..engine.errors import InvalidRequest

# Braket gate name -> OpenQASM 2 name in qelib1.inc
_BRAKET_GATES = {
    "H": "h", "X": "x", "Y": "y", "Z": "z", "S": "s", "Si": "sdg", "T": "t", "Ti": "tdg", "V": "sx", "Vi": "sxdg",
    "I": "id", "Rx": "rx", "Ry": "ry", "Rz": "rz", "PhaseShift": "u1", "CNot": "cx", "CZ": "cz", "CY": "cy",
    "Swap": "swap", "CCNot": "ccx", "CSwap": "cswap", "CPhaseShift": "cu1",
}
# ... where OpenQASM 3's stdgates.inc differs (a circuit with free parameters is OpenQASM 3)
_BRAKET_GATES_3 = {**_BRAKET_GATES, "Vi": "inv @ sx", "PhaseShift": "p", "CPhaseShift": "cp"}
#: names a Braket circuit's text uses for something else: its parameters are renamed around them
_BRAKET_TAKEN = frozenset({*_BRAKET_GATES.values(), "p", "cp", "inv", "q", "c", "pi", "tau", "euler"})
_INPUT = re.compile(r"^input float\[64\] (\S+);$", re.M)
_IDENTIFIER_START = re.compile(r"[A-Za-z_]")
#: a coefficient's imaginary part below this (relative) is rounding, not a non-Hermitian observable
_IMAGINARY_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Program:
    """A circuit as OpenQASM text, and how the user's names map into it."""

    text: str
    #: a parameter's name as the user knows it, or as the text declares it -> as the text declares it
    #: (None: text given as is, whose names are the user's own)
    names: dict[str, str] | None = None
    #: a ParameterVector's name -> the text's name of each element (None: not in the circuit)
    vectors: dict[str, list[str | None]] | None = None
    #: a Braket circuit's qubit label -> its index in the text
    qubits: dict[int, int] | None = None

    def bind(self, parameters: Any) -> dict[str, list[float]]:
        """The request's ``parameters``: every key as the text names it, every value a list (one per point)."""
        if not isinstance(parameters, dict):
            raise InvalidRequest("parameters must be a dict of parameter (or its name) -> values, e.g. {theta: np.linspace(0, 3.14, 20)}")
        out: dict[str, list[float]] = {}
        for key, values in parameters.items():
            name = getattr(key, "name", key)
            if not isinstance(name, str):
                raise InvalidRequest(f"a key of parameters must be a Parameter or a name, not {type(key).__name__}")
            if self.names is None:
                out[name] = _column(name, values)
            elif self.vectors and name in self.vectors and (type(key).__name__ == "ParameterVector" or name not in self.names):
                elements = self.vectors[name]
                rows = _rows(name, values, len(elements))
                out.update((element, rows[:, j].tolist()) for j, element in enumerate(elements) if element is not None)
            elif name in self.names:
                out[self.names[name]] = _column(name, values)
            else:
                known = ", ".join(sorted({*self.names, *(self.vectors or {})})) or "none"
                raise InvalidRequest(f"{name!r} is not a parameter of the circuit (its parameters: {known})")
        return out


def request_fields(obj: Any, parameters: Any = None, observables: Any = None) -> dict[str, Any]:
    """``circuit`` (and ``parameters``, ``observables`` when given) of a quantum request for ``obj``."""
    program = to_program(obj)
    fields: dict[str, Any] = {"circuit": program.text}
    if parameters is not None:
        fields["parameters"] = program.bind(parameters)
    if observables is not None:
        fields["observables"] = to_observables(observables, program.qubits)
    return fields


def to_program(obj: Any) -> Program:
    """OpenQASM for a ``QuantumCircuit``, a Braket ``Circuit`` or a string (taken as is)."""
    if isinstance(obj, str):
        return Program(obj)
    if _kind_of(obj, "qiskit.", "QuantumCircuit"):  # subclasses too: QAOAAnsatz, library circuits
        return _from_qiskit(obj)
    if _kind_of(obj, "braket.", "Circuit"):
        return _from_braket(obj)
    raise InvalidRequest(f"cannot submit a {type(obj).__name__}: give a Qiskit QuantumCircuit, a Braket Circuit or OpenQASM text")


def _kind_of(obj: Any, package: str, name: str) -> bool:
    """Whether ``obj`` is a ``name`` of ``package`` or of a subclass (without importing the package)."""
    return any(c.__name__ == name and c.__module__.startswith(package) for c in type(obj).__mro__)


# -- parameters ------------------------------------------------------------------------
def _ascii(name: str) -> str:
    """``name`` as an ASCII identifier: Greek letters spelled out (``θ`` -> ``theta``), other characters ``_``."""
    out = []
    for char in name:
        if char.isascii() and (char.isalnum() or char == "_"):
            out.append(char)
            continue
        words = unicodedata.name(char, "").split()
        if words[:1] == ["GREEK"] and len(words) > 3 and words[2] == "LETTER":
            out.append(words[3].capitalize() if words[1] == "CAPITAL" else words[3].lower())
        else:
            out.append("_")
    text = "".join(out)
    return text if _IDENTIFIER_START.match(text) else f"p_{text}"


def _readable(names: list[str], taken: frozenset[str] = frozenset()) -> list[str]:
    """A distinct ASCII identifier for each name: valid ones kept, the others spelled
    out (after them, so a kept name never changes), ``_1``, ``_2``... on a clash."""
    chosen: list[str | None] = [n if n.isascii() and n.isidentifier() and n not in taken else None for n in names]
    used = set(taken) | {n for n in chosen if n is not None}
    for i, name in enumerate(names):
        if chosen[i] is None:
            base = candidate = _ascii(name)
            suffix = 0
            while candidate in used:
                suffix += 1
                candidate = f"{base}_{suffix}"
            chosen[i] = candidate
            used.add(candidate)
    return [n for n in chosen if n is not None]


def _column(name: str, values: Any) -> list[float]:
    """One parameter's values: a number, or a list or 1-D array of them (one per point)."""
    import numpy as np

    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InvalidRequest(f"parameters[{name!r}] must be numbers, not {type(values).__name__} {values!r:.60}") from None
    if array.ndim > 1:
        raise InvalidRequest(f"parameters[{name!r}] must be a number or a 1-D list of numbers (one per point), not an array of shape {array.shape}")
    return np.atleast_1d(array).tolist()


def _rows(name: str, values: Any, width: int) -> Any:
    """A ParameterVector's values: one row of ``width`` numbers per point (Qiskit's convention: the last axis is the vector)."""
    import numpy as np

    try:
        array = np.atleast_2d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise InvalidRequest(f"parameters[{name!r}] must be numbers, not {type(values).__name__}") from None
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidRequest(f"parameters[{name!r}]: a ParameterVector of {width} takes a 2-D array of points x {width}, not one of shape {array.shape}")
    return array


# -- Qiskit ----------------------------------------------------------------------------
def _from_qiskit(circuit: Any) -> Program:
    from qiskit import qasm2, qasm3

    if not circuit.parameters:
        try:
            return Program(qasm2.dumps(circuit), {}, {})
        except Exception:  # noqa: BLE001 - features OpenQASM 2 cannot express: use OpenQASM 3
            return Program(qasm3.dumps(circuit), {}, {})
    from qiskit.circuit import Parameter

    parameters = list(circuit.parameters)
    chosen = _readable([_plain_name(p) for p in parameters])
    renamed = circuit.assign_parameters({p: Parameter(n) for p, n in zip(parameters, chosen) if n != p.name})
    text = qasm3.dumps(renamed)
    declared = _INPUT.findall(text)
    if len(declared) != len(renamed.parameters):
        raise InvalidRequest(f"cannot declare the circuit's {len(parameters)} parameters as OpenQASM 3 inputs (one used as a loop variable?)")
    # the exporter declares the parameters in the circuit's order, renaming where it must
    final = dict(zip((p.name for p in renamed.parameters), declared))
    names: dict[str, str] = {}
    vectors: dict[str, list[str | None]] = {}
    for parameter, new in zip(parameters, chosen):
        names[parameter.name] = names[final[new]] = final[new]
        vector = getattr(parameter, "vector", None)
        if vector is not None:
            vectors.setdefault(vector.name, [None] * len(vector))[parameter.index] = final[new]
    return Program(text, names, vectors)


def _plain_name(parameter: Any) -> str:
    """What a parameter is called before escaping: ``φ[0]`` of a ParameterVector reads ``φ_0``."""
    vector = getattr(parameter, "vector", None)
    return parameter.name if vector is None else f"{vector.name}_{parameter.index}"


# -- Braket ----------------------------------------------------------------------------
def _from_braket(circuit: Any) -> Program:
    """Braket numbers qubits by index and measures all of them unless told; its
    bit order (qubit 0 leftmost) becomes Qiskit's (bit 0 rightmost) because
    qubit i is measured into classical bit i here. With free parameters the text
    is OpenQASM 3, each declared ``input float[64]``."""
    qubits = sorted(int(q) for q in circuit.qubits)
    index = {q: i for i, q in enumerate(qubits)}
    free = sorted(p.name for p in circuit.parameters)
    chosen = dict(zip(free, _readable(free, _BRAKET_TAKEN)))
    if free:
        gates = _BRAKET_GATES_3
        lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', *(f"input float[64] {chosen[n]};" for n in free)]
        lines += [f"qubit[{len(qubits)}] q;", f"bit[{len(qubits)}] c;"]
    else:
        gates = _BRAKET_GATES
        lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{len(qubits)}];", f"creg c[{len(qubits)}];"]
    for instruction in circuit.instructions:
        name = type(instruction.operator).__name__
        gate = gates.get(name)
        if gate is None:
            raise InvalidRequest(f"the Braket gate {name} has no OpenQASM equivalent here")
        angle = getattr(instruction.operator, "angle", None)
        args = ", ".join(f"q[{index[int(q)]}]" for q in instruction.target)
        controls = ", ".join(f"q[{index[int(q)]}]" for q in getattr(instruction, "control", []))
        targets = f"{controls}, {args}" if controls else args
        lines.append(f"{gate}({_angle(angle, chosen)}) {targets};" if angle is not None else f"{gate} {targets};")
    for qubit in qubits:
        q = index[qubit]
        lines.append(f"c[{q}] = measure q[{q}];" if free else f"measure q[{q}] -> c[{q}];")
    return Program("\n".join(lines) + "\n", {**chosen, **{n: n for n in chosen.values()}}, {}, index)


def _angle(angle: Any, names: dict[str, str]) -> str:
    """A gate's angle as OpenQASM: a float, or a FreeParameter expression (``2*theta``) in the text's names."""
    expression = getattr(angle, "expression", None)
    if expression is None:
        return repr(float(angle))
    import sympy

    return str(expression.xreplace({sympy.Symbol(old): sympy.Symbol(new) for old, new in names.items()}))


# -- observables -----------------------------------------------------------------------
def to_observables(observables: Any, qubits: dict[int, int] | None = None) -> list[Any]:
    """The request's ``observables`` from one observable or a list of them.

    Each may be a Qiskit ``SparsePauliOp``, ``Pauli`` or ``SparseObservable``; a
    Braket observable (``Z(0) @ X(1)``, sums of them) or ``PauliString``; or
    already JSON: a label, a dense ``{label: coeff}`` dict or sparse terms (numpy
    numbers become plain ones). Objects become sparse terms ``[pauli, qubits,
    coeff]``; ``qubits`` renumbers Braket targets as the Braket circuit's text does.
    """
    items = list(observables) if isinstance(observables, (list, tuple)) else [observables]
    return [_observable(item, qubits) for item in items]


def _observable(obj: Any, qubits: dict[int, int] | None) -> Any:
    if isinstance(obj, (str, dict, list, tuple)):
        return _plain(obj)
    module = type(obj).__module__
    if module.startswith("qiskit."):
        return _from_qiskit_operator(obj)
    if module.startswith("braket."):
        return _from_braket_observable(obj, qubits)
    raise InvalidRequest(
        f"cannot use a value of type {type(obj).__name__} as an observable: give a Qiskit SparsePauliOp or Pauli, a Braket observable "
        "or PauliString, a Pauli label ('ZZ'), a dense {label: coeff} dict or sparse [pauli, qubits, coeff] terms"
    )


def _plain(value: Any) -> Any:
    """``value`` ready for JSON: numpy arrays and numbers as lists and Python numbers, complex numbers real."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, complex):
        return _real(value)
    return value


def _real(coeff: Any) -> float:
    """A coefficient as a float; an observable is Hermitian, so an imaginary part is an error."""
    try:
        value = complex(coeff)
    except TypeError:
        raise InvalidRequest(f"an observable's coefficient must be a number, not {coeff!r:.60} (assign its parameters first)") from None
    if abs(value.imag) > _IMAGINARY_TOLERANCE * max(1.0, abs(value.real)):
        raise InvalidRequest(f"the coefficient {value} is not real: an observable must be Hermitian (real coefficients on Pauli terms)")
    return value.real


def _from_qiskit_operator(obj: Any) -> list[list[Any]]:
    """Sparse terms of a Qiskit operator; ``to_sparse_list`` already names qubits by index."""
    from qiskit.quantum_info import SparsePauliOp

    name = type(obj).__name__
    if name == "SparseObservable":
        obj = SparsePauliOp.from_sparse_observable(obj)  # its projectors (+, -, 0, 1, r, l) as Pauli sums
    elif name != "SparsePauliOp":
        try:
            obj = SparsePauliOp(obj)
        except Exception:  # noqa: BLE001 - anything Qiskit cannot read as Pauli terms
            raise InvalidRequest(f"cannot use a Qiskit {name} as an observable: give a SparsePauliOp, a Pauli or a SparseObservable") from None
    return [[label, [int(q) for q in where], _real(coeff)] for label, where, coeff in obj.to_sparse_list()]


def _from_braket_observable(obj: Any, qubits: dict[int, int] | None) -> list[list[Any]]:
    """Sparse terms of a Braket observable: a ``PauliString`` ("+ZX": Z on qubit 0,
    X on qubit 1), or products and sums of I, X, Y, Z (factors without targets act
    on the qubits in order: 0, 1, ...)."""
    name = type(obj).__name__
    if name == "PauliString":
        label = str(obj)
        letters = label.lstrip("+-")
        acted = [(p, i) for i, p in enumerate(letters) if p != "I"]
        return [["".join(p for p, _ in acted), [i for _, i in acted], -1.0 if label.startswith("-") else 1.0]]
    summands = obj.summands if name == "Sum" else (obj,)
    return [_braket_term(term, qubits) for term in summands]


def _braket_term(term: Any, qubits: dict[int, int] | None) -> list[Any]:
    if type(term).__name__ == "TensorProduct":
        factors = term.factors
        coeff = term.coefficient * math.prod(f.coefficient for f in factors)
    else:
        factors, coeff = (term,), term.coefficient
    paulis, where = [], []
    for position, factor in enumerate(factors):
        pauli = type(factor).__name__
        if pauli not in ("I", "X", "Y", "Z"):
            raise InvalidRequest(f"the Braket observable {pauli} is not a Pauli product: use products and sums of I, X, Y and Z")
        if pauli != "I":
            paulis.append(pauli)
            where.append(_braket_qubit(int(factor.targets[0]), qubits) if factor.targets else position)
    return ["".join(paulis), where, _real(coeff)]


def _braket_qubit(label: int, qubits: dict[int, int] | None) -> int:
    if qubits is None:
        return label
    if label not in qubits:
        raise InvalidRequest(f"the observable acts on qubit {label}, which the Braket circuit does not use (it uses {', '.join(map(str, qubits))})")
    return qubits[label]
