"""The job store under load: SQLite vs PostgreSQL, one server vs two, and how soon
a server sees another server's changes. Same machine, same run.

    python benchmarks/bench_stores.py [--singles 1000] [--bulk 1000] [--events 200]

Measured, each on real `jupyter server` processes with hal_jupyter (a throwaway
PostgreSQL cluster of hal_jupyter/offline/postgres.py, fsync off like the tests):

- accepted/s:  single POSTs, one after the other on one keep-alive connection
               per server, to a server whose batch window outlasts the run (so
               only accepting is timed); with two servers both are sent to at
               once and the sum is reported;
- bulk:        one POST of N circuits to one server, until every job is COMPLETED
               (events WebSocket) and every result is fetched in bulk;
- events:      a job submitted to server A (priority high) on PostgreSQL; a
               WebSocket on server B receives its changes; the latency is B's
               receive time minus the record's ``updated_at`` (A's clock: the
               same machine), median and p99 over every change received.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench_throughput import Completion, Connection, fetch_bulk, post_singles, random_circuit
from hal_jupyter.offline.postgres import PostgresCluster
from hal_jupyter.offline.processes import ServerProcess


def accepted_per_s(urls: list[str], root: Path, count: int, name: str) -> float:
    """Singles accepted per second, summed over one server per URL, sent at once."""
    import random

    servers = [ServerProcess(root / f"{name}-{i}", db_url=url, batch_window_s=3600, batch_max_size=10**6).start() for i, url in enumerate(urls)]
    try:
        rng = random.Random(7)
        circuits = [random_circuit(rng) for _ in range(count)]
        conns = [Connection(s) for s in servers]
        post_singles(conns[0], circuits[:50], 100)  # warm-up: the first request waits for the engine
        rates: list[float] = []
        threads = [threading.Thread(target=lambda c=c: rates.append(count / post_singles(c, circuits, 100)[1])) for c in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for conn in conns:
            conn.close()
        return sum(rates)
    finally:
        for server in servers:
            server.stop()


def bulk_s(url: str, root: Path, count: int, name: str) -> float:
    import random

    server = ServerProcess(root / name, db_url=url, batch_window_s=0.5, batch_max_size=1000).start()
    try:
        rng = random.Random(11)
        conn = Connection(server)
        done = Completion(server)
        warm = [random_circuit(rng) for _ in range(20)]
        status, body = conn.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": c, "shots": 1024} for c in warm]})
        done.wait_for([r["id"] for r in body["jobs"]])
        circuits = [random_circuit(rng) for _ in range(count)]
        start = time.perf_counter()
        status, body = conn.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": c, "shots": 1024} for c in circuits]})
        assert status == 201, body
        ids = [r["id"] for r in body["jobs"]]
        done.wait_for(ids)
        fetch_bulk(conn, ids)
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed
    finally:
        server.stop()


def event_latency(url: str, root: Path, count: int) -> list[float]:
    """Seconds from a change on server A to its event on server B."""
    import websocket

    a = ServerProcess(root / "ev-a", db_url=url, batch_window_s=0.2).start()
    b = ServerProcess(root / "ev-b", db_url=url, batch_window_s=0.2).start()
    latencies: list[float] = []
    mine: set[str] = set()
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{b.port}/hal/api/events", header=[f"Authorization: token {b.token}"], timeout=60)

        def read() -> None:
            while True:
                try:
                    message = json.loads(ws.recv())
                except Exception:  # noqa: BLE001 - closed
                    return
                now = time.time()
                for record in [message["job"]] if message["type"] == "job" else message["jobs"]:
                    if record["id"] in mine:
                        stamp = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00")).timestamp()
                        latencies.append(now - stamp)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        conn = Connection(a)
        bell = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
        for _ in range(count):
            status, record = conn.request("POST", "/hal/api/quantum/jobs", {"circuit": bell, "shots": 100, "priority": "high"})
            mine.add(record["id"])
            time.sleep(0.02)
        time.sleep(2.0)
        conn.close()
        ws.close()
        return latencies
    finally:
        a.stop()
        b.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    cluster = PostgresCluster()
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="hal-bench-stores-") as tmp:
            root = Path(tmp)
            sqlite = f"sqlite:///{root}/jobs.sqlite"
            pg = [cluster.create_database(f"bench_{i}") for i in range(4)]
            print(f"accepted single submissions/s (one connection per server, {args.singles} each):")
            one_sqlite = accepted_per_s([sqlite], root, args.singles, "acc-sqlite")
            one_pg = accepted_per_s([pg[0]], root, args.singles, "acc-pg")
            two_pg = accepted_per_s([pg[1], pg[1]], root, args.singles, "acc-pg2")
            print(f"  SQLite, one server:      {one_sqlite:7.0f}/s   (target >= 1000)")
            print(f"  PostgreSQL, one server:  {one_pg:7.0f}/s   ({one_pg / one_sqlite:.2f}x SQLite; target >= 0.8x)")
            print(f"  PostgreSQL, two servers: {two_pg:7.0f}/s   ({two_pg / one_pg:.2f}x one server, sum of both; target >= 1.0x)")
            print(f"bulk: one POST of {args.bulk} circuits until every result is in hand:")
            bulk_sqlite = bulk_s(f"sqlite:///{root}/bulk.sqlite", root, args.bulk, "bulk-sqlite")
            bulk_pg = bulk_s(pg[2], root, args.bulk, "bulk-pg")
            print(f"  SQLite:     {bulk_sqlite:6.2f} s")
            print(f"  PostgreSQL: {bulk_pg:6.2f} s   ({bulk_pg / bulk_sqlite:.2f}x SQLite's time)")
            latencies = sorted(event_latency(pg[3], root, args.events))
            if latencies:
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                print(f"cross-server events ({len(latencies)} changes of {args.events} jobs made on server A, seen on server B):")
                print(f"  median {statistics.median(latencies) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   max {latencies[-1] * 1000:6.1f} ms")
            else:
                print("cross-server events: none received")
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    main()
