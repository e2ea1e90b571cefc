"""The ``local_simulator``'s worker process: parses and simulates one batch per request.

Qiskit Aer holds the GIL for the whole of a simulation, so running it inside
the Jupyter server would freeze every request and kernel socket of the server
for as long as a batch runs. This module runs in a separate, long-lived
process instead; it also keeps a crashed or out-of-memory simulation away from
the server. Parsed-and-transpiled circuits are cached here, per source text.

A circuit that cannot run fails alone. One that does not parse or transpile
is left out of the run; Aer reports the experiments it refused one by one
(``result.results[i].success``); when the whole run raises instead, the
circuits are run again in halves until the culprits are found. Each circuit
gets its counts or its own ``{"error": ...}``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import struct
import sys
from collections import OrderedDict
from typing import Any, BinaryIO

from .quantum import reserved_operations, without_impostors

_simulators: dict[str, Any] = {}
_native: dict[str, frozenset[str]] = {}
_reserved: dict[str, dict[str, type]] = {}
_pass_managers: dict[str, Any] = {}
_transpiled: OrderedDict[str, Any] = OrderedDict()
CACHE_SIZE = 4096


def init_worker(parent_pid: int) -> None:
    """Die with the server, yield the CPU to it, and import qiskit on this process's main thread."""
    try:
        os.nice(5)  # simulations soak up idle CPU; requests to the server come first
    except OSError:
        pass
    from .python_runner import die_with_parent

    die_with_parent(parent_pid)
    import qiskit.qasm2  # noqa: F401
    import qiskit_aer  # noqa: F401


def read_frame(stream: BinaryIO) -> Any:
    """One length-prefixed pickle; None at end of stream. Both ends are this package."""
    head = stream.read(8)
    if len(head) < 8:
        return None
    (size,) = struct.unpack("!Q", head)
    return pickle.loads(stream.read(size))


def write_frame(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def main() -> None:
    """Serve ``(method, sources, shots, seed)`` requests on stdin, answers on stdout."""
    # Ctrl-C (or a kernel interrupt) reaches the whole process group: the worker
    # leaves stopping to its parent, which closes the pipe or kills it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, answers = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the answers
    init_worker(int(sys.argv[1]))
    write_frame(answers, ("ready", os.getpid()))
    while (request := read_frame(requests)) is not None:
        try:
            write_frame(answers, ("ok", simulate(*request)))
        except Exception as exc:  # noqa: BLE001 - reported to the server as the batch's failure
            write_frame(answers, ("error", f"{type(exc).__name__}: {exc}"))


def simulate(method: str, sources: list[str], shots: int, seed: int | None) -> list[dict[str, Any]]:
    """Run every circuit as ONE Aer run where they all can; per circuit, in order,
    ``{"counts", "metadata"}`` or ``{"error": message}``."""
    simulator = _simulator(method)
    outputs: list[dict[str, Any]] = [{}] * len(sources)
    runnable: list[tuple[int, Any]] = []
    for index, source in enumerate(sources):
        try:
            runnable.append((index, _runnable(method, source, simulator)))
        except Exception as exc:  # noqa: BLE001 - this circuit's own failure, reported on its job
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            outputs[index] = {"error": f"the circuit could not be prepared for Aer: {message}"}
    for index, output in run_isolated(simulator, runnable, shots, seed).items():
        if "metadata" in output:
            output["metadata"]["batch_size"] = len(sources)
        outputs[index] = output
    return outputs


def run_isolated(simulator: Any, circuits: list[tuple[int, Any]], shots: int, seed: int | None) -> dict[int, dict[str, Any]]:
    """Run ``(index, circuit)`` pairs as one Aer run; when the run raises, run each
    half on its own, down to the single circuits that fail. index -> output."""
    if not circuits:
        return {}
    try:
        result = simulator.run([c for _, c in circuits], shots=shots, seed_simulator=seed).result()
        if len(result.results) != len(circuits):
            raise RuntimeError(result.status)
    except Exception as exc:  # noqa: BLE001 - narrowed down to the circuits that cause it
        if len(circuits) == 1:
            return {circuits[0][0]: {"error": f"Aer could not run the circuit: {type(exc).__name__}: {exc}"}}
        half = len(circuits) // 2
        return {**run_isolated(simulator, circuits[:half], shots, seed), **run_isolated(simulator, circuits[half:], shots, seed)}
    outputs = {}
    for position, ((index, circuit), experiment) in enumerate(zip(circuits, result.results)):
        if not experiment.success:
            reason = str(experiment.status).removeprefix("ERROR:").strip().replace(f"circuit {circuit.name} ", "the circuit ")
            outputs[index] = {"error": f"Aer could not run the circuit: {reason}"}
            continue
        metadata = getattr(experiment, "metadata", None) or {}
        outputs[index] = {
            # one bitstring per shot, registers side by side with no space (as Qiskit's SamplerV2 and every provider give them)
            "counts": {key.replace(" ", ""): n for key, n in result.get_counts(position).items()},
            "metadata": {"method": metadata.get("method"), "time_taken": experiment.time_taken},
        }
    return outputs


def _simulator(method: str) -> Any:
    simulator = _simulators.get(method)
    if simulator is None:
        from qiskit_aer import AerSimulator

        # A batch is many small experiments: let Aer spread experiments over the
        # cores (it checks memory first) rather than only the shots of each one.
        simulator = _simulators[method] = AerSimulator(method=method, max_parallel_experiments=0)
        _native[method] = frozenset(simulator.target.operation_names)
        _reserved[method] = reserved_operations(simulator.target)
    return simulator


def _runnable(method: str, source: str, simulator: Any) -> Any:
    """The circuit as Aer can run it: gates that only borrow the name of an Aer
    instruction replaced by their definitions, and gates Aer lacks translated
    by a cached pass manager."""
    from ..engine.qasm import parse_circuit

    key = hashlib.sha256(f"{method}\0{source}".encode()).hexdigest()
    cached = _transpiled.get(key)
    if cached is not None:
        _transpiled.move_to_end(key)
        return cached
    circuit = without_impostors(parse_circuit(source), _reserved[method], "Aer")
    if not _names(circuit) <= _native[method]:
        circuit = _pass_manager(method, simulator).run(circuit)
    _transpiled[key] = circuit
    if len(_transpiled) > CACHE_SIZE:
        _transpiled.popitem(last=False)
    return circuit


def _names(circuit: Any) -> set[str]:
    """The operation names of a circuit and of its control-flow blocks."""
    names = set()
    for instruction in circuit.data:
        names.add(instruction.operation.name)
        for block in getattr(instruction.operation, "blocks", ()):
            names |= _names(block)
    return names


def _pass_manager(method: str, simulator: Any) -> Any:
    manager = _pass_managers.get(method)
    if manager is None:
        from qiskit.transpiler import generate_preset_pass_manager

        manager = _pass_managers[method] = generate_preset_pass_manager(optimization_level=1, backend=simulator)
    return manager


if __name__ == "__main__":
    main()
