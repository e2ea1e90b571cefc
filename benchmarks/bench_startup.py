"""What hal_jupyter adds to the start of a Jupyter server, and how long the first job then takes.

    python benchmarks/bench_startup.py [--rounds 7] [--shots 1024]

A user notices the extension first as a slower ``jupyter server``, then as a
slow first job; both are measured here on a real server process, in fresh
config, data and runtime directories for every start (so a first start also
creates its job store).

- start: from spawning ``python -m jupyter_server`` to the first 200 answer to
  ``GET /api/status`` (Jupyter's own endpoint, polled every 5 ms): the server
  listens, its event loop runs and nothing blocks it. Rounds alternate the
  extension on and off (``--ServerApp.jpserver_extensions=hal_jupyter=True`` /
  ``=False``, both explicit, whatever ``pip install`` enabled); medians, since a
  shared 2-core VM varies from one second to the next.
- first job: with the extension on, from that moment to holding the counts of
  one Bell circuit sent to ``local_simulator`` at once (POST, then GET of the
  result until it is there). The direct reference is a fresh Python process that
  imports Qiskit and Aer and runs the same circuit (from spawn to its counts).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

TOKEN = "bench-token"
BELL = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; h q[0]; cx q[0], q[1]; measure q -> c;'
DIRECT = f"""
from qiskit import qasm2
from qiskit_aer import AerSimulator
circuit = qasm2.loads({BELL!r}, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
print(AerSimulator().run(circuit, shots=SHOTS).result().get_counts())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``jupyter server`` process in its own directories."""

    def __init__(self, root: Path, enabled: bool) -> None:
        self.root, self.port = root, free_port()
        for name in ("config", "data", "runtime"):
            (root / name).mkdir(parents=True)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_DATA_DIR": str(root / "data"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        }
        args = [
            sys.executable, "-m", "jupyter_server",
            f"--ServerApp.port={self.port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
            f"--ServerApp.jpserver_extensions=hal_jupyter={enabled}",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.log = open(root / "server.log", "wb")
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env, cwd=root)

    def request(self, method: str, path: str, body: object = None, timeout: float = 30) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, path, data, headers={"Authorization": f"token {TOKEN}"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 60) -> tuple[float, float]:
        """Seconds from spawn to the first 200 from GET /api/status, and the CPU
        seconds the server process had used by then (less noisy on a busy machine)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                if self.request("GET", "/api/status", timeout=5)[0] == 200:
                    wall = time.perf_counter() - self.spawned
                    cpu = psutil.Process(self.proc.pid).cpu_times()
                    return wall, cpu.user + cpu.system
            except OSError:
                pass
            time.sleep(0.005)
        raise TimeoutError("the server did not answer")

    def first_job(self, shots: int) -> float:
        """Seconds from now to the counts of one job sent to local_simulator."""
        start = time.perf_counter()
        status, record = self.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL, "shots": shots, "priority": "high"})
        assert status == 201, record
        job_id = record["id"]  # type: ignore[index]
        while time.perf_counter() - start < 120:
            status, result = self.request("GET", f"/hal/api/jobs/{job_id}/result")
            if status == 200:
                assert sum(result["counts"].values()) == shots  # type: ignore[index]
                return time.perf_counter() - start
            assert status == 409, result
            time.sleep(0.005)
        raise TimeoutError("the first job did not complete")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def direct_first_job(shots: int) -> float:
    """A fresh Python process: import Qiskit and Aer, run one circuit, print its counts."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", DIRECT.replace("SHOTS", str(shots))], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="starts each way (alternating)")
    parser.add_argument("--shots", type=int, default=1024)
    args = parser.parse_args()
    on, off, cpu_on, cpu_off, first, spawn_first, direct = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        Server(Path(tmp) / "warm", False).stop()  # file caches warm for both
        for index in range(args.rounds):
            for enabled in (index % 2 == 0, index % 2 != 0):  # alternate which goes first
                server = Server(Path(tmp) / f"{index}-{enabled}", enabled)
                try:
                    wall, cpu = server.wait_ready()
                    (on if enabled else off).append(wall)
                    (cpu_on if enabled else cpu_off).append(cpu)
                    if enabled:
                        first.append(server.first_job(args.shots))
                        spawn_first.append(wall + first[-1])
                finally:
                    server.stop()
            direct.append(direct_first_job(args.shots))

    def ms(values: list[float]) -> str:
        return ", ".join(f"{v * 1000:.0f}" for v in values)

    med = statistics.median
    print(f"{args.rounds} alternating rounds, medians; start = spawn to the first 200 from GET /api/status")
    print(f"server start, extension disabled:  {med(off) * 1000:7.0f} ms   (rounds: {ms(off)})")
    print(f"server start, extension enabled:   {med(on) * 1000:7.0f} ms   (rounds: {ms(on)})")
    print(f"   added by hal_jupyter:           {(med(on) - med(off)) * 1000:7.0f} ms   (target <= 200)")
    print(f"   server CPU time until then:     {med(cpu_off) * 1000:7.0f} ms disabled, {med(cpu_on) * 1000:.0f} ms enabled: "
          f"{(med(cpu_on) - med(cpu_off)) * 1000:.0f} ms added")
    print("first local_simulator job, until its counts are in hand:")
    print(f"   sent as soon as the server answers: {med(first) * 1000:7.0f} ms   (rounds: {ms(first)})")
    print(f"   from spawning the server:           {med(spawn_first) * 1000:7.0f} ms")
    print(f"   direct, fresh python + Aer:         {med(direct) * 1000:7.0f} ms   (rounds: {ms(direct)})")
    print(f"   ratio server/direct:                {med(first) / med(direct):7.2f}")

if __name__ == "__main__":
    main()
