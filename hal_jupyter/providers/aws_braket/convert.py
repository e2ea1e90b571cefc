"""Qiskit circuits as Braket circuits: gates, free parameters, observables.

Braket's own OpenQASM reader takes neither ``stdgates.inc`` nor ``cx``, so a
circuit goes through a Braket ``Circuit`` built gate by gate; its free
parameters are renamed ``p0``, ``p1``, ... (Qiskit's names may be anything,
such as ``_φ_0_``). A sweep or an estimate is one :class:`Parametric` circuit
with the sweep's points as input sets and, to estimate, the Braket observable
of each measurement setting of :func:`...engine.estimation.measurement_plan`
(qubit-wise commuting terms share one). Conversion depends on the circuit
only: no device code here (as in qiskit-braket-provider's ``adapter.py``).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

from ...engine import estimation, sweeps
from ...engine.contract import JobSpec
from .. import quantum

# Qiskit gate -> Braket gate class; the device's operation names are these names in lower case.
GATES = {
    "id": "I", "h": "H", "x": "X", "y": "Y", "z": "Z", "s": "S", "sdg": "Si", "t": "T", "tdg": "Ti",
    "sx": "V", "sxdg": "Vi", "rx": "Rx", "ry": "Ry", "rz": "Rz", "p": "PhaseShift", "cx": "CNot",
    "cy": "CY", "cz": "CZ", "cp": "CPhaseShift", "swap": "Swap", "iswap": "ISwap", "ccx": "CCNot",
    "cswap": "CSwap", "rxx": "XX", "ryy": "YY", "rzz": "ZZ",
}


def qiskit_native(native: set[str]) -> set[str]:
    """The Qiskit gates that map to a device's ``native`` Braket operations."""
    return {name for name, gate in GATES.items() if gate.lower() in native}


def parameter_names(circuit: Any) -> dict[str, str]:
    """The Braket name of each free parameter of a Qiskit circuit: ``p0``, ``p1``, ... in
    the circuit's own order, because Qiskit's names (``θ[0]``, ``_φ_0_``) need not be
    OpenQASM identifiers."""
    return {parameter.name: f"p{k}" for k, parameter in enumerate(circuit.parameters)}


def to_braket(circuit: Any, native: set[str]) -> Any:
    """A Braket ``Circuit`` for a Qiskit circuit whose operations map to ``native``
    Braket gates, with explicit measurements of the measured qubits (none for a
    circuit without measurements) and free parameters named by
    :func:`parameter_names`. User gates that borrow a Qiskit gate's name are
    unrolled first: the mapping goes by name."""
    from braket.circuits import Circuit, Instruction, gates
    from qiskit import transpile

    names = parameter_names(circuit)
    basis = [name for name, gate in GATES.items() if gate.lower() in native]
    circuit = quantum.without_impostors(circuit, quantum.reserved_operations(), "Amazon Braket")
    lowered = transpile(circuit, basis_gates=basis + ["measure"], optimization_level=0)
    out = Circuit()
    for instruction in lowered.data:
        name = instruction.operation.name
        if name in ("barrier", "measure"):
            continue
        gate = getattr(gates, GATES[name])(*(_angle(p, names) for p in instruction.operation.params))
        out.add_instruction(Instruction(gate, [lowered.find_bit(q).index for q in instruction.qubits]))
    for qubit in sorted(quantum.final_measurements(lowered)):
        out.measure(qubit)
    return out


def _angle(value: Any, names: dict[str, str]) -> Any:
    """A gate's angle: a number, or a Braket expression of the renamed free parameters
    (transpiling turns a parameter into expressions such as ``theta + pi``)."""
    if not getattr(value, "parameters", None):
        return float(value)
    import sympy
    from braket.circuits import FreeParameterExpression

    expression = value.sympify()
    return FreeParameterExpression(expression.xreplace({s: sympy.Symbol(names[s.name]) for s in expression.free_symbols}))


def observable(setting: estimation.Setting) -> Any:
    """A measurement setting as a Braket observable, qubit by qubit (``X(0) @ Z(2)``):
    the setting names qubits by index, so no label order is involved."""
    from braket.circuits import observables

    return functools.reduce(operator.matmul, (getattr(observables, basis)(qubit) for qubit, basis in zip(setting.qubits, setting.bases)))


@functools.lru_cache(maxsize=16)
def plan(sweep: sweeps.Sweep) -> list[estimation.Setting]:
    """An estimation job's measurement settings, worked out once for its checks, cost,
    submission and results (many terms make :func:`...engine.estimation.measurement_plan` slow)."""
    return estimation.measurement_plan(sweep)


def settings_per_point(sweep: sweeps.Sweep) -> int:
    """Circuits per point: one per measurement setting to estimate, else one."""
    return len(plan(sweep)) if sweep.estimating else 1


def pieces(points: int, settings: int, limit: int) -> list[tuple[range, range]]:
    """A job's executables (``points`` x ``settings``, point-major) cut into runs of at
    most ``limit`` that one ``CircuitBinding`` each can hold, in order: whole points,
    or, when one point alone has more settings than fit, slices of one point's."""
    if settings <= limit:
        step = limit // settings
        return [(range(start, min(start + step, points)), range(settings)) for start in range(0, points, step)]
    return [(range(point, point + 1), range(start, min(start + limit, settings))) for point in range(points) for start in range(0, settings, limit)]


@dataclass(frozen=True)
class Parametric:
    """A job as one Braket circuit: free parameters renamed, measured when sampling,
    unmeasured when estimating (the observables add their own measurements)."""

    circuit: Any
    sweep: sweeps.Sweep
    #: the sweep's parameter -> its Braket name, for those the Braket circuit uses
    inputs: dict[str, str]
    #: the Braket observable of each measurement setting (estimation only)
    observables: list[Any]

    @classmethod
    def of(cls, job: JobSpec, native: set[str]) -> Parametric:
        sweep = sweeps.of(job.payload)
        circuit = quantum.circuit_of(job)
        if sweep.estimating:
            circuit = estimation.without_measurements(circuit)
        braket = to_braket(circuit, native)
        used = {str(p) for p in braket.parameters}
        names = parameter_names(circuit)
        # A parameter may live on in the global phase only; the sweep still needs its points.
        inputs = {name: braket_name for name, braket_name in names.items() if braket_name in used} or names
        observables = [observable(s) for s in plan(sweep)] if sweep.estimating else []
        return cls(braket, sweep, inputs, observables)

    def entry(self, points: range, settings: range) -> Any:
        """The program-set entry running these points in these settings: the circuit
        itself for a plain sampling job, else a ``CircuitBinding``."""
        from braket.program_sets import CircuitBinding

        sweep = self.sweep
        if not sweep.swept and not sweep.estimating:
            return self.circuit
        inputs = None
        if sweep.swept:
            columns = {name: sweep.names.index(name) for name in self.inputs}
            inputs = {self.inputs[name]: [sweep.points[p][column] for p in points] for name, column in columns.items()}
        observables = [self.observables[s] for s in settings] if sweep.estimating else None
        return CircuitBinding(self.circuit, input_sets=inputs, observables=observables)

    def whole(self) -> Any:
        """The job as one program-set entry: every point in every setting."""
        return self.entry(range(self.sweep.num_points), range(len(self.observables)))

    def pieces(self, limit: int) -> list[tuple[Any, int]]:
        """The job's program-set entries of at most ``limit`` executables, with their sizes."""
        return [(self.entry(p, s), len(p) * len(s)) for p, s in pieces(self.sweep.num_points, max(len(self.observables), 1), limit)]


def executions(job: JobSpec, native: set[str]) -> list[Any]:
    """A job as the Braket circuits of :func:`...engine.estimation.executions`: one task each
    on a device without program sets."""
    return [to_braket(circuit, native) for circuit in estimation.executions(quantum.circuit_of(job), sweeps.of(job.payload))]


def readouts(circuit: Any, sweep: sweeps.Sweep) -> list[tuple[dict[int, int], int]]:
    """Where each execution's measured qubits go among Qiskit's classical bits (qubit ->
    clbit, and how many clbits), repeating from point to point: the circuit's own
    measurements when sampling, each measurement setting's register when estimating."""
    circuits = [estimation.rotated(circuit, s) for s in plan(sweep)] if sweep.estimating else [circuit]
    return [(quantum.final_measurements(c), c.num_clbits) for c in circuits]


__all__ = ["GATES", "Parametric", "executions", "parameter_names", "pieces", "plan", "qiskit_native", "readouts", "settings_per_point", "to_braket"]
