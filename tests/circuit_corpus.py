"""A corpus of circuits as they come from the wild, and how to check what a provider made of them.

Circuits are generated, not picked: Qiskit circuit-library circuits (QFT, GHZ,
Grover, adders, multipliers, phase estimation, W states) and seeded random
circuits, 2 to 6 qubits, exported with ``qasm2.dumps`` and ``qasm3.dumps``, and
variants with what trips simulators and converters: user gates named like
instructions (``unitary``, ``cx``, ``rzz`` ...), several registers, barriers,
mid-circuit measurement, reset, classically conditioned gates.

Each entry keeps the ``QuantumCircuit`` it was exported from; its reference
distribution is a direct Aer run of that object (for a user gate named like an
instruction, of the same circuit with the gate under a neutral name, since
Aer itself reads the name). Distributions are compared by total variation
distance against a bound from the shots, never by bitstrings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: shots per job, and for the reference runs (their noise adds up in the bound)
SHOTS = 2000
REFERENCE_SHOTS = 20_000
#: chance that one comparison of a correct result still fails
FALSE_ALARM = 1e-7
#: constructs some targets refuse, and the words their 400 names them by
CONSTRUCTS = {"reset": "reset", "mid_measure": "mid-circuit measurement", "conditional": "if_else"}
#: names simulators, transpilers and converters read as their own instructions
CLASHING_NAMES = (
    "unitary", "diagonal", "initialize", "kraus", "superop", "mcx", "mcphase", "save_state", "save_statevector",
    "set_statevector", "pauli", "multiplexer", "x_o0", "cx_o1", "u", "U", "CX", "cx", "rzz", "ecr", "iswap",
    "sxdg", "ccz", "cs", "rccx", "id", "delay", "reset", "measure", "barrier", "if", "gate",
)


@dataclass(frozen=True)
class Entry:
    name: str
    source: str
    #: the circuit the reference distribution comes from
    reference: Any = field(repr=False)
    constructs: frozenset[str] = frozenset()


def build() -> list[Entry]:
    """Every circuit of the corpus, each exported in both OpenQASM versions where Qiskit can export it."""
    from qiskit import qasm2, qasm3

    entries = []
    for name, circuit, neutral, constructs in _circuits():
        for version, dumps in (("qasm2", qasm2.dumps), ("qasm3", qasm3.dumps)):
            try:
                source = dumps(circuit)
            except Exception:  # noqa: BLE001 - Qiskit cannot export this one in this version
                continue
            if neutral is not None and not _faithful(source, version, neutral):
                continue  # Qiskit's exporter itself lost the gate (qasm2 writes a user `cx` as CX)
            entries.append(Entry(f"{name}/{version}", source, neutral if neutral is not None else circuit, frozenset(constructs)))
    return entries


def every(entries: list[Entry], stride: int) -> list[Entry]:
    """Every ``stride``-th entry of each family of circuits (``ghz-``, ``qft-``, ...), so a
    sample still meets every family; an odd stride alternates the OpenQASM versions."""
    families: dict[str, list[Entry]] = {}
    for entry in entries:
        families.setdefault(entry.name.split("-")[0], []).append(entry)
    chosen = {id(e) for members in families.values() for e in members[::stride]}
    return [e for e in entries if id(e) in chosen]


def references(entries: list[Entry], seed: int = 1234) -> dict[str, dict[str, int]]:
    """Entry name -> counts of a direct Aer run of its reference circuit."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(shot_branching_enable=True)  # mid-circuit measurements branch instead of running shot by shot
    circuits = {id(e.reference): e.reference for e in entries}
    runnable = transpile(list(circuits.values()), simulator, optimization_level=0, seed_transpiler=seed)
    result = simulator.run(runnable, shots=REFERENCE_SHOTS, seed_simulator=seed).result()
    counts = {key: result.get_counts(i) for i, key in enumerate(circuits)}
    return {e.name: counts[id(e.reference)] for e in entries}


def tvd(counts: dict[str, int], reference: dict[str, int]) -> float:
    """Total variation distance of two count dictionaries (register spaces ignored)."""
    p, q = _distribution(counts), _distribution(reference)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def tvd_bound(reference: dict[str, int], shots: int = SHOTS, reference_shots: int = REFERENCE_SHOTS, noise: float = 0.0) -> float:
    """How far two samples of the same distribution can drift apart by chance.

    For n shots of a distribution p, E[TVD(p_n, p)] <= 1/2 sum_i sqrt(p_i / n)
    (Cauchy-Schwarz; at most sqrt(K/n)/2 for K outcomes), and one shot moves the
    TVD by at most 1/n, so it exceeds its mean by t with probability at most
    exp(-2 n t^2) (McDiarmid). Both samples drift, so both terms count; p is
    estimated from the larger reference sample. ``noise`` adds a device's own error.
    """
    root_sum = sum(math.sqrt(v) for v in _distribution(reference).values())
    mean = 0.5 * root_sum * (1 / math.sqrt(shots) + 1 / math.sqrt(reference_shots))
    tail = math.sqrt(math.log(1 / FALSE_ALARM) / 2) * (1 / math.sqrt(shots) + 1 / math.sqrt(reference_shots))
    return mean + tail + noise


def _distribution(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    out: dict[str, float] = {}
    for key, value in counts.items():
        bits = key.replace(" ", "")
        out[bits] = out.get(bits, 0.0) + value / total
    return out


def _faithful(source: str, version: str, reference: Any) -> bool:
    """Whether Qiskit's own reader gives back the reference's unitary."""
    from qiskit import qasm2, qasm3
    from qiskit.quantum_info import Operator

    try:
        if version == "qasm2":
            parsed = qasm2.loads(source, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        else:
            parsed = qasm3.loads(source)
    except Exception:  # noqa: BLE001 - the exporter wrote invalid OpenQASM (a 2-qubit gate named `u`)
        return False
    strip = {"measure", "barrier"}
    bare = [c.copy_empty_like() for c in (parsed, reference)]
    for out, circuit in zip(bare, (parsed, reference)):
        for instruction in circuit.data:
            if instruction.operation.name not in strip:
                out.append(instruction)
    try:
        return Operator(bare[0]).equiv(Operator(bare[1]))
    except Exception:  # noqa: BLE001 - no unitary to compare: keep only what can be checked
        return False


# -- the circuits ---------------------------------------------------------------------------
Made = tuple[str, Any, Any, set[str]]


def _circuits() -> list[Made]:
    made: list[Made] = []
    for family in (_library, _random, _clashing, _registers, _mid_measure, _reset, _conditional):
        made.extend(family())
    return made


def _measured(circuit: Any) -> Any:
    circuit.measure_all()
    return circuit


def _library() -> list[Made]:
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import HalfAdderGate, MultiplierGate, PhaseGate, QFTGate, StatePreparation, phase_estimation
    from qiskit.synthesis import adder_qft_d00, adder_ripple_c04, adder_ripple_v95, multiplier_cumulative_h18, multiplier_qft_r17

    rng = np.random.default_rng(7)
    made = []
    for n in range(2, 7):
        ghz = QuantumCircuit(n)
        ghz.h(0)
        for k in range(n - 1):
            ghz.cx(k, k + 1)
        made.append((f"ghz-{n}", _measured(ghz), None, set()))
        qft = QuantumCircuit(n)
        for k in range(n):
            qft.ry(float(rng.uniform(0, math.pi)), k)
        qft.append(QFTGate(n), range(n))
        made.append((f"qft-{n}", _measured(qft), None, set()))
        w = np.zeros(2**n)
        w[[2**k for k in range(n)]] = 1 / math.sqrt(n)
        state = QuantumCircuit(n)
        state.append(StatePreparation(w), range(n))
        made.append((f"w-{n}", _measured(state), None, set()))
        if n <= 5:
            qpe = QuantumCircuit(n + 1)
            qpe.x(n)
            qpe.compose(phase_estimation(n, PhaseGate(2 * math.pi * float(rng.uniform(0, 1)))), inplace=True)
            made.append((f"qpe-{n}", _measured(qpe), None, set()))
        if n <= 5:
            made.append((f"grover-{n}", _grover(n, int(rng.integers(2**n))), None, set()))
    arithmetic: list[tuple[str, Callable[[], Any]]] = [
        ("adder-cdkm-full-1", lambda: adder_ripple_c04(1, "full")), ("adder-cdkm-half-2", lambda: adder_ripple_c04(2, "half")),
        ("adder-draper-2", lambda: adder_qft_d00(2, "half")), ("adder-draper-3", lambda: adder_qft_d00(3, "fixed")),
        ("adder-vbe-1", lambda: adder_ripple_v95(1, "full")), ("adder-vbe-half-2", lambda: adder_ripple_v95(2, "half")),
        ("multiplier-rg-1", lambda: multiplier_qft_r17(1)), ("multiplier-hrs-1", lambda: multiplier_cumulative_h18(1)),
        ("adder-gate-2", lambda: _as_circuit(HalfAdderGate(2))), ("multiplier-gate-1", lambda: _as_circuit(MultiplierGate(1))),
    ]
    for name, make in arithmetic:
        circuit = make()
        inputs = QuantumCircuit(circuit.num_qubits)
        for k in range(circuit.num_qubits):  # a superposition of inputs, some set bits
            (inputs.h if rng.random() < 0.5 else inputs.x if rng.random() < 0.5 else inputs.id)(k)
        made.append((name, _measured(circuit.compose(inputs, front=True)), None, set()))
    return made


def _as_circuit(gate: Any) -> Any:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(gate.num_qubits)
    circuit.append(gate, range(gate.num_qubits))
    return circuit


def _grover(n: int, marked: int) -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import grover_operator

    oracle = QuantumCircuit(n)
    zeros = [k for k in range(n) if not marked >> k & 1]
    if zeros:
        oracle.x(zeros)
    oracle.h(n - 1)
    oracle.mcx(list(range(n - 1)), n - 1)
    oracle.h(n - 1)
    if zeros:
        oracle.x(zeros)
    step = grover_operator(oracle)
    circuit = QuantumCircuit(n)
    circuit.h(range(n))
    for _ in range(max(1, int(math.pi / 4 * math.sqrt(2**n)))):
        circuit.compose(step, inplace=True)
    return _measured(circuit)


def _random() -> list[Made]:
    from qiskit.circuit.random import random_circuit

    made = []
    for n in range(2, 7):
        for seed in range(6):
            circuit = random_circuit(n, 4, max_operands=3, seed=100 * n + seed)
            if seed % 3 == 2:  # barriers between layers, as exported circuits often have
                with_barriers = circuit.copy_empty_like()
                for k, instruction in enumerate(circuit.data):
                    with_barriers.append(instruction)
                    if k % 3 == 2:
                        with_barriers.barrier()
                circuit = with_barriers
            made.append((f"random-{n}-{seed}", _measured(circuit), None, set()))
    return made


def _clashing() -> list[Made]:
    """A user gate under each clashing name, used twice in a 3-qubit circuit."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.random import random_circuit

    made = []
    for k, name in enumerate(CLASHING_NAMES):
        body = random_circuit(2, 3, max_operands=2, seed=500 + k)
        pair = []
        for gate_name in (name, "user_block"):
            gate = body.to_gate()
            gate.name = gate_name
            circuit = QuantumCircuit(3, 3)
            circuit.h(0)
            circuit.append(gate, [0, 1])
            circuit.cx(1, 2)
            circuit.append(gate, [2, 0])
            circuit.measure(range(3), range(3))
            pair.append(circuit)
        made.append((f"clash-{name}", pair[0], pair[1], set()))
    return made


def _registers() -> list[Made]:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit.random import random_circuit

    made = []
    for n in range(3, 7):
        body = random_circuit(n, 3, max_operands=2, seed=700 + n)
        a, b = QuantumRegister(2, "a"), QuantumRegister(n - 2, "b")
        low, high = ClassicalRegister(n - 1, "low"), ClassicalRegister(1, "high")
        circuit = QuantumCircuit(a, b, low, high)
        circuit.compose(body, inplace=True)
        circuit.measure(list(range(n - 1)), low)
        circuit.measure(n - 1, high[0])
        made.append((f"registers-{n}", circuit, None, set()))
    return made


def _mid_measure() -> list[Made]:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    made = []
    for n in range(2, 6):
        q, first, last = QuantumRegister(n, "q"), ClassicalRegister(1, "first"), ClassicalRegister(n, "last")
        circuit = QuantumCircuit(q, first, last)
        circuit.h(0)
        circuit.measure(0, first[0])
        circuit.ry(0.3 * n, 0)  # the measured qubit goes on
        for k in range(n - 1):
            circuit.cx(k, k + 1)
        circuit.measure(q, last)
        made.append((f"mid-measure-{n}", circuit, None, {"mid_measure"}))
    return made


def _reset() -> list[Made]:
    from qiskit import QuantumCircuit

    made = []
    for n in range(2, 6):
        circuit = QuantumCircuit(n, n)
        circuit.h(range(n))
        circuit.cx(0, 1)
        circuit.reset(0)  # entangled, then reset: a mixed state on the rest
        circuit.rx(0.4 * n, 0)
        circuit.measure(range(n), range(n))
        made.append((f"reset-{n}", circuit, None, {"reset"}))
    return made


def _conditional() -> list[Made]:
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    made = []
    for n in range(2, 6):
        q, flag, out = QuantumRegister(n, "q"), ClassicalRegister(1, "flag"), ClassicalRegister(n - 1, "out")
        circuit = QuantumCircuit(q, flag, out)
        circuit.ry(0.5 + 0.3 * n, 0)
        circuit.measure(0, flag[0])
        with circuit.if_test((flag, 1)):  # a register equality, which OpenQASM 2 writes for one gate
            circuit.x(n - 1)
            if n % 2:
                circuit.h(1)  # a block of two: OpenQASM 3 only
        circuit.measure(list(range(1, n)), out)
        made.append((f"conditional-{n}", circuit, None, {"conditional"}))
    return made

