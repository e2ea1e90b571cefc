"""``python -m hal_jupyter.demo``: real jobs on the embedded local providers.

Runs the same engine the server extension hosts, in this process, against a
throw-away job store: a Bell circuit in OpenQASM 2 and 3 on the Aer simulator,
a batch of standard jobs overtaken by a high-priority one, and Python jobs in
sandboxed processes. It prints what happens as it happens.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from .engine.engine import Engine, EngineConfig
from .engine.errors import error_line

BELL2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
BELL3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n'


async def wait(engine: Engine, ids: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = [await engine.get_job(i) for i in ids]
        if all(r["status"] in ("COMPLETED", "FAILED", "CANCELLED") for r in records):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"jobs not finished after {timeout} s")


async def demo(db_path: Path) -> None:
    engine = Engine(EngineConfig(db_url=f"sqlite:///{db_path}", batch_window_s=1.0, batch_max_size=10))
    await engine.start()
    try:
        print("1. Bell circuit, OpenQASM 2 and OpenQASM 3, 1024 shots on local_simulator")
        (q2,), _, _ = await engine.submit("quantum", {"circuit": BELL2, "shots": 1024, "priority": "high", "name": "bell-qasm2"})
        (q3,), _, _ = await engine.submit("quantum", {"circuit": BELL3, "shots": 1024, "priority": "high", "name": "bell-qasm3"})
        await wait(engine, [q2["id"], q3["id"]])
        for record in (q2, q3):
            result = await engine.get_result(record["id"])
            print(f"   {record['name']}: {dict(sorted(result['counts'].items()))}")

        print("2. Batching: 5 standard jobs wait for their 1 s window; a high-priority job goes first")
        standard = [(await engine.submit("quantum", {"circuit": BELL2, "shots": 100}))[0][0] for _ in range(5)]
        print(f"   standard job status: {(await engine.get_job(standard[0]['id']))['status_message']}")
        (high,), _, _ = await engine.submit("quantum", {"circuit": BELL2, "shots": 100, "priority": "high"})
        await wait(engine, [high["id"]])
        waiting = [(await engine.get_job(s["id"]))["status"] for s in standard]
        print(f"   high-priority job COMPLETED while the standard jobs are {sorted(set(waiting))}")
        await wait(engine, [s["id"] for s in standard])
        batches = {(await engine.get_job(s["id"]))["batch_id"] for s in standard}
        print(f"   the 5 standard jobs then ran as {len(batches)} provider call")

        print("3. Python in a separate process: a value with its output, an exception, a timeout")
        (ok,), _, _ = await engine.submit(
            "classical", {"code": "def main(x, y):\n    print('adding', x, y)\n    return x + y\n", "args": {"x": 1, "y": 2}, "priority": "high"}
        )
        (bad,), _, _ = await engine.submit("classical", {"code": "def main():\n    raise ValueError('bad')\n", "priority": "high"})
        (slow,), _, _ = await engine.submit(
            "classical", {"code": "def main():\n    while True:\n        pass\n", "timeout_s": 2, "priority": "high"}
        )
        await wait(engine, [ok["id"], bad["id"], slow["id"]])
        result = await engine.get_result(ok["id"])
        print(f"   main(1, 2) = {result['value']}, stdout {result['stdout']!r}")
        for record in (bad, slow):
            final = await engine.get_job(record["id"])
            print(f"   {final['status']}: {error_line(final['error'])}")
    finally:
        await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="job store file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(demo(args.db or Path(tmp) / "demo.sqlite"))


if __name__ == "__main__":
    main()
