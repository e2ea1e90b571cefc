"""Throughput of the HAL's REST path against the direct Qiskit Aer path, same machine, same run.

    python benchmarks/bench_throughput.py [--circuits 1000] [--shots 1024] [--repeat 3] [--loop-sample 50]

What is timed is what a user waits for: until every result is in hand.
Workload: random 5-qubit, 20-gate OpenQASM 2 circuits (seeded), fresh ones each
round; the direct and HAL runs alternate and medians are reported, since a
shared 2-core VM varies by +-30% from one second to the next. Measured:

- direct:     qiskit.qasm2.loads on each + ONE AerSimulator().run on the list
              + get_counts() for every circuit;
- hal bulk:   one POST {"jobs": [...]} to a real `jupyter server` with hal_jupyter;
              once the events WebSocket has shown every job COMPLETED, every
              result fetched in bulk (GET /hal/api/jobs?ids=<500 ids>&include=result);
- hal single: one POST per circuit, one after the other on ONE keep-alive
              connection, then the same wait and bulk fetch; and the
              submissions accepted per second meanwhile;
- accepted:   single submissions per second on one connection, on a server with
              nothing simulating (a batch window longer than the run); and on 8
              connections at once (threads; their requests share commits);
- floor:      Jupyter's own request floor on the same connection (GET /api/status),
              alternating with the accepted-singles rounds: what the HAL adds per submission;
- sweeps:     200 separate standard sampling jobs (one POST each, batched by the
              scheduler) against the same 200 points as one sweep job (bench_sweeps.py's
              10-qubit ansatz), until every result is in hand;
- dask:       bench_dask.py's comparison (in-process engines): a bulk of the circuits
              until every result is in hand, local_executor "dask" (embedded
              LocalCluster) against "process" (skipped without distributed);
- loop:       what a notebook does without the HAL, transpile + run per circuit,
              timed on --loop-sample circuits and scaled to the full count.
The last lines are the targets' table of issue 23, with every figure of this run.
Then the time to fetch every result one by one (GET /jobs/{id}/result) is printed on its own.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


from hal_jupyter.offline.processes import ServerProcess

GATES_1Q = ("h", "x", "sx", "s", "t")
IDS_PER_REQUEST = 500  # API.md: at most 500 ids per listing
SWEEP_POINTS = 200
SWEEP = argparse.Namespace(qubits=10, layers=4, shots=1024)  # bench_sweeps.py's defaults


def random_circuit(rng: random.Random, qubits: int = 5, gates: int = 20) -> str:
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];", f"creg c[{qubits}];"]
    for _ in range(gates):
        kind = rng.random()
        if kind < 0.35:
            a, b = rng.sample(range(qubits), 2)
            lines.append(f"cx q[{a}], q[{b}];")
        elif kind < 0.55:
            lines.append(f"rz({rng.uniform(0, 6.283):.4f}) q[{rng.randrange(qubits)}];")
        else:
            lines.append(f"{rng.choice(GATES_1Q)} q[{rng.randrange(qubits)}];")
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def direct(circuits: list[str], shots: int) -> float:
    from qiskit import qasm2
    from qiskit_aer import AerSimulator

    start = time.perf_counter()
    parsed = [qasm2.loads(c, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS) for c in circuits]
    result = AerSimulator().run(parsed, shots=shots).result()
    counts = [result.get_counts(i) for i in range(len(parsed))]
    assert len(counts) == len(circuits)
    return time.perf_counter() - start


def notebook_loop(circuits: list[str], shots: int) -> float:
    from qiskit import qasm2, transpile
    from qiskit_aer import AerSimulator

    simulator = AerSimulator()
    start = time.perf_counter()
    for source in circuits:
        circuit = qasm2.loads(source, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        simulator.run(transpile(circuit, simulator), shots=shots).result().get_counts()
    return time.perf_counter() - start


class Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a client can be (this
    machine has 2 cores: client CPU is taken from the server)."""

    def __init__(self, server: ServerProcess) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.sock.makefile("rb")
        self.head = f"Host: 127.0.0.1\r\nAuthorization: token {server.token}\r\n".encode()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        self.sock.sendall(
            f"{method} {path} HTTP/1.1\r\n".encode() + self.head
            + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
        )
        status = int(self.stream.readline().split(b" ", 2)[1])
        length = 0
        while (line := self.stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, json.loads(self.stream.read(length) or b"null")

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


class Completion:
    """Counts COMPLETED jobs from the events WebSocket."""

    def __init__(self, server: ServerProcess) -> None:
        import websocket  # websocket-client

        self.done: set[str] = set()
        self.failed: set[str] = set()
        self.event = threading.Event()
        self.expected: set[str] = set()
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/hal/api/events", header=[f"Authorization: token {server.token}"], timeout=120, skip_utf8_validation=True
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:  # noqa: BLE001 - closed
                return
            records = [message["job"]] if message["type"] == "job" else message["jobs"]
            for record in records:
                if record["status"] == "COMPLETED":
                    self.done.add(record["id"])
                elif record["status"] in ("FAILED", "CANCELLED"):
                    self.failed.add(record["id"])
            if self.expected and self.expected <= (self.done | self.failed):
                self.event.set()

    def wait_for(self, ids: list[str], timeout: float = 300) -> None:
        self.expected = set(ids)
        if not self.expected <= (self.done | self.failed) and not self.event.wait(timeout):
            raise TimeoutError(f"{len(self.expected - self.done)} jobs unfinished")
        if self.failed & self.expected:
            raise RuntimeError(f"{len(self.failed & self.expected)} jobs failed")
        self.event.clear()
        self.expected = set()


def fetch_bulk(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every result, 500 ids a request (GET /hal/api/jobs?ids=...&include=result)."""
    results: dict[str, dict[str, Any]] = {}
    for first in range(0, len(ids), IDS_PER_REQUEST):
        chunk = ids[first : first + IDS_PER_REQUEST]
        status, body = conn.request("GET", f"/hal/api/jobs?ids={','.join(chunk)}&include=result&limit={len(chunk)}")
        assert status == 200, body
        results.update((r["id"], r["result"]) for r in body["jobs"])
    assert len(results) == len(ids) and all(r is not None and "counts" in r for r in results.values())
    return results


def post_singles(conn: Connection, circuits: list[str], shots: int) -> tuple[list[str], float]:
    """One POST per circuit, each waiting for its answer, on one connection."""
    ids = []
    start = time.perf_counter()
    for source in circuits:
        status, record = conn.request("POST", "/hal/api/quantum/jobs", {"circuit": source, "shots": shots})
        if status != 201:
            raise RuntimeError(record)
        ids.append(record["id"])
    return ids, time.perf_counter() - start


def post_concurrently(server: ServerProcess, circuits: list[str], shots: int, connections: int = 8) -> float:
    """One POST per circuit over ``connections`` keep-alive connections at once; seconds."""
    conns = [Connection(server) for _ in range(connections)]
    share = [circuits[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=post_singles, args=(c, part, shots)) for c, part in zip(conns, share)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    return elapsed


def fetch_one_by_one(conn: Connection, ids: list[str]) -> float:
    start = time.perf_counter()
    for job_id in ids:
        status, result = conn.request("GET", f"/hal/api/jobs/{job_id}/result")
        assert status == 200 and "counts" in result
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--circuits", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each uses fresh circuits and reports medians")
    parser.add_argument("--loop-sample", type=int, default=50)
    parser.add_argument("--batch-max-size", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(2026)
    n = args.circuits
    direct([random_circuit(rng) for _ in range(20)], args.shots)  # warm up imports and Aer

    t_direct, t_bulk, t_post, t_fetch, t_single, rate_e2e, rate_accept, rate_8 = [], [], [], [], [], [], [], []
    rate_floor: list[float] = []
    t_sweep: list[float] = []
    t_separate: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite", batch_window_s=0.5, batch_max_size=args.batch_max_size)
        server.start()
        try:
            events = Completion(server)
            conn = Connection(server)
            status, record = conn.request("POST", "/hal/api/quantum/jobs", {"circuit": random_circuit(rng), "shots": 10, "priority": "high"})
            events.wait_for([record["id"]])  # the simulator worker process is up and warm
            for _ in range(args.repeat):
                # Fresh circuits each round, the same for both paths: no cache helps either.
                circuits = [random_circuit(rng) for _ in range(n)]
                t_direct.append(direct(circuits, args.shots))
                start = time.perf_counter()
                status, body = conn.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": c, "shots": args.shots} for c in circuits]})
                assert status == 201, body
                t_post.append(time.perf_counter() - start)
                ids = [r["id"] for r in body["jobs"]]
                events.wait_for(ids)
                fetched = time.perf_counter()
                fetch_bulk(conn, ids)
                t_bulk.append(time.perf_counter() - start)
                t_fetch.append(time.perf_counter() - fetched)

                circuits = [random_circuit(rng) for _ in range(n)]
                t_direct.append(direct(circuits, args.shots))
                start = time.perf_counter()
                single_ids, t_accept = post_singles(conn, circuits, args.shots)
                events.wait_for(single_ids)
                fetch_bulk(conn, single_ids)
                t_single.append(time.perf_counter() - start)
                rate_e2e.append(n / t_accept)

                import bench_sweeps  # (it imports this module: not at the top)

                thetas = [2 * math.pi * k / SWEEP_POINTS for k in range(SWEEP_POINTS)]
                t_sweep.append(bench_sweeps.hal_sweep(server, events, conn, SWEEP, thetas, estimate=False))
                t_separate.append(bench_sweeps.hal_separate(server, events, conn, SWEEP, thetas, estimate=False, priority="standard"))
            t_one_by_one = fetch_one_by_one(conn, single_ids)
            conn.close()
        finally:
            server.stop()
        # Submission alone: a window longer than the run, so nothing simulates meanwhile.
        server = ServerProcess(Path(tmp) / "accept", db_url=f"sqlite:///{tmp}/accept.sqlite", batch_window_s=3600, batch_max_size=10**6)
        server.start()
        try:
            conn = Connection(server)
            post_singles(conn, [random_circuit(rng) for _ in range(100)], args.shots)
            for _ in range(args.repeat):
                rate_floor.append(floor(conn, n))
                _, t_accept = post_singles(conn, [random_circuit(rng) for _ in range(n)], args.shots)
                rate_accept.append(n / t_accept)
                rate_8.append(n / post_concurrently(server, [random_circuit(rng) for _ in range(n)], args.shots))
            conn.close()
        finally:
            server.stop()
    t_loop = notebook_loop([random_circuit(rng) for _ in range(args.loop_sample)], args.shots) * n / args.loop_sample
    dask_ratio = dask_against_process(n, args.shots, args.repeat, rng)

    def rounds(values: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in values)

    med = statistics.median
    d, b, s1 = med(t_direct), med(t_bulk), med(t_single)
    print(f"workload: {n} random 5-qubit, 20-gate circuits x {args.shots} shots; {args.repeat} rounds, medians; "
          f"batch_max_size={args.batch_max_size}, batch_window_s=0.5; every time ends with all counts in hand")
    print(f"direct (qasm2.loads + one AerSimulator.run + get_counts): {d:7.3f} s   (rounds: {rounds(t_direct)})")
    print(f"HAL bulk request, until all results fetched:     {b:7.3f} s   ratio HAL/direct = {b / d:.2f}  (target <= 1.3, aim 1.15; rounds: {rounds(t_bulk)})")
    print(f"   of which the POST itself took                 {med(t_post):7.3f} s")
    print(f"   and the bulk fetch of the results             {med(t_fetch):7.3f} s")
    print(f"HAL {n} single requests on one connection,")
    print(f"   until all results fetched:                    {s1:7.3f} s   ratio HAL/direct = {s1 / d:.2f}  (target <= 2.0, aim 1.5; rounds: {rounds(t_single)})")
    print(f"   accepted per second while simulating:         {med(rate_e2e):7.0f}      (rounds: {', '.join(f'{x:.0f}' for x in rate_e2e)})")
    print(f"accepted single submissions per second:          {med(rate_accept):7.0f}      (target >= 1000; one connection, nothing simulating; "
          f"rounds: {', '.join(f'{x:.0f}' for x in rate_accept)})")
    print(f"   the same on 8 connections at once:            {med(rate_8):7.0f}      (rounds: {', '.join(f'{x:.0f}' for x in rate_8)})")
    print(f"best rounds (less sensitive to other load):     ratio bulk/direct = {min(t_bulk) / min(t_direct):.2f}, "
          f"single/direct = {min(t_single) / min(t_direct):.2f}")
    print(f"notebook loop, transpile + run per circuit:      {t_loop:7.3f} s   (timed on {args.loop_sample}, scaled to {n})")
    print(f"   speed-up of the HAL bulk path over it:        {t_loop / b:7.1f}x")
    print(f"fetching {n} results one by one (GET /jobs/{{id}}/result): {t_one_by_one:7.3f} s")
    above = 1000 / med(rate_accept) - 1000 / med(rate_floor)
    sweep_ratio = med(t_separate) / med(t_sweep)
    print()
    print(f"targets (issue 23), this run, medians of {args.repeat}:")
    rows = [
        ("single submissions accepted/s, one connection, SQLite", f"{med(rate_accept):.0f}", ">= 1,000", med(rate_accept) >= 1000),
        ("   the HAL's cost above Jupyter's floor", f"{above:.2f} ms (floor {med(rate_floor):.0f}/s)", "<= ~0.4 ms", above <= 0.4),
        (f"bulk POST of {n} jobs accepted", f"{n / med(t_post):.0f} jobs/s", ">= 10,000 jobs/s", n / med(t_post) >= 10000),
        (f"{n} circuits bulk until all results / direct Aer", f"{b / d:.2f}", "<= 1.3", b / d <= 1.3),
        (f"{n} single requests until all results / direct Aer", f"{s1 / d:.2f}", "<= 2.0", s1 / d <= 2.0),
        (f"{SWEEP_POINTS} separate standard jobs / one {SWEEP_POINTS}-point sweep job", f"{sweep_ratio:.2f}", "<= 3", sweep_ratio <= 3),
        (f"Dask LocalCluster path / process path, {n} circuits", "n/a (no distributed)" if dask_ratio is None else f"{dask_ratio:.2f}", "<= 1.3",
         dask_ratio is not None and dask_ratio <= 1.3),
    ]
    for name, value, target, met in rows:
        print(f"  {name:58s} {value:>28s}   target {target:18s} {'met' if met else 'NOT met'}")
    print("  (PostgreSQL and two servers: benchmarks/bench_stores.py)")


def floor(conn: Connection, count: int) -> float:
    """Jupyter's own requests per second on this connection (GET /api/status)."""
    start = time.perf_counter()
    for _ in range(count):
        status, _ = conn.request("GET", "/api/status")
        assert status == 200
    return count / (time.perf_counter() - start)


def dask_against_process(n: int, shots: int, repeat: int, rng: random.Random) -> float | None:
    """bench_dask.py's ratio, dask / process (medians), or None without distributed."""
    import asyncio
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return None
    import bench_dask
    from hal_jupyter.providers import dask_executor

    cluster = dask_executor.DaskExecutor.acquire("", 60.0)
    cluster.client()
    times: dict[str, list[float]] = {"process": [], "dask": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(repeat + 1):  # round 0 warms both paths up
                for executor in ("process", "dask"):
                    circuits = [random_circuit(rng) for _ in range(n)]
                    elapsed = asyncio.run(bench_dask.one_round(executor, circuits, shots, 1000, Path(tmp) / f"{executor}-{round_}.sqlite"))
                    if round_:
                        times[executor].append(elapsed)
    finally:
        cluster.release()
    return statistics.median(times["dask"]) / statistics.median(times["process"])


if __name__ == "__main__":
    main()
