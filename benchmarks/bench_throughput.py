"""Throughput of the HAL's REST path against the direct Qiskit Aer path, same machine, same run.

    python benchmarks/bench_throughput.py [--circuits 1000] [--shots 1024] [--repeat 3] [--loop-sample 50]

Workload: random 5-qubit, 20-gate OpenQASM 2 circuits (seeded), fresh ones each
round; the direct and HAL runs alternate and medians are reported, since a
shared 2-core VM varies by +-30% from one second to the next. Measured:

- direct:     qiskit.qasm2.loads on each + ONE AerSimulator().run on the list;
- hal bulk:   one POST {"jobs": [...]} to a real `jupyter server` with hal_jupyter,
              until every job is COMPLETED (seen on the events WebSocket);
- hal single: one POST per circuit (8 keep-alive connections), until all COMPLETED;
              and the submissions accepted per second meanwhile;
- accepted:   submissions per second on a server with nothing simulating;
- loop:       what a notebook does without the HAL, transpile + run per circuit,
              timed on --loop-sample circuits and scaled to the full count.
Then the time to fetch every result over REST is printed on its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server_process import ServerProcess  # noqa: E402

GATES_1Q = ("h", "x", "sx", "s", "t")


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
    [result.get_counts(i) for i in range(len(parsed))]
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
        if self.expected <= (self.done | self.failed):
            return
        if not self.event.wait(timeout):
            raise TimeoutError(f"{len(self.expected - self.done)} jobs unfinished")
        if self.failed & self.expected:
            raise RuntimeError(f"{len(self.failed & self.expected)} jobs failed")

    def reset(self) -> None:
        self.event.clear()
        self.expected = set()


def post_singles(server: ServerProcess, circuits: list[str], shots: int, connections: int = 8) -> tuple[list[str], float]:
    """One POST per circuit over ``connections`` keep-alive connections (asyncio, so
    the client spends as little CPU as possible on this 2-core machine)."""
    import asyncio

    async def worker(queue: asyncio.Queue[tuple[int, str]], ids: list[str]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            while not queue.empty():
                index, source = queue.get_nowait()
                body = json.dumps({"circuit": source, "shots": shots}).encode()
                writer.write(
                    b"POST /hal/api/quantum/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + f"Authorization: token {server.token}\r\nContent-Type: application/json\r\n".encode()
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                data = json.loads(await reader.readexactly(length))
                if status != 201:
                    raise RuntimeError(data)
                ids[index] = data["id"]
        finally:
            writer.close()

    async def run() -> list[str]:
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        for item in enumerate(circuits):
            queue.put_nowait(item)
        ids = [""] * len(circuits)
        await asyncio.gather(*(worker(queue, ids) for _ in range(connections)))
        return ids

    start = time.perf_counter()
    ids = asyncio.run(run())
    return ids, time.perf_counter() - start


def fetch_results(server: ServerProcess, ids: list[str]) -> float:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    for job_id in ids:
        conn.request("GET", f"/hal/api/jobs/{job_id}/result", headers={"Authorization": f"token {server.token}"})
        response = conn.getresponse()
        assert response.status == 200 and "counts" in json.loads(response.read())
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


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

    t_direct, t_bulk, t_post, t_single, rate_e2e, rate_accept = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite", batch_window_s=0.5, batch_max_size=args.batch_max_size)
        server.start()
        try:
            events = Completion(server)
            server.request("POST", "/hal/api/quantum/jobs", {"circuit": random_circuit(rng), "shots": 10, "priority": "high"})
            time.sleep(1.0)  # the simulator worker process is up and warm
            for _ in range(args.repeat):
                # Fresh circuits each round, the same for both paths: no cache helps either.
                circuits = [random_circuit(rng) for _ in range(n)]
                t_direct.append(direct(circuits, args.shots))

                start = time.perf_counter()
                status, body = server.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": c, "shots": args.shots} for c in circuits]})
                assert status == 201, body
                t_post.append(time.perf_counter() - start)
                events.wait_for([r["id"] for r in body["jobs"]])
                t_bulk.append(time.perf_counter() - start)
                events.reset()

                circuits = [random_circuit(rng) for _ in range(n)]
                t_direct.append(direct(circuits, args.shots))
                start = time.perf_counter()
                single_ids, t_accept = post_singles(server, circuits, args.shots)
                events.wait_for(single_ids)
                t_single.append(time.perf_counter() - start)
                rate_e2e.append(n / t_accept)
                events.reset()
            t_fetch = fetch_results(server, single_ids)
        finally:
            server.stop()
        # Submission alone: a window longer than the run, so nothing simulates meanwhile.
        server = ServerProcess(Path(tmp) / "accept", db_url=f"sqlite:///{tmp}/accept.sqlite", batch_window_s=3600, batch_max_size=10**6)
        server.start()
        try:
            post_singles(server, [random_circuit(rng) for _ in range(100)], args.shots)
            for _ in range(args.repeat):
                _, t_accept = post_singles(server, [random_circuit(rng) for _ in range(n)], args.shots)
                rate_accept.append(n / t_accept)
        finally:
            server.stop()
    t_loop = notebook_loop([random_circuit(rng) for _ in range(args.loop_sample)], args.shots) * n / args.loop_sample

    d, b, s1 = median(t_direct), median(t_bulk), median(t_single)
    print(f"workload: {n} random 5-qubit, 20-gate circuits x {args.shots} shots; {args.repeat} rounds, medians; "
          f"batch_max_size={args.batch_max_size}, batch_window_s=0.5")
    print(f"direct (qasm2.loads + one AerSimulator.run):     {d:7.3f} s   (rounds: {', '.join(f'{x:.2f}' for x in t_direct)})")
    print(f"HAL bulk request, until all COMPLETED:           {b:7.3f} s   ratio HAL/direct = {b / d:.2f}  (target <= 1.3)")
    print(f"   of which the POST itself took                 {median(t_post):7.3f} s")
    print(f"HAL {n} single requests, until all COMPLETED:  {s1:7.3f} s   ratio HAL/direct = {s1 / d:.2f}  (target <= 2.0)")
    print(f"   accepted per second while simulating:         {median(rate_e2e):7.0f}")
    print(f"accepted single submissions per second:          {median(rate_accept):7.0f}      (target >= 1000; nothing simulating)")
    print(f"notebook loop, transpile + run per circuit:      {t_loop:7.3f} s   (timed on {args.loop_sample}, scaled to {n})")
    print(f"   speed-up of the HAL bulk path over it:        {t_loop / b:7.1f}x     (target >= 20)")
    print(f"fetching {n} results over REST, one by one:    {t_fetch:7.3f} s")


if __name__ == "__main__":
    main()
