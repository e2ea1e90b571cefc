"""Local work on a Dask cluster (``local_executor = "dask"``, docs/dask.md).

With the "process" executor, local work runs in processes of the server itself:
one Aer worker process simulates every batch, one child process runs each
``local_python`` job. With "dask", the same functions run on the workers of a
Dask cluster: an embedded ``distributed.LocalCluster`` (``dask_address``
empty), or the scheduler at ``dask_address``, which a JupyterHub's servers and
``hal-jupyter worker`` processes can share.

- A ``local_simulator`` batch is split into chunks of consecutive jobs, a few
  per worker; each chunk is one call of :func:`.aer_worker.simulate` (the very
  function the Aer worker process serves) on a worker, and the chunks' outputs
  are merged in order: the same per-job outputs, a bad circuit failing alone.
- A ``local_python`` job runs its sandboxed child on a worker
  (:func:`.dask_tasks.run_python`); a cancel sets the run's
  ``distributed.Event``, which kills the child's process group there.
- Cancelling cancels the tasks. Tasks are submitted with retries, and the
  scheduler runs the tasks of a worker that died again elsewhere: free local
  work runs at least once (possibly twice), and none is lost.

One client per process and address, shared by the providers of its engines and
closed (with its embedded cluster) when the last of them closes. ``distributed``
is imported at first use only. Calls that wait for the cluster run on the
providers' threads; :func:`describe` and :meth:`DaskExecutor.availability`
never wait, so the event loop may call them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ..engine.boundary import describe as describe_error
from ..engine.contract import Availability, Report, Settings
from ..engine.errors import ProviderUnavailable

T = TypeVar("T")
log = logging.getLogger("hal_jupyter")
NOT_INSTALLED = "local_executor is 'dask' but the distributed package is not installed: pip install 'hal-jupyter[dask]'"
#: worker processes of the embedded LocalCluster (one thread each), at most one per core
EMBEDDED_WORKERS = 2
#: a batch is split into this many chunks per worker thread: the work stays balanced, and a worker that dies costs little
CHUNKS_PER_WORKER = 2
#: how often a task is run again after an error (KilledWorker included); a dead worker's tasks are rescheduled besides
RETRIES = 3
#: an unreachable scheduler is tried again (in the background) this long after the last attempt
RECONNECT_AFTER_S = 5.0
#: batches whose chunks are gathered at once (each waits on a thread; chunks of others still run)
GATHERERS = 8


def describe(settings: Settings) -> dict[str, Any]:
    """``{"kind", "address", "workers"}``: where this process runs local work, for
    ``GET /hal/api/scheduler``. "process": the one Aer worker process of the server
    (``local_python`` children besides). Never waits (no call to the cluster)."""
    if settings.local_executor != "dask":
        return {"kind": "process", "address": None, "workers": 1}
    executor = DaskExecutor.existing(settings.dask_address)
    if executor is None:
        return {"kind": "dask", "address": settings.dask_address or None, "workers": 0}
    return executor.describe()


def executor_for(settings: Settings) -> DaskExecutor | None:
    """The process's executor for ``settings`` (the caller is one more user, until it
    calls :meth:`DaskExecutor.release`); None with the "process" executor."""
    if settings.local_executor != "dask":
        return None
    return DaskExecutor.acquire(settings.dask_address, settings.provider_timeout_s)


class LocalWork:
    """What ``local_simulator`` and ``local_python`` share about where their work runs
    (a mixin before ``Provider``): ``_dask`` is their executor, None on the process path."""

    settings: Settings
    _dask: DaskExecutor | None

    def availability(self) -> Availability:
        return Availability(True) if self._dask is None else self._dask.availability()

    def executor_info(self) -> dict[str, Any]:
        """Where this provider runs its work, for ``GET /hal/api/scheduler`` (:func:`describe`)."""
        return describe(self.settings)


def warm_up(executor: DaskExecutor) -> None:
    """Connect (or start the embedded cluster) now, not with the first job; a failure
    is logged and shows as the providers' unavailability."""
    try:
        executor.client()
    except ProviderUnavailable as exc:
        log.warning("hal_jupyter: %s", exc.message)


def chunks(items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` in at most ``count`` runs of consecutive items, sizes differing by one at most."""
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    bounds = [i * size + min(i, extra) for i in range(count + 1)]
    return [list(items[bounds[i] : bounds[i + 1]]) for i in range(count)]


class DaskExecutor:
    """This process's Dask client for one scheduler address ("": an embedded LocalCluster)."""

    _shared: dict[str, DaskExecutor] = {}
    _shared_guard = threading.Lock()

    def __init__(self, address: str, connect_timeout_s: float) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._pid = os.getpid()
        self._users = 0
        self._connecting = threading.Lock()
        self._state = threading.Lock()
        self._client: Any = None
        self._cluster: Any = None
        self._failure: tuple[float, str] | None = None  # when the last connection attempt failed, and why
        self._probing = False
        self._chunks: dict[Future[Any], list[Any]] = {}  # a batch's merged result -> its chunks' Dask futures
        self._python: dict[str, tuple[Any, str]] = {}  # job id -> its Dask future and cancel event
        self._gatherers = ThreadPoolExecutor(max_workers=GATHERERS, thread_name_prefix="hal-dask-gather")

    # -- one per process and address ------------------------------------------
    @classmethod
    def acquire(cls, address: str, connect_timeout_s: float) -> DaskExecutor:
        with cls._shared_guard:
            executor = cls._shared.get(address)
            if executor is None or executor._pid != os.getpid():  # (a forked child connects on its own)
                executor = cls._shared[address] = cls(address, connect_timeout_s)
            executor._users += 1
            return executor

    @classmethod
    def existing(cls, address: str) -> DaskExecutor | None:
        with cls._shared_guard:
            executor = cls._shared.get(address)
        return executor if executor is not None and executor._pid == os.getpid() else None

    def release(self) -> None:
        """One user fewer; the last one closes the client and the embedded cluster."""
        with self._shared_guard:
            self._users -= 1
            if self._users > 0:
                return
            if self._shared.get(self.address) is self:
                del self._shared[self.address]
        self._gatherers.shutdown(wait=False, cancel_futures=True)
        with self._connecting, self._state:
            client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        for closing in (client, cluster):
            if closing is not None:
                try:
                    closing.close(timeout=10)
                except Exception as exc:  # noqa: BLE001 - closing at shutdown: say so, go on
                    log.warning("hal_jupyter: closing the Dask %s failed: %s", type(closing).__name__, describe_error(exc))

    # -- connection -------------------------------------------------------------
    def client(self) -> Any:
        """The connected ``distributed.Client``, connecting (or starting the embedded
        cluster) first; :class:`ProviderUnavailable` when that fails. Blocking."""
        with self._connecting:
            client = self._client
            if client is not None and client.status not in ("closing", "closed"):
                return client
            with self._state:
                failure = self._failure
            if failure is not None and time.monotonic() - failure[0] < RECONNECT_AFTER_S:
                raise ProviderUnavailable(failure[1])  # just tried: no second wait for the same answer
            try:
                distributed = importlib.import_module("distributed")
            except ImportError:
                raise ProviderUnavailable(NOT_INSTALLED) from None
            try:
                client = self._connect(distributed)
            except Exception as exc:  # noqa: BLE001 - an unreachable scheduler makes the providers unavailable
                where = f"the Dask scheduler at {self.address}" if self.address else "the embedded Dask cluster"
                message = f"{where} cannot be reached: {describe_error(exc)} (local_executor 'dask', dask_address {self.address!r})"
                with self._state:
                    self._failure = (time.monotonic(), message)
                raise ProviderUnavailable(message) from None
            with self._state:
                self._client, self._failure = client, None
            return client

    def _connect(self, distributed: Any) -> Any:
        from . import dask_tasks

        if self.address:
            client = distributed.Client(self.address, timeout=self.connect_timeout_s, set_as_default=False)
        else:
            if self._cluster is None:
                self._cluster = distributed.LocalCluster(
                    n_workers=min(EMBEDDED_WORKERS, os.cpu_count() or 1), threads_per_worker=1, processes=True, dashboard_address=None
                )
            client = distributed.Client(self._cluster, set_as_default=False)  # never the kernel's default scheduler
            log.info("hal_jupyter: local work runs on an embedded Dask cluster at %s", self._cluster.scheduler_address)
        client.register_plugin(dask_tasks.FirstImports(), name="hal-jupyter-first-imports")
        return client

    def availability(self) -> Availability:
        """Unavailable when ``distributed`` is missing or the last connection attempt
        failed (tried again in the background after a while). Never waits."""
        if importlib.util.find_spec("distributed") is None:
            return Availability(False, NOT_INSTALLED)
        with self._state:
            failure, probe = self._failure, False
            if failure is not None and not self._probing and time.monotonic() - failure[0] >= RECONNECT_AFTER_S:
                self._probing = probe = True
        if probe:
            threading.Thread(target=self._probe, name="hal-dask-connect", daemon=True).start()
        return Availability(True) if failure is None else Availability(False, failure[1])

    def _probe(self) -> None:
        try:
            self.client()
        except ProviderUnavailable:
            pass
        finally:
            with self._state:
                self._probing = False

    def describe(self) -> dict[str, Any]:
        """``{"kind": "dask", "address", "workers"}``, from what the client last heard
        (it asks the scheduler every few seconds); never waits."""
        with self._state:
            client = self._client
        if client is None:
            return {"kind": "dask", "address": self.address or None, "workers": 0}
        identity = getattr(client, "_scheduler_identity", None) or {}  # scheduler_info() would wait for an answer
        return {"kind": "dask", "address": client.scheduler.address, "workers": len(identity.get("workers", {}))}

    # -- local_simulator ----------------------------------------------------------
    def simulate(self, method: str, jobs: list[tuple[Any, ...]], shots: int, seed: int | None) -> Future[list[dict[str, Any]]]:
        """A batch's jobs in chunks on the cluster's workers; the future of their
        outputs, merged in order (as :func:`.aer_worker.simulate` gives them)."""
        from . import aer_worker

        client = self.client()
        threads = sum(client.nthreads().values()) or 1
        parts = [
            client.submit(aer_worker.simulate, method, part, shots, seed, len(jobs), pure=False, retries=RETRIES)
            for part in chunks(jobs, threads * CHUNKS_PER_WORKER)
        ]
        merged = self._gatherers.submit(_merge, client, parts)
        with self._state:
            self._chunks[merged] = parts
        merged.add_done_callback(self._forget)
        return merged

    def _forget(self, merged: Future[Any]) -> None:
        with self._state:
            self._chunks.pop(merged, None)

    def stop(self, merged: Future[Any]) -> None:
        """Cancel a batch's chunks, queued or running."""
        merged.cancel()
        with self._state:
            parts, client = self._chunks.pop(merged, []), self._client
        if parts and client is not None:
            client.cancel(parts)

    # -- local_python -------------------------------------------------------------
    def run_python(self, job_id: str, payload: dict[str, Any], settings: Settings, cancelled: Callable[[], bool]) -> Report:
        """Run one job's sandboxed child on a worker; its report. Blocking."""
        from . import dask_tasks

        client = self.client()
        event = f"hal-cancel-{job_id}-{uuid.uuid4().hex}"
        future = client.submit(dask_tasks.run_python, event, payload, settings, pure=False, retries=RETRIES)
        with self._state:
            self._python[job_id] = (future, event)
        try:
            if cancelled():  # a cancel that came while the task was being submitted
                self.cancel_python([job_id])
            return future.result()
        finally:
            with self._state:
                self._python.pop(job_id, None)

    def cancel_python(self, job_ids: list[str]) -> None:
        """Stop these jobs' tasks: a queued one is dropped, a running one's child killed."""
        with self._state:
            found, client = [self._python[j] for j in job_ids if j in self._python], self._client
        if not found or client is None:
            return
        from distributed import Event

        try:
            for _, event in found:
                # Set, it stays on the scheduler (a few bytes) unless the run saw it: the
                # run of a queued task that is cancelled never starts to clear it.
                Event(event, client=client).set()
        finally:
            client.cancel([future for future, _ in found])


def _merge(client: Any, parts: list[Any]) -> list[dict[str, Any]]:
    """The chunks' outputs, in order, once all are in."""
    return [output for part in client.gather(parts) for output in part]
