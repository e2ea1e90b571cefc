"""What the quantum providers share: building the circuit of a job, checking it
against a target at submission, normalising counts to Qiskit's bit order, and
the cost of a batch.

Simulators, transpilers and converters read an instruction by its *name*: Aer
compiles any operation named ``unitary`` as a matrix gate (and fails with an
IndexError on a user's ``gate unitary``), the basis translator swaps a user's
``gate rzz`` for Qiskit's RZZ, the Braket and IonQ converters map ``cx`` to
CNOT. Circuits from the wild carry such gates (public benchmark suites, and
``qasm3.dumps`` itself defines ``rzz``, ``ccz`` or ``mcx`` as user gates), so
:func:`without_impostors` replaces every gate that merely borrows a reserved
name by its own definition before a circuit goes anywhere.

A job whose circuit fails on its own before the provider call (conversion,
transpilation, the SDK's checks) is not sent: :meth:`QuantumProvider.prepare_each`
sets it apart with its reason, the submission says so (``Submission.not_sent``)
and the engine fails that job, its reason in the store, while the rest of the
batch runs.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from ..engine.errors import InvalidCircuit, InvalidRequest
from ..engine.models import CostEstimate
from ..engine.qasm import parse_circuit
from ..engine import estimation, sweeps
from ..engine.contract import JobSpec, Provider

T = TypeVar("T")
#: operations every target takes or that only annotate the circuit
_ALWAYS = {"barrier", "measure"}
#: gate definitions nested deeper than this are refused (OpenQASM files nest a few levels)
MAX_DEFINITION_DEPTH = 64
#: how long a provider's backend listing is reused before it is asked for again
LISTING_TTL_S = 60.0
NOTHING_MEASURED = "the circuit measures nothing, so it has no counts: add a measurement, or give 'observables' to estimate"


class QuantumProvider(Provider):
    """What the cloud quantum providers share: jobs prepared one by one, so that one
    that cannot be prepared is not sent (and says why) while the others go."""

    kind = "quantum"

    @staticmethod
    def prepare_each(jobs: Iterable[JobSpec], prepare: Callable[[JobSpec], T]) -> tuple[dict[str, T], dict[str, str]]:
        """``prepare`` each job (convert, transpile): the prepared ones by job id, in
        order, and the reason each other one is not sent."""
        prepared: dict[str, T] = {}
        not_sent: dict[str, str] = {}
        for job in jobs:
            try:
                prepared[job.id] = prepare(job)
            except Exception as exc:  # noqa: BLE001 - this job's own failure: it is not sent
                not_sent[job.id] = failure_reason(exc)
        return prepared, not_sent


class Listing(Generic[T]):
    """A provider's listing (backends, devices, targets), asked for at most once per ``ttl_s``."""

    def __init__(self, ttl_s: float = LISTING_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._value: tuple[float, T] | None = None
        self._guard = threading.Lock()

    def get(self, fetch: Callable[[], T]) -> T:
        with self._guard:
            cached = self._value
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        value = fetch()
        with self._guard:
            self._value = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        with self._guard:
            self._value = None


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
    reserved: dict[str, type] | None = None,
) -> Any:
    """Raise ``InvalidCircuit`` (400) when the job's circuit cannot run on ``where``:
    too many qubits, nothing measured, an operation that has no translation to
    the target's ``native`` operations (looking inside user gate definitions and
    control-flow blocks), an opaque gate under a reserved name, a reset or
    mid-circuit measurement the target does not take. Returns the circuit as the
    target will take it (see :func:`without_impostors`)."""
    circuit = circuit_of(job)
    if num_qubits is not None and circuit.num_qubits > num_qubits:
        raise InvalidCircuit(f"the circuit uses {circuit.num_qubits} qubits; {where} has {num_qubits}")
    if sweeps.estimating(job.payload):
        circuit = estimation.without_measurements(circuit)  # an estimate measures the observables itself
    elif circuit.num_clbits == 0 or not any(i.operation.name == "measure" for i in circuit.data):
        raise InvalidCircuit(NOTHING_MEASURED)
    measured: set[Any] = set()
    for instruction in circuit.data:
        name = instruction.operation.name
        if measured.intersection(instruction.qubits) and not mid_circuit_measurement and name != "barrier":
            raise InvalidCircuit(f"{where} does not take mid-circuit measurement: a {name} acts on a qubit after it was measured")
        if name == "measure":
            measured.update(instruction.qubits)
        if name == "reset" and not reset:
            raise InvalidCircuit(f"{where} does not take reset")
    circuit = without_impostors(circuit, reserved if reserved is not None else reserved_operations(), where)
    untranslatable = _untranslatable(circuit, native, {})
    if untranslatable:
        raise InvalidCircuit(f"{where} cannot run {', '.join(sorted(untranslatable))}: no translation to its operations ({', '.join(sorted(native))})")
    return circuit


def _untranslatable(circuit: Any, native: set[str], seen: dict[str, set[str]]) -> set[str]:
    """Names of the operations in ``circuit`` (and in the definitions of its user
    gates and its control-flow blocks) that nothing translates to ``native``."""
    from qiskit.circuit import ControlFlowOp, Gate
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary

    found: set[str] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if name in native or name in _ALWAYS or name == "reset":
            if isinstance(operation, ControlFlowOp):
                for block in operation.blocks:
                    found |= _untranslatable(block, native, seen)
            continue
        if not isinstance(operation, Gate):
            found.add(name)
            continue
        if SessionEquivalenceLibrary.has_entry(operation):
            continue
        if name not in seen:
            seen[name] = set()  # a definition cannot use its own gate; this also ends any cycle
            definition = operation.definition
            seen[name] = {name} if definition is None else _untranslatable(definition, native, seen)
        found |= seen[name]
    return found


@functools.cache
def _standard_operations() -> dict[str, type]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return {name: operation.base_class for name, operation in get_standard_gate_name_mapping().items()}


def reserved_operations(target: Any = None) -> dict[str, type]:
    """Names that simulators, transpilers and converters read as one particular
    instruction, with that instruction's class: Qiskit's standard gates (which
    are also the names its equivalence library knows), and the operations of
    ``target`` (a ``qiskit.transpiler.Target``, such as Aer's) where given."""
    reserved = dict(_standard_operations())
    if target is not None:
        for name in target.operation_names:
            operation = target.operation_from_name(name)
            reserved[name] = operation if isinstance(operation, type) else getattr(operation, "base_class", type(operation))
    return reserved


def impostors(circuit: Any, reserved: dict[str, type]) -> dict[str, Any]:
    """The gates of ``circuit`` to unroll before name-reading code sees it: those
    that carry a reserved name without being that instruction, and those whose
    definitions hold one (``qasm3.dumps`` of a ``StatePreparation`` defines a
    ``gate unitary`` three levels down), in control-flow blocks too. Name -> one
    such operation."""
    return _impostors(circuit, reserved, {})


def _impostors(circuit: Any, reserved: dict[str, type], holds: dict[str, bool]) -> dict[str, Any]:
    from qiskit.circuit import ControlFlowOp

    found: dict[str, Any] = {}
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                found.update(_impostors(block, reserved, holds))
            continue
        expected = reserved.get(name)
        if expected is not None:
            if not isinstance(operation, expected):
                found.setdefault(name, operation)
            continue
        if name not in holds:  # a gate of its own: look into its definition, once per name
            holds[name] = False
            definition = operation.definition
            holds[name] = definition is not None and bool(_impostors(definition, reserved, holds))
        if holds[name]:
            found.setdefault(name, operation)
    return found


def without_impostors(circuit: Any, reserved: dict[str, type], where: str = "the target") -> Any:
    """``circuit`` with each impostor (see :func:`impostors`) replaced by its own
    definition, through Qiskit's ``Decompose`` pass (which also goes into
    control-flow blocks), again while definitions bring more of them. The
    circuit itself when it has none. An impostor with no definition (an
    ``opaque`` gate) cannot run: ``InvalidCircuit`` names it."""
    from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES

    for _ in range(MAX_DEFINITION_DEPTH):
        found = impostors(circuit, reserved)
        if not found:
            return circuit
        opaque = sorted(name for name, operation in found.items() if operation.definition is None)
        if opaque:
            names = ", ".join(opaque)
            raise InvalidCircuit(
                f"the gate {names} has no definition (opaque), and {where} reads {names} as its own, different "
                f"instruction: define the gate with a body, or give it another name"
            )
        # Decompose goes into a control-flow block only when the block's operation is named too
        circuit = circuit.decompose(gates_to_decompose=sorted(found) + sorted(CONTROL_FLOW_OP_NAMES))
    raise InvalidCircuit(f"gate definitions nest more than {MAX_DEFINITION_DEPTH} levels deep")


def failure_reason(exc: BaseException) -> str:
    """A job's own failure, for a person: the HAL's message, or the exception's type and text."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else f"{type(exc).__name__}: {exc}"


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
        text = _qiskit_key(key, measured_qubits, clbit_of_qubit, num_clbits)
        out[text] = out.get(text, 0) + count
    return out


def qiskit_memory(shots: list[str], measured_qubits: list[int], clbit_of_qubit: dict[int, int], num_clbits: int) -> list[str]:
    """One bitstring per shot in measured-qubit order turned into Qiskit's order, as
    :func:`qiskit_counts` turns the keys of counts (so the two always agree)."""
    keys: dict[str, str] = {}  # a few distinct outcomes, many shots: convert each outcome once
    return [keys.get(shot) or keys.setdefault(shot, _qiskit_key(shot, measured_qubits, clbit_of_qubit, num_clbits)) for shot in shots]


def _qiskit_key(key: str, measured_qubits: list[int], clbit_of_qubit: dict[int, int], num_clbits: int) -> str:
    bits = ["0"] * num_clbits
    for position, qubit in enumerate(measured_qubits):
        clbit = clbit_of_qubit.get(qubit)
        if clbit is not None:
            bits[num_clbits - 1 - clbit] = key[position]
    return "".join(bits)


def wants_memory(job: JobSpec) -> bool:
    """Whether the job asked for one bitstring per shot (``"memory": true``)."""
    return bool(job.payload.get("memory"))


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
