"""Where a two-server PostgreSQL run spends its time, from PostgreSQL's side.

    python benchmarks/bench_pg_waits.py [--singles 1500]

Two real `jupyter server` processes share one throwaway PostgreSQL (fsync off,
as in the tests) and take single submissions at once, one keep-alive
connection each (batch window longer than the run: only accepting is timed).
Meanwhile ``pg_stat_activity`` is sampled every 5 ms; printed: the accepted
rate of each server and, per sample, how many backends were in each state or
wait event and on which statement (the average number of backends). Run it
with ``PYTHONPATH`` set to another checkout to compare.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from bench_throughput import Connection, post_singles, random_circuit
from hal_jupyter.offline.postgres import PostgresCluster
from hal_jupyter.offline.processes import ServerProcess

SAMPLE = sa.text(
    "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-'), state, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) "
    "FROM pg_stat_activity WHERE datname = 'waits' AND pid <> pg_backend_pid()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=1500)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hal-bench-waits-"))
    os.chmod(root, 0o755)  # the postgres user reaches its data directory
    cluster = PostgresCluster(root / "pg").start()
    try:
        url = cluster.create_database("waits")
        servers = [ServerProcess(root / f"s{i}", db_url=url, batch_window_s=3600, batch_max_size=10**6).start() for i in range(2)]
        try:
            rng = random.Random(7)
            circuits = [random_circuit(rng) for _ in range(args.singles)]
            conns = [Connection(s) for s in servers]
            for conn in conns:
                post_singles(conn, circuits[:30], 100)  # warm-up
            stop, seen, samples = threading.Event(), collections.Counter(), [0]

            def sample() -> None:
                engine = sa.create_engine(cluster.url())
                with engine.connect() as conn:
                    while not stop.is_set():
                        for kind, event, state, query in conn.execute(SAMPLE):
                            seen[(kind, event, query) if state == "active" else ("idle", state, "")] += 1
                        samples[0] += 1
                        conn.rollback()
                        time.sleep(0.005)
                engine.dispose()

            sampler = threading.Thread(target=sample)
            sampler.start()
            rates: list[float] = []
            senders = [threading.Thread(target=lambda c=c: rates.append(len(circuits) / post_singles(c, circuits, 100)[1])) for c in conns]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            stop.set()
            sampler.join()
            print(f"two servers on one PostgreSQL, single submissions accepted/s: {' + '.join(f'{r:.0f}' for r in rates)} = {sum(rates):.0f}")
            print(f"{samples[0]} samples of pg_stat_activity; average backends by state or wait event, and statement:")
            for (kind, event, query), count in seen.most_common(14):
                print(f"  {count / samples[0]:5.2f}  {kind:10s} {event:22s} {query}")
        finally:
            for server in servers:
                server.stop()
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    main()
