"""``hal-jupyter worker``: a headless engine that drives jobs with no notebook server.

It shares a job store (PostgreSQL, normally) with Jupyter servers and other
workers: it claims queued jobs nobody drives and the jobs of engines that are
gone, submits and polls them with the credentials of its own environment (or
``.env``), and on SIGTERM or Ctrl-C releases its leases so the others take its
jobs over at once. On JupyterHub it outlives the culled single-user servers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from .engine.limits import LOCAL_EXECUTOR, LOCAL_EXECUTORS
from .engine.policy import STRATEGIES

log = logging.getLogger("hal_jupyter")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hal-jupyter worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", default=os.environ.get("HAL_DB_URL"), help="job store URL, e.g. postgresql+psycopg://user:password@host/db (default: $HAL_DB_URL)")
    p.add_argument("--env-file", default=".env", help="a .env file with providers' credentials (default: .env; '' for none)")
    p.add_argument("--lease-s", type=float, default=15.0, help="lease length: how long after a crash other engines take this worker's jobs over (s)")
    p.add_argument("--batch-window-s", type=float, default=1.0, help="time trigger of standard batches (s)")
    p.add_argument("--batch-max-size", type=int, default=50, help="size trigger of standard batches")
    p.add_argument("--batch-strategy", choices=list(STRATEGIES), default="time_or_cost")
    p.add_argument("--allowed-providers", default=None, help="comma-separated providers this worker drives (default: all installed)")
    p.add_argument("--local-executor", choices=list(LOCAL_EXECUTORS), default=LOCAL_EXECUTOR, help="where local work runs: this worker's processes, or a Dask cluster (docs/dask.md)")
    p.add_argument("--dask-address", default="", help="the Dask scheduler of --local-executor dask (tcp://host:8786); empty: an embedded LocalCluster")
    p.add_argument("--name", default=None, help="how the worker names itself in the store and logs")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="[%(levelname)s %(asctime)s %(name)s] %(message)s", stream=sys.stderr)
    if not args.db_url:
        print("hal-jupyter worker: --db-url (or $HAL_DB_URL) is required: the job store shared with the servers", file=sys.stderr)
        return 2
    from .engine.contract import Settings
    from .engine.engine import EngineConfig

    config = EngineConfig(
        db_url=args.db_url,
        batch_window_s=args.batch_window_s,
        batch_max_size=args.batch_max_size,
        batch_strategy=args.batch_strategy,
        allowed_providers=args.allowed_providers.split(",") if args.allowed_providers else None,
        env_file=args.env_file or None,
        dispatch=True,
        lease_s=args.lease_s,
        label=args.name or f"worker {socket.gethostname()} pid {os.getpid()}",
        settings=Settings(local_executor=args.local_executor, dask_address=args.dask_address),
    )
    try:
        asyncio.run(run(config))
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for a bad URL or an unreachable store
        from .engine.boundary import describe

        print(f"hal-jupyter worker: {describe(exc)}", file=sys.stderr)
        return 1
    return 0


async def run(config: object) -> None:
    """Drive jobs until SIGTERM or SIGINT, then release every lease."""
    from .engine.engine import Engine

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    engine = Engine(config)  # type: ignore[arg-type]
    from sqlalchemy.engine import make_url

    log.info("hal_jupyter worker %s: job store %s", engine.ledger.engine_id, make_url(engine.store.url).render_as_string(hide_password=True))
    try:
        await engine.start()
        log.info("hal_jupyter worker %s: driving jobs; providers: %s", engine.ledger.engine_id, ", ".join(engine.registry.names()))
        await stop.wait()
        log.info("hal_jupyter worker %s: stopping; releasing its jobs to the other engines", engine.ledger.engine_id)
    finally:
        await engine.stop()


if __name__ == "__main__":
    sys.exit(main())
