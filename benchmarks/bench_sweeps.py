"""A 200-point parameter sweep on the local simulator: as ONE sweep job, as 200
separate jobs, and as a direct Aer primitives call; same machine, same run.

    python benchmarks/bench_sweeps.py [--points 200] [--qubits 10] [--layers 4] [--shots 1024] [--repeat 3]

Workload: a hardware-efficient ansatz (``ry`` on every qubit, then a ``cx``
ladder, ``--layers`` times; every ``ry`` angle a function of one swept
parameter ``theta``) and a Heisenberg-chain Hamiltonian (XX+YY+ZZ on neighbours,
Z on each qubit). What is timed is what a user waits for: from the request
until every value is in hand.

- estimation, direct: Aer ``EstimatorV2().run([(circuit, [H], thetas)])`` and
  reading ``evs`` (exact expectation values, as the HAL's local_simulator gives);
- estimation, HAL sweep: one POST with ``parameters`` and ``observables``, the
  events WebSocket until COMPLETED, GET the result;
- estimation, HAL separate: one POST per point (the circuit with that point's
  angle written in), priority "high" (each its own provider call, as without
  sweeps on a cloud that bills per task) and, separately, "standard" (the
  scheduler batches them into one call), each until every result is in hand;
- sampling, the same three with ``--shots`` per point (Aer ``SamplerV2``).

Rounds alternate the variants; medians are printed with ratios to the direct call.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


from bench_throughput import Completion, Connection
from hal_jupyter.offline.processes import ServerProcess


def ansatz_qasm(qubits: int, layers: int, theta: str | float, measure: bool) -> str:
    """OpenQASM 3 of the ansatz; ``theta`` is the parameter's name, or a value written in."""
    free = isinstance(theta, str)
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";']
    if free:
        lines.append(f"input float[64] {theta};")
    lines += [f"qubit[{qubits}] q;", f"bit[{qubits}] c;"]
    for layer in range(layers):
        for k in range(qubits):
            scale = 1 + 0.1 * k + 0.05 * layer
            angle = f"{scale}*{theta}" if free else repr(scale * float(theta))
            lines.append(f"ry({angle}) q[{k}];")
        for k in range(qubits - 1):
            lines.append(f"cx q[{k}], q[{k + 1}];")
    if measure:
        lines.append("c = measure q;")
    return "\n".join(lines) + "\n"


def hamiltonian(qubits: int) -> list[list[Any]]:
    """Sparse terms of a Heisenberg chain with a field: [pauli, qubits, coeff]."""
    terms: list[list[Any]] = []
    for k in range(qubits - 1):
        terms += [["XX", [k, k + 1], 1.0], ["YY", [k, k + 1], 1.0], ["ZZ", [k, k + 1], 1.0]]
    terms += [["Z", [k], 0.5] for k in range(qubits)]
    return terms


def direct(args: argparse.Namespace, thetas: list[float], estimate: bool) -> float:
    """Aer's V2 primitives called directly, from the same OpenQASM text."""
    from qiskit import qasm3
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer.primitives import EstimatorV2, SamplerV2

    started = time.perf_counter()
    circuit = qasm3.loads(ansatz_qasm(args.qubits, args.layers, "theta", measure=not estimate))
    values = [[t] for t in thetas]
    if estimate:
        observable = SparsePauliOp.from_sparse_list(hamiltonian(args.qubits), args.qubits)
        evs = EstimatorV2().run([(circuit, [[observable]], values)]).result()[0].data.evs
        assert evs.shape == (1, len(thetas))
    else:
        data = SamplerV2().run([(circuit, values, args.shots)]).result()[0].join_data()
        counts = [data.get_counts(loc=i) for i in range(len(thetas))]
        assert len(counts) == len(thetas)
    return time.perf_counter() - started


def hal_sweep(server: ServerProcess, events: Completion, conn: Connection, args: argparse.Namespace, thetas: list[float], estimate: bool) -> float:
    body: dict[str, Any] = {
        "provider": "local_simulator", "circuit": ansatz_qasm(args.qubits, args.layers, "theta", measure=not estimate),
        "parameters": {"theta": thetas}, "shots": args.shots, "priority": "high",
    }
    if estimate:
        body["observables"] = [hamiltonian(args.qubits)]
    started = time.perf_counter()
    status, record = conn.request("POST", "/hal/api/quantum/jobs", body)
    assert status == 201, record
    events.wait_for([record["id"]])
    status, result = conn.request("GET", f"/hal/api/jobs/{record['id']}/result")
    assert status == 200 and len(result["evs"][0] if estimate else result["counts"]) == len(thetas), result
    return time.perf_counter() - started


def hal_separate(server: ServerProcess, events: Completion, conn: Connection, args: argparse.Namespace, thetas: list[float], estimate: bool, priority: str) -> float:
    started = time.perf_counter()
    ids = []
    for theta in thetas:
        body: dict[str, Any] = {"provider": "local_simulator", "circuit": ansatz_qasm(args.qubits, args.layers, theta, measure=not estimate), "shots": args.shots, "priority": priority}
        if estimate:
            body["observables"] = [hamiltonian(args.qubits)]
        status, record = conn.request("POST", "/hal/api/quantum/jobs", body)
        assert status == 201, record
        ids.append(record["id"])
    events.wait_for(ids)
    for start in range(0, len(ids), 500):
        status, listing = conn.request("GET", f"/hal/api/jobs?include=result&limit=500&ids={','.join(ids[start:start + 500])}")
        assert status == 200 and all(job["result"] is not None for job in listing["jobs"]), listing
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--qubits", type=int, default=10)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    thetas = [2 * math.pi * k / args.points for k in range(args.points)]
    print(f"{args.points}-point sweep, {args.qubits} qubits, {args.layers} layers, {args.shots} shots per point (sampling); medians of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite", batch_window_s=0.2)
        server.start()
        try:
            events, conn = Completion(server), Connection(server)
            for estimate in (True, False):
                direct(args, thetas[:2], estimate)  # imports and first-call set-up, on both sides
                hal_sweep(server, events, conn, args, thetas[:2], estimate)
                times: dict[str, list[float]] = {"direct": [], "sweep": [], "separate, high": [], "separate, standard": []}
                for _ in range(args.repeat):
                    times["direct"].append(direct(args, thetas, estimate))
                    times["sweep"].append(hal_sweep(server, events, conn, args, thetas, estimate))
                    times["separate, high"].append(hal_separate(server, events, conn, args, thetas, estimate, "high"))
                    times["separate, standard"].append(hal_separate(server, events, conn, args, thetas, estimate, "standard"))
                base = statistics.median(times["direct"])
                sweep = statistics.median(times["sweep"])
                print(f"\n{'estimation (exact <H>)' if estimate else 'sampling'}:")
                print(f"  {'direct Aer primitives':34s} {base:8.3f} s")
                for name, values in times.items():
                    if name == "direct":
                        continue
                    median = statistics.median(values)
                    extra = f"   {median / sweep:6.1f}x the sweep job" if name != "sweep" else ""
                    print(f"  {'HAL ' + name + ' job' + ('s' if name != 'sweep' else ''):34s} {median:8.3f} s   {median / base:5.2f}x direct{extra}")
            conn.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
