"""What a budget costs the request path: single submissions accepted per second with
no budget, and with a budget that matches every job (each acceptance then locks
it, sums its period's charges and writes a charge), on SQLite and PostgreSQL.
Same machine, same run, rounds alternating.

    python benchmarks/bench_budgets.py [--rounds 2] [--singles 600]

Each round is a fresh `jupyter server` (a batch window longer than the run: only
accepting is timed); the budget is set over REST (PUT /hal/api/budgets/all) by
the server's user, an admin. The jobs go to the local simulator, whose estimate
is 0: what is measured is the reservation's work, not a refusal.
"""

from __future__ import annotations

import argparse
import getpass
import random
import statistics
import tempfile
from pathlib import Path

from bench_throughput import Connection, post_singles, random_circuit
from hal_jupyter.offline.postgres import PostgresCluster
from hal_jupyter.offline.processes import ServerProcess


def accepted_per_s(url: str, root: Path, count: int, budget: bool) -> float:
    user = getpass.getuser()
    server = ServerProcess(root, db_url=url, batch_window_s=3600, batch_max_size=10**6, env_file="", admin_users=user, user=user).start()
    try:
        if budget:
            status, body = server.request("PUT", "/hal/api/budgets/all", {"limit": 1e9, "period": "month"})
            assert status == 200, body
        rng = random.Random(7)
        circuits = [random_circuit(rng) for _ in range(count)]
        conn = Connection(server)
        post_singles(conn, circuits[:50], 100)  # warm-up: the first request waits for the engine
        rate = count / post_singles(conn, circuits, 100)[1]
        conn.close()
        if budget:
            status, body = server.request("GET", "/hal/api/budgets")
            assert status == 200 and body["budgets"][0]["name"] == "all", body
        return rate
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--singles", type=int, default=600)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hal-bench-budgets-"))
    root.chmod(0o755)  # the cluster runs as the postgres user
    cluster = PostgresCluster(root / "pg").start()
    try:
        stores = {"sqlite": lambda n: f"sqlite:///{root / f'{n}.sqlite'}", "postgresql": lambda n: cluster.create_database(n)}
        print(f"{'store':<11} {'no budget /s':>13} {'one budget /s':>14} {'ratio':>6}")
        for store, url_of in stores.items():
            rates: dict[bool, list[float]] = {False: [], True: []}
            for r in range(args.rounds):
                for budget in (False, True):
                    name = f"{store}-{r}-{int(budget)}"
                    rates[budget].append(accepted_per_s(url_of(name), root / name, args.singles, budget))
            plain, budgeted = statistics.median(rates[False]), statistics.median(rates[True])
            print(f"{store:<11} {plain:>13.0f} {budgeted:>14.0f} {budgeted / plain:>6.2f}", flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
