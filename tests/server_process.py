"""The HAL's real processes (:mod:`hal_jupyter.offline.processes`) with every log
file and HTTP answer handed to the credential-leak sweep (:mod:`.canaries`)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hal_jupyter.offline import processes
from hal_jupyter.offline.processes import wait_records

from . import canaries

__all__ = ["ServerProcess", "WorkerProcess", "start_together", "stop_together", "wait_records"]


class ServerProcess(processes.ServerProcess):
    only_hal = True  # the tests of a `jupyter server` need no JupyterLab (test_browser runs it)

    def watch_log(self, path: Path) -> None:
        canaries.EVIDENCE.add_server_log(path)

    def watch_body(self, raw: bytes) -> None:
        canaries.record(canaries.HTTP, raw)


class WorkerProcess(processes.WorkerProcess):
    def watch_log(self, path: Path) -> None:
        canaries.EVIDENCE.add_server_log(path)


def start_together(*servers: ServerProcess, timeout: float = 90.0, env: dict[str, str] | None = None) -> tuple[ServerProcess, ...]:
    """Launch every server, then wait for each: their start-ups overlap."""
    for server in servers:
        server.launch(env)
    return tuple(server.ready(timeout) for server in servers)


def stop_together(procs: Iterable[ServerProcess | WorkerProcess]) -> None:
    """Stop every process (SIGTERM, then wait) side by side: their shutdowns overlap."""
    procs = list(procs)
    if procs:
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            list(pool.map(lambda proc: proc.stop(), procs))
