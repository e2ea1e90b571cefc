"""Local work on Dask against the server's own worker process, same machine, same run.

    python benchmarks/bench_dask.py [--circuits 1000] [--shots 1024] [--repeat 3] [--batch-max-size 1000]

What is timed is what a user waits for: from one bulk submission of random
5-qubit, 20-gate circuits (bench_throughput's, fresh ones each round) until
every result is in hand, on an in-process engine (SQLite store) whose
``local_executor`` is "process" (one Aer worker process) or "dask" (an embedded
LocalCluster: 2 worker processes, 1 thread each). The two alternate and medians
are reported, since a shared 2-core VM varies from one second to the next; the
cluster is started once, before the rounds (a server starts it at warm-up).
Target (docs/dask.md): dask / process <= 1.3.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench_throughput import random_circuit

from hal_jupyter.engine.contract import Settings
from hal_jupyter.engine.engine import Engine, EngineConfig
from hal_jupyter.engine.limits import MAX_LIST_IDS
from hal_jupyter.providers import dask_executor


async def one_round(executor: str, circuits: list[str], shots: int, batch_max_size: int, store: Path) -> float:
    """Seconds from the bulk submission until every result is in hand."""
    config = EngineConfig(
        db_url=f"sqlite:///{store}", batch_window_s=0.2, batch_max_size=batch_max_size, env_file=None,
        settings=Settings(local_executor=executor), allowed_providers=["local_simulator"],
    )
    engine = Engine(config)
    await engine.start()
    try:
        start = time.perf_counter()
        records, _, _ = await engine.submit("quantum", {"jobs": [{"circuit": c, "shots": shots} for c in circuits]})
        ids = [r["id"] for r in records]
        results: dict[str, dict] = {}
        while len(results) < len(ids):
            waiting = [i for i in ids if i not in results]
            for first in range(0, len(waiting), MAX_LIST_IDS):
                page = await engine.list_jobs(ids=waiting[first : first + MAX_LIST_IDS], include_result=True, limit=MAX_LIST_IDS)
                for record in page["jobs"]:
                    assert record["status"] not in ("FAILED", "CANCELLED", "UNKNOWN"), record
                    if record["status"] == "COMPLETED":
                        results[record["id"]] = record["result"]
            if len(results) < len(ids):
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        assert all(sum(r["counts"].values()) == shots for r in results.values())
        return elapsed
    finally:
        await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--circuits", type=int, default=1000)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-max-size", type=int, default=1000, help="jobs per batch (the server's default is 50)")
    args = parser.parse_args()
    cluster = dask_executor.DaskExecutor.acquire("", 60.0)  # held across the rounds, as a server holds it
    cluster.client()
    rng = random.Random(1234)
    times: dict[str, list[float]] = {"process": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat + 1):  # round 0 warms both paths up (Aer imports, caches) and is not counted
            for executor in ("process", "dask"):
                circuits = [random_circuit(rng) for _ in range(args.circuits)]
                store = Path(tmp) / f"{executor}-{round_}.sqlite"
                elapsed = asyncio.run(one_round(executor, circuits, args.shots, args.batch_max_size, store))
                if round_:
                    times[executor].append(elapsed)
                print(f"round {round_} {executor:8s} {elapsed:6.2f} s{'' if round_ else ' (warm-up)'}", flush=True)
    cluster.release()
    process, dask = statistics.median(times["process"]), statistics.median(times["dask"])
    print(f"{args.circuits} circuits x {args.shots} shots, batches of up to {args.batch_max_size}, medians of {args.repeat}:")
    print(f"  process {process:.2f} s   dask (LocalCluster, 2 workers) {dask:.2f} s   dask / process = {dask / process:.2f} (target <= 1.3)")


if __name__ == "__main__":  # the LocalCluster's worker processes import this module again
    main()
