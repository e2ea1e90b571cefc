"""What runs on the Dask workers of ``local_executor = "dask"`` (:mod:`.dask_executor`).

Workers import this module (the package must be installed on them, as
``hal-jupyter[dask]``); the server imports it only once ``distributed`` is in
use, never with the providers. Simulation chunks need nothing here: the task is
:func:`.aer_worker.simulate` itself.
"""

from __future__ import annotations

import threading
import subprocess
from typing import Any

from distributed import Event, WorkerPlugin, get_client

from ..engine.contract import Report, Settings
from .sandbox import kill_group, run_code

class FirstImports(WorkerPlugin):
    """Imports Qiskit and Aer on each worker's main thread as it joins: a first import
    on a thread that later exits made later parses crash (docs/PROVIDERS.md), and the
    first batch need not wait for them."""

    idempotent = True

    def setup(self, worker: Any) -> None:
        import qiskit.qasm2  # noqa: F401
        import qiskit_aer  # noqa: F401


def run_python(event_name: str, payload: dict[str, Any], settings: Settings) -> Report:
    """One ``local_python`` job on this worker: the same sandboxed child as on the
    server (:func:`.sandbox.run_code`), whose process group is killed as soon as
    the run's cancel event (named ``event_name``) is set. The run sets the event
    itself when it ends, to release the watcher, and clears it: the scheduler forgets it."""
    cancel = Event(event_name, client=get_client())
    finished = threading.Event()

    def watch(child: subprocess.Popen[bytes]) -> None:
        try:
            cancel.wait()
        except Exception:  # noqa: BLE001 - the scheduler is gone: the worker goes too, and the child with it
            return
        if not finished.is_set():
            kill_group(child)

    def started(child: subprocess.Popen[bytes], timeout: float) -> bool:
        threading.Thread(target=watch, args=(child,), name="hal-dask-cancel", daemon=True).start()
        return False

    try:
        return run_code(payload, settings, started)
    finally:
        finished.set()
        cancel.set()
        cancel.clear()
