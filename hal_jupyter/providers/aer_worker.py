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
    from .user_code import die_with_parent

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
    """Serve ``(method, jobs, shots, seed)`` requests on stdin, answers on stdout;
    each job is ``(source, sweep)``, its sweep the stored payload form or None, or
    ``(source, sweep, True)`` for a job that asks for its per-shot bitstrings."""
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


def simulate(
    method: str, jobs: list[tuple[Any, ...]], shots: int, seed: int | None, batch_size: int | None = None
) -> list[dict[str, Any]]:
    """Run every job of a batch, in order: plain circuits as ONE Aer run (two when
    only some jobs ask for per-shot memory: the others do no memory work), parameter
    sweeps as ONE Aer run with parameter binds, estimation jobs as ONE
    ``EstimatorV2`` call with a PUB each. Per job ``{"counts", "metadata"}``
    (counts per point for a sweep; ``"memory"`` too, per point, for a job
    ``(source, sweep, True)``), ``{"evs", "stds", "metadata"}`` (per observable,
    per point) or ``{"error": message}``.

    A pure function of its request: the worker process serves it, and so does a
    Dask worker for one chunk of a batch (``batch_size`` then is the whole batch's)."""
    from ..engine.sweeps import Sweep

    simulator = _simulator(method)
    outputs: list[dict[str, Any]] = [{}] * len(jobs)
    plain: list[tuple[int, Any]] = []
    remembered: list[tuple[int, Any]] = []  # plain circuits whose jobs ask for per-shot memory
    sampled: list[tuple[int, tuple[Any, Sweep, bool]]] = []
    estimated: list[tuple[int, tuple[Any, Sweep]]] = []
    for index, (source, stored, *asks) in enumerate(jobs):
        sweep, memory = Sweep.from_payload(stored), bool(asks and asks[0])
        try:
            circuit = _runnable(method, source, simulator, sweep.estimating)
        except Exception as exc:  # noqa: BLE001 - this circuit's own failure, reported on its job
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            outputs[index] = {"error": f"the circuit could not be prepared for Aer: {message}"}
            continue
        if sweep.estimating:
            estimated.append((index, (circuit, sweep)))
        elif sweep.swept:
            sampled.append((index, (circuit, sweep, memory)))
        else:
            (remembered if memory else plain).append((index, circuit))
    found = run_isolated(simulator, plain, shots, seed)
    found.update(run_isolated(simulator, remembered, shots, seed, memory=True))
    for memory in (False, True):  # per-shot data is made only for the sweeps that ask for it
        chosen = [(index, item) for index, item in sampled if item[2] == memory]
        found.update(isolated(lambda items, memory=memory: _sample(simulator, items, shots, seed, memory), chosen))
    found.update(isolated(lambda items: _estimate(method, items, shots, seed), estimated))
    for index, output in found.items():
        if "metadata" in output:
            output["metadata"]["batch_size"] = batch_size or len(jobs)
        outputs[index] = output
    return outputs


def isolated(run: Any, items: list[tuple[int, Any]]) -> dict[int, dict[str, Any]]:
    """``run(items)`` (one primitive call for them all, returning one output per
    item); when it raises, each half on its own, down to the items that fail."""
    if not items:
        return {}
    try:
        return dict(zip((index for index, _ in items), run([item for _, item in items])))
    except Exception as exc:  # noqa: BLE001 - narrowed down to the jobs that cause it
        if len(items) == 1:
            return {items[0][0]: {"error": f"Aer could not run the circuit: {type(exc).__name__}: {exc}"}}
        half = len(items) // 2
        return {**isolated(run, items[:half]), **isolated(run, items[half:])}


def _sample(simulator: Any, items: list[tuple[Any, Any, bool]], shots: int, seed: int | None, memory: bool = False) -> list[dict[str, Any]]:
    """Parameter sweeps: ONE Aer run with every job's points as parameter binds.
    Counts come from Aer as they are (no per-shot data is made unless ``memory``:
    then each shot's bitstring too, per point)."""
    circuits = [circuit for circuit, _, _ in items]
    binds, points = [], []
    for circuit, sweep, _ in items:
        values = sweep.pub_values(circuit)
        binds.append({p: values[:, j].tolist() for j, p in enumerate(circuit.parameters)})
        points.append(sweep.num_points)
    result = simulator.run(circuits, parameter_binds=binds, shots=shots, seed_simulator=seed, memory=memory).result()
    experiments = result.results
    if len(experiments) != sum(points):
        raise RuntimeError(result.status)
    failed = next((e for e in experiments if not e.success), None)
    if failed is not None:
        raise RuntimeError(str(failed.status))
    outputs, start = [], 0
    for circuit, n in zip(circuits, points):
        mine = range(start, start + n)
        output: dict[str, Any] = {
            "counts": [{key.replace(" ", ""): count for key, count in result.get_counts(k).items()} for k in mine],
            "metadata": {"method": experiments[start].metadata.get("method") if n else None, "primitive": "AerSimulator.run"},
        }
        if memory:  # each point's bitstrings joined: 1 string a point, not 1 a shot, crosses the pipe
            output["memory"] = [packed_bitstrings(experiments[k].data.memory, circuit.num_clbits) for k in mine]
            output["memory_width"] = circuit.num_clbits
        outputs.append(output)
        start += n
    return outputs


def packed_bitstrings(hex_memory: list[str], width: int) -> str:
    """Aer's per-shot memory (hex) as one string of every shot's ``width`` bits in
    turn, Qiskit's order (clbit 0 rightmost); :func:`unpacked` splits it."""
    import numpy as np

    if width == 0 or not hex_memory:
        return ""
    if width > 62:
        return "".join(format(int(h, 16), f"0{width}b") for h in hex_memory)
    values = np.fromiter((int(h, 16) for h in hex_memory), dtype=np.int64, count=len(hex_memory))
    bits = ((values[:, None] >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8) + ord("0")
    return bits.tobytes().decode("ascii")


def unpacked(output: dict[str, Any]) -> list[list[str]] | None:
    """An output's ``memory`` as bitstrings per point (packed by :func:`packed_bitstrings`, or already lists)."""
    memory, width = output.get("memory"), output.get("memory_width")
    if memory is None or width is None:
        return memory
    if width == 0:
        return [[] for _ in memory]
    return [[text[i : i + width] for i in range(0, len(text), width)] for text in memory]


def _estimate(method: str, items: list[tuple[Any, Any]], shots: int, seed: int | None) -> list[dict[str, Any]]:
    """Estimation jobs: one Aer ``EstimatorV2`` call, a PUB ``(circuit, observables,
    values, precision)`` per job. Aer computes expectation values exactly from the
    state; a job that asks for a ``precision`` gets normal noise of that standard
    deviation added (as a device's estimate would have), and that as its ``stds``."""
    from qiskit_aer.primitives import EstimatorV2

    estimator = EstimatorV2(options={"backend_options": {"method": method}, "run_options": {"seed": seed} if seed is not None else {}})
    pubs = [(circuit, sweep.pub_observables(circuit), sweep.pub_values(circuit), sweep.precision or 0.0) for circuit, sweep in items]
    outputs = []
    for (_, sweep), pub in zip(items, estimator.run(pubs).result()):
        evs, stds = sweep.estimates_of(pub.data)
        how = "exact (statevector)" if not sweep.precision else f"exact, with normal noise of the requested precision {sweep.precision}"
        outputs.append({"evs": evs, "stds": stds, "metadata": {"method": method, "primitive": "EstimatorV2", "estimates": how}})
    return outputs


def run_isolated(simulator: Any, circuits: list[tuple[int, Any]], shots: int, seed: int | None, memory: bool = False) -> dict[int, dict[str, Any]]:
    """Run ``(index, circuit)`` pairs as one Aer run; when the run raises, run each
    half on its own, down to the single circuits that fail. index -> output, with
    each shot's bitstring (``"memory"``, one point) when ``memory``."""
    if not circuits:
        return {}
    try:
        result = simulator.run([c for _, c in circuits], shots=shots, seed_simulator=seed, memory=memory).result()
        if len(result.results) != len(circuits):
            raise RuntimeError(result.status)
    except Exception as exc:  # noqa: BLE001 - narrowed down to the circuits that cause it
        if len(circuits) == 1:
            return {circuits[0][0]: {"error": f"Aer could not run the circuit: {type(exc).__name__}: {exc}"}}
        half = len(circuits) // 2
        return {**run_isolated(simulator, circuits[:half], shots, seed, memory), **run_isolated(simulator, circuits[half:], shots, seed, memory)}
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
        if memory:  # as a sweep's: packed, one string (see unpacked)
            outputs[index].update(memory=[packed_bitstrings(experiment.data.memory, circuit.num_clbits)], memory_width=circuit.num_clbits)
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


def _runnable(method: str, source: str, simulator: Any, estimating: bool = False) -> Any:
    """The circuit as Aer can run it: gates that only borrow the name of an Aer
    instruction replaced by their definitions, and gates Aer lacks translated
    by a cached pass manager; without its final measurements to estimate."""
    from ..engine.qasm import parse_circuit
    from ..engine.estimation import without_measurements

    key = hashlib.sha256(f"{method}\0{estimating}\0{source}".encode()).hexdigest()
    cached = _transpiled.get(key)
    if cached is not None:
        _transpiled.move_to_end(key)
        return cached
    circuit = parse_circuit(source)
    if estimating:
        circuit = without_measurements(circuit)
    circuit = without_impostors(circuit, _reserved[method], "Aer")
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
