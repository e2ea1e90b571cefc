"""The ``local_simulator``'s worker process: parses and simulates one batch per request.

Qiskit Aer holds the GIL for the whole of a simulation, so running it inside
the Jupyter server would freeze every request and kernel socket of the server
for as long as a batch runs. This module runs in a separate, long-lived
process instead; it also keeps a crashed or out-of-memory simulation away from
the server. Parsed-and-transpiled circuits are cached here, per source text.
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

_simulators: dict[str, Any] = {}
_native: dict[str, frozenset[str]] = {}
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
    """Run every circuit as ONE Aer run; counts and metadata per circuit, in order."""
    simulator = _simulator(method)
    circuits = [_runnable(method, source, simulator) for source in sources]
    result = simulator.run(circuits, shots=shots, seed_simulator=seed).result()
    if not result.success:
        raise RuntimeError(result.status)
    return [
        {
            "counts": result.get_counts(i),
            "metadata": {
                "method": (getattr(result.results[i], "metadata", None) or {}).get("method"),
                "time_taken": result.results[i].time_taken,
                "batch_size": len(circuits),
            },
        }
        for i in range(len(circuits))
    ]


def _simulator(method: str) -> Any:
    simulator = _simulators.get(method)
    if simulator is None:
        from qiskit_aer import AerSimulator

        # A batch is many small experiments: let Aer spread experiments over the
        # cores (it checks memory first) rather than only the shots of each one.
        simulator = _simulators[method] = AerSimulator(method=method, max_parallel_experiments=0)
        _native[method] = frozenset(simulator.target.operation_names)
    return simulator


def _runnable(method: str, source: str, simulator: Any) -> Any:
    """The circuit as Aer can run it; gates Aer lacks go through a cached pass manager."""
    from ..engine.qasm import parse_circuit

    key = hashlib.sha256(f"{method}\0{source}".encode()).hexdigest()
    cached = _transpiled.get(key)
    if cached is not None:
        _transpiled.move_to_end(key)
        return cached
    circuit = parse_circuit(source)
    if not all(i.operation.name in _native[method] for i in circuit.data):
        circuit = _pass_manager(method, simulator).run(circuit)
    _transpiled[key] = circuit
    if len(_transpiled) > CACHE_SIZE:
        _transpiled.popitem(last=False)
    return circuit


def _pass_manager(method: str, simulator: Any) -> Any:
    manager = _pass_managers.get(method)
    if manager is None:
        from qiskit.transpiler import generate_preset_pass_manager

        manager = _pass_managers[method] = generate_preset_pass_manager(optimization_level=1, backend=simulator)
    return manager


if __name__ == "__main__":
    main()
