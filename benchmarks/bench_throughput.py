"""Throughput of the HAL's REST path against the direct Qiskit Aer path, same machine, same run.

    python benchmarks/bench_throughput.py [--circuits 1000] [--shots 1024] [--loop-sample 50]

Workload: random 5-qubit, 20-gate OpenQASM 2 circuits (seeded). Measured:

- direct:     qiskit.qasm2.loads on each + ONE AerSimulator().run on the list;
- hal bulk:   one POST {"jobs": [...]} to a real `jupyter server` with hal_jupyter,
              until every job is COMPLETED (seen on the events WebSocket);
- hal single: one POST per circuit (8 keep-alive connections), until all COMPLETED;
              also the accepted submissions per second (201s received / time);
- loop:       what a notebook does without the HAL, transpile + run per circuit,
              timed on --loop-sample circuits and scaled to the full count.
Then the time to fetch every result over REST is printed on its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--circuits", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--loop-sample", type=int, default=50)
    parser.add_argument("--batch-max-size", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(2026)
    circuits = [random_circuit(rng) for _ in range(args.circuits)]
    n = args.circuits

    direct(circuits[:20], args.shots)  # warm up imports and Aer
    t_direct = min(direct(circuits, args.shots) for _ in range(2))
    t_loop = notebook_loop(circuits[: args.loop_sample], args.shots) * n / args.loop_sample

    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp), db_url=f"sqlite:///{tmp}/jobs.sqlite", batch_window_s=0.5, batch_max_size=args.batch_max_size)
        server.start()
        try:
            events = Completion(server)
            server.request("POST", "/hal/api/quantum/jobs", {"circuit": circuits[0], "shots": 10, "priority": "high"})  # warm up
            time.sleep(1.0)

            start = time.perf_counter()
            status, body = server.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": c, "shots": args.shots} for c in circuits]})
            assert status == 201, body
            t_bulk_accept = time.perf_counter() - start
            bulk_ids = [r["id"] for r in body["jobs"]]
            events.wait_for(bulk_ids)
            t_bulk = time.perf_counter() - start
            events.reset()

            start = time.perf_counter()
            single_ids, t_accept = post_singles(server, circuits, args.shots)
            events.wait_for(single_ids)
            t_single = time.perf_counter() - start
            t_fetch = fetch_results(server, single_ids)
        finally:
            server.stop()

    print(f"workload: {n} random 5-qubit, 20-gate circuits x {args.shots} shots; batch_max_size={args.batch_max_size}, window 0.5 s")
    print(f"direct (qasm2.loads + one AerSimulator.run):   {t_direct:7.3f} s")
    print(f"HAL bulk request, until all COMPLETED:         {t_bulk:7.3f} s   ratio HAL/direct = {t_bulk / t_direct:.2f}  (target <= 1.3)")
    print(f"   of which the POST itself took               {t_bulk_accept:7.3f} s")
    print(f"HAL {n} single requests, until all COMPLETED: {t_single:7.3f} s   ratio HAL/direct = {t_single / t_direct:.2f}  (target <= 2.0)")
    print(f"   accepted submissions per second:            {n / t_accept:7.0f}      (target >= 1000)")
    print(f"notebook loop, transpile + run per circuit:    {t_loop:7.3f} s   (timed on {args.loop_sample}, scaled to {n})")
    print(f"   speed-up of the HAL bulk path over it:      {t_loop / t_bulk:7.1f}x     (target >= 20)")
    print(f"fetching all {n} results over REST (one by one): {t_fetch:.3f} s")


if __name__ == "__main__":
    main()
