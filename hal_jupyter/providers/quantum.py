"""What the cloud quantum providers (IBM Quantum, Braket, Azure Quantum) share:
building the circuit of a job, checking it against a target at submission,
normalising counts to Qiskit's bit order, and the cost of a batch."""

from __future__ import annotations

from typing import Any

from ..engine.errors import InvalidCircuit, InvalidRequest
from ..engine.models import CostEstimate
from ..engine.qasm import parse_circuit
from .base import JobSpec

#: operations every target takes or that only annotate the circuit
_ALWAYS = {"barrier", "measure"}


def circuit_of(job: JobSpec) -> Any:
    """The job's ``QuantumCircuit`` (parsed at submission for OpenQASM 3, else now)."""
    if job.parsed is not None:
        return job.parsed
    if job.summary is not None and job.summary.circuit is not None:
        return job.summary.circuit
    return parse_circuit(job.payload["circuit"])


def check_circuit(
    job: JobSpec,
    where: str,
    num_qubits: int | None,
    native: set[str],
    *,
    reset: bool = True,
    mid_circuit_measurement: bool = True,
) -> Any:
    """Raise ``InvalidCircuit`` (400) when the job's circuit cannot run on ``where``:
    too many qubits, nothing measured, an operation that has no translation to
    the target's ``native`` operations, a reset or mid-circuit measurement the
    target does not take. Returns the circuit."""
    from qiskit.circuit import Gate
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary

    circuit = circuit_of(job)
    if num_qubits is not None and circuit.num_qubits > num_qubits:
        raise InvalidCircuit(f"the circuit uses {circuit.num_qubits} qubits; {where} has {num_qubits}")
    if circuit.num_clbits == 0 or not any(i.operation.name == "measure" for i in circuit.data):
        raise InvalidCircuit("the circuit measures nothing, so it has no counts: add a measurement")
    untranslatable, measured = set(), set()
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if name == "measure":
            measured.update(instruction.qubits)
            continue
        if measured.intersection(instruction.qubits) and not mid_circuit_measurement and name != "barrier":
            raise InvalidCircuit(f"{where} does not take mid-circuit measurement: a {name} acts on a qubit after it was measured")
        if name == "reset" and not reset:
            raise InvalidCircuit(f"{where} does not take reset")
        if name in native or name in _ALWAYS or name == "reset":
            continue
        if isinstance(operation, Gate) and (SessionEquivalenceLibrary.has_entry(operation) or operation.definition is not None):
            continue
        untranslatable.add(name)
    if untranslatable:
        raise InvalidCircuit(f"{where} cannot run {', '.join(sorted(untranslatable))}: no translation to its operations ({', '.join(sorted(native))})")
    return circuit


def check_options(provider: str, options: dict[str, Any], allowed: dict[str, type]) -> None:
    for key, value in options.items():
        expected = allowed.get(key)
        if expected is None:
            raise InvalidRequest(f"unknown option {key!r} for {provider}; allowed: {', '.join(allowed) or 'none'}")
        if type(value) is not expected:
            raise InvalidRequest(f"option {key!r} must be an {expected.__name__}")


def qiskit_counts(counts: dict[str, int], measured_qubits: list[int], clbit_of_qubit: dict[int, int], num_clbits: int) -> dict[str, int]:
    """Counts keyed by bitstrings in measured-qubit order (qubit ``measured_qubits[0]``
    leftmost, as Braket and IonQ give them) turned into Qiskit's classical-bit order
    (bit 0 rightmost); clbits never written read 0."""
    out: dict[str, int] = {}
    for key, count in counts.items():
        bits = ["0"] * num_clbits
        for position, qubit in enumerate(measured_qubits):
            clbit = clbit_of_qubit.get(qubit)
            if clbit is not None:
                bits[num_clbits - 1 - clbit] = key[position]
        text = "".join(bits)
        out[text] = out.get(text, 0) + count
    return out


def final_measurements(circuit: Any) -> dict[int, int]:
    """qubit index -> clbit index of the circuit's measurements (the last one wins)."""
    mapping = {}
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            mapping[circuit.find_bit(instruction.qubits[0]).index] = circuit.find_bit(instruction.clbits[0]).index
    return mapping


def batch_costs(job_ids: list[str], alone: float, fixed: float, currency: str, source: str, free: bool = False) -> dict[str, CostEstimate]:
    """Each job's share of a batch that pays the provider's fixed per-job (or
    per-task) term once, and what batching saved against submitting them alone."""
    n = len(job_ids)
    total = alone * n - fixed * (n - 1)
    saving = fixed * (n - 1)
    share = 0.0 if free else round(total / n, 6)
    basis = f"1/{n} of one provider call: {currency} {total:.4f} for the batch, {currency} {alone * n:.4f} if sent alone (batching saves {currency} {saving:.4f}); {source}"
    if free:
        basis = "free here; on the device: " + basis
    return {job_id: CostEstimate(currency=currency, amount=share, basis=basis) for job_id in job_ids}
