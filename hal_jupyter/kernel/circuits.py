"""Turn what a notebook holds (a Qiskit or Braket circuit, or QASM text) into OpenQASM."""

from __future__ import annotations

from typing import Any

from ..engine.errors import InvalidRequest

# Braket gate name -> (OpenQASM 2 name in qelib1.inc, angle parameter names)
_BRAKET_GATES = {
    "H": "h", "X": "x", "Y": "y", "Z": "z", "S": "s", "Si": "sdg", "T": "t", "Ti": "tdg", "V": "sx", "Vi": "sxdg",
    "I": "id", "Rx": "rx", "Ry": "ry", "Rz": "rz", "PhaseShift": "u1", "CNot": "cx", "CZ": "cz", "CY": "cy",
    "Swap": "swap", "CCNot": "ccx", "CSwap": "cswap", "CPhaseShift": "cu1",
}


def to_qasm(obj: Any) -> str:
    """OpenQASM text for a ``QuantumCircuit``, a Braket ``Circuit`` or a string."""
    if isinstance(obj, str):
        return obj
    kind = f"{type(obj).__module__}.{type(obj).__name__}"
    if kind.startswith("qiskit.") and type(obj).__name__ == "QuantumCircuit":
        return _from_qiskit(obj)
    if kind.startswith("braket.") and type(obj).__name__ == "Circuit":
        return _from_braket(obj)
    raise InvalidRequest(f"cannot submit a {type(obj).__name__}: give a Qiskit QuantumCircuit, a Braket Circuit or OpenQASM text")


def _from_qiskit(circuit: Any) -> str:
    from qiskit import qasm2, qasm3

    try:
        return qasm2.dumps(circuit)
    except Exception:  # noqa: BLE001 - features OpenQASM 2 cannot express: use OpenQASM 3
        return qasm3.dumps(circuit)


def _from_braket(circuit: Any) -> str:
    """Braket numbers qubits by index and measures all of them unless told; its
    bit order (qubit 0 leftmost) becomes Qiskit's (bit 0 rightmost) because
    qubit i is measured into classical bit i here."""
    qubits = sorted(int(q) for q in circuit.qubits)
    index = {q: i for i, q in enumerate(qubits)}
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{len(qubits)}];", f"creg c[{len(qubits)}];"]
    for instruction in circuit.instructions:
        name = type(instruction.operator).__name__
        gate = _BRAKET_GATES.get(name)
        if gate is None:
            raise InvalidRequest(f"the Braket gate {name} has no OpenQASM 2 equivalent here")
        angle = getattr(instruction.operator, "angle", None)
        args = ", ".join(f"q[{index[int(q)]}]" for q in instruction.target)
        controls = ", ".join(f"q[{index[int(q)]}]" for q in getattr(instruction, "control", []))
        targets = f"{controls}, {args}" if controls else args
        lines.append(f"{gate}({float(angle)!r}) {targets};" if angle is not None else f"{gate} {targets};")
    for qubit in qubits:
        lines.append(f"measure q[{index[qubit]}] -> c[{index[qubit]}];")
    return "\n".join(lines) + "\n"
