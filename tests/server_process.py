"""The HAL's real processes (:mod:`hal_jupyter.offline.processes`) with every log
file and HTTP answer handed to the credential-leak sweep (:mod:`.canaries`)."""

from __future__ import annotations

from pathlib import Path

from hal_jupyter.offline import processes
from hal_jupyter.offline.processes import wait_records

from . import canaries

__all__ = ["ServerProcess", "WorkerProcess", "wait_records"]


class ServerProcess(processes.ServerProcess):
    def watch_log(self, path: Path) -> None:
        canaries.EVIDENCE.add_server_log(path)

    def watch_body(self, raw: bytes) -> None:
        canaries.record(canaries.HTTP, raw)


class WorkerProcess(processes.WorkerProcess):
    def watch_log(self, path: Path) -> None:
        canaries.EVIDENCE.add_server_log(path)
