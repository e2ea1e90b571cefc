"""Single submissions accepted per second: this checkout against another one
(``--base``, e.g. a clone at main's previous commit), in alternating rounds of
the same run, each beside Jupyter's own floor measured on the same server.

    python benchmarks/bench_accept_ab.py --base /tmp/base [--rounds 3] [--singles 1000]

A shared 2-core VM drifts by +-30% from one minute to the next, so a figure is
only worth its comparison: rounds alternate (base, this, base, this, ...) and
each reports the acceptance rate next to ``GET /api/status`` on the same
server. Each round is a fresh `jupyter server` (SQLite, a batch window longer
than the run: only accepting is timed) run with that checkout on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

ROUND = r"""
import json, pathlib, random, tempfile, time
import bench_throughput as bench  # benchmarks/ is on PYTHONPATH
from hal_jupyter.offline.processes import ServerProcess

root = pathlib.Path(tempfile.mkdtemp(prefix="hal-ab-"))
server = ServerProcess(root, db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=600, batch_max_size=100000, env_file="").start()
try:
    conn = bench.Connection(server)
    circuits = [bench.random_circuit(random.Random(7)) for _ in range(SINGLES)]
    conn.request("GET", "/api/status")
    start = time.perf_counter()
    for _ in range(500):
        conn.request("GET", "/api/status")
    floor = 500 / (time.perf_counter() - start)
    ids, seconds = bench.post_singles(conn, circuits, 100)
    start = time.perf_counter()
    for job_id in ids[:500]:
        conn.request("GET", f"/hal/api/jobs/{job_id}")
    reads = 500 / (time.perf_counter() - start)
    print(json.dumps({"accepted/s": len(ids) / seconds, "floor/s": floor, "GET job/s": reads}))
finally:
    server.stop()
"""


def one_round(checkout: Path, singles: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), str(checkout / "benchmarks")])}
    done = subprocess.run(
        [sys.executable, "-c", ROUND.replace("SINGLES", str(singles))],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"a round in {checkout} failed: {done.stderr[-2000:]}")
    return json.loads(lines[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the code to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    for k in range(args.rounds):
        for name, checkout in (("base", args.base.resolve()), ("this", HERE)):
            results[name].append(one_round(checkout, args.singles))
            print(f"round {k + 1} {name}: " + ", ".join(f"{key} {value:.0f}" for key, value in results[name][-1].items()), flush=True)
    medians = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in results.items()}
    for name, row in medians.items():
        share = row["accepted/s"] / row["floor/s"]
        print(f"{name:>5} (medians): " + ", ".join(f"{key} {value:.0f}" for key, value in row.items()) + f"; accepted/floor {share:.2f}")


if __name__ == "__main__":
    main()
