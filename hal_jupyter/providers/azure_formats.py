"""The formats of Azure Quantum's targets, free of workspace code: a circuit as a
target takes it (IonQ's ``ionq.circuit.v1`` JSON, Quantinuum's OpenQASM 2), and a
job's results as counts in Qiskit's bit order (and, where asked, each shot's
bitstring: Quantinuum returns every shot, IonQ only probabilities).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import quantum

# Qiskit gate -> IonQ gate (controls taken from the Qiskit gate's control qubits)
IONQ_GATES = {"x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti", "sx": "v",
              "sxdg": "vi", "rx": "rx", "ry": "ry", "rz": "rz", "swap": "swap", "cx": "cnot", "ccx": "cnot"}
QASM2_GATES = {"u1", "u2", "u3", "u", "p", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry",
               "rz", "cz", "cy", "swap", "ch", "ccx", "crz", "cu1", "cu3", "rzz", "rxx"}
#: what one Azure job gave: counts in Qiskit's order, and each shot's bitstring where the job asked for memory
Readout = tuple[dict[str, int], list[str] | None]


def ionq_program(circuit: Any) -> dict[str, Any]:
    """IonQ's ``ionq.circuit.v1`` for a circuit of IonQ-translatable gates (measurements implied)."""
    from qiskit import transpile

    circuit = quantum.without_impostors(circuit, quantum.reserved_operations(), "IonQ")
    lowered = transpile(circuit, basis_gates=list(IONQ_GATES) + ["measure"], optimization_level=0)
    gates = []
    for instruction in lowered.data:
        name = instruction.operation.name
        if name in ("measure", "barrier"):
            continue
        qubits = [lowered.find_bit(q).index for q in instruction.qubits]
        gate: dict[str, Any] = {"gate": IONQ_GATES[name]}
        if name in ("cx", "ccx"):
            gate.update(controls=qubits[:-1], targets=qubits[-1:])
        else:
            gate["targets"] = qubits
        if instruction.operation.params:
            gate["rotation"] = float(instruction.operation.params[0])
        gates.append(gate)
    return {"qubits": circuit.num_qubits, "circuit": gates}


def readout(circuit: Any, results: dict[str, Any], shots: int, memory: bool = False) -> Readout:
    """An Azure job's results as counts keyed in Qiskit's order, every classical bit of
    ``circuit`` (the one it ran, up to bound values), and with ``memory`` each shot's key
    (Quantinuum's per-shot results; the provider refuses memory on IonQ targets)."""
    if "histogram" in results:  # IonQ: probabilities keyed by the state as an integer, qubit 0 least significant
        n = circuit.num_qubits
        left_first = {format(int(state), f"0{n}b")[::-1]: round(p * shots) for state, p in results["histogram"].items()}
        return quantum.qiskit_counts(left_first, list(range(n)), quantum.final_measurements(circuit), circuit.num_clbits), None
    # Quantinuum: one bitstring per shot for each register, bit 0 rightmost (Qiskit's order)
    names = [creg.name for creg in circuit.cregs]
    keys: Iterable[str] = ("".join(reversed(shot)) for shot in zip(*(results[name] for name in names)))
    if memory:
        keys = list(keys)
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts, keys if isinstance(keys, list) else None


def program_for(circuit: Any, target: str) -> Any:
    """The circuit in the target's input format: IonQ JSON, or OpenQASM 2 for Quantinuum."""
    if target.split(".", 1)[0] == "ionq":
        return ionq_program(circuit)
    from qiskit import qasm2

    return qasm2.dumps(quantum.without_impostors(circuit, quantum.reserved_operations(), target))


__all__ = ["IONQ_GATES", "QASM2_GATES", "Readout", "ionq_program", "program_for", "readout"]
