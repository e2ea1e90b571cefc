"""``local_simulator``: Qiskit Aer on the server's machine, free and always there.

A batch is ONE ``AerSimulator.run`` over all its circuits, in a worker process
(:mod:`.aer_worker`): Aer holds the GIL while it simulates, so in the server
process it would stall every other request for the length of the run.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..engine.errors import InvalidCircuit, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo, JobStatus
from . import aer_worker
from .base import BatchSpec, JobSpec, JobUpdate, Provider, Submission

_METHODS = {
    "aer_simulator": "automatic",
    "aer_simulator_statevector": "statevector",
    "aer_simulator_density_matrix": "density_matrix",
    "aer_simulator_matrix_product_state": "matrix_product_state",
}
_OPTIONS = {"seed_simulator": int}
_FREE = CostEstimate(currency="USD", amount=0.0, basis="free local simulator")


class LocalSimulatorProvider(Provider):
    name = "local_simulator"
    kind = "quantum"
    description = "Qiskit Aer simulator on the Jupyter server's machine (free, embedded default)"
    max_concurrency = 2
    max_batch_size = 5000
    resubmit_safe = True
    remote_survives_restart = False
    poll_interval = (0.5, 5.0)

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._runs: dict[str, Future[list[dict[str, Any]]]] = {}
        self._guard = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _workers(self) -> ProcessPoolExecutor:
        with self._guard:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=aer_worker.init_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def backends(self) -> list[BackendInfo]:
        return [
            BackendInfo(name=name, num_qubits=self.settings.max_local_qubits, status="online", queue_depth=0, simulator=True)
            for name in _METHODS
        ]

    def default_backend(self) -> str:
        return "aer_simulator"

    def validate(self, job: JobSpec) -> None:
        if job.backend not in _METHODS:
            raise InvalidRequest(
                f"local_simulator has no backend {job.backend!r}; choose one of {', '.join(_METHODS)}"
            )
        for key, value in (job.payload.get("options") or {}).items():
            expected = _OPTIONS.get(key)
            if expected is None:
                raise InvalidRequest(f"unknown option {key!r} for local_simulator; allowed: {', '.join(_OPTIONS)}")
            if type(value) is not expected:
                raise InvalidRequest(f"option {key!r} must be an {expected.__name__}")
        circuit = job.summary
        assert circuit is not None, "quantum jobs are summarised at submission"
        limit = self.settings.max_local_qubits
        if circuit.num_qubits > limit:
            raise InvalidCircuit(
                f"the circuit uses {circuit.num_qubits} qubits; local_simulator runs at most {limit} "
                f"(HalExtension.max_local_qubits)"
            )
        if circuit.num_clbits == 0 or not circuit.measures:
            raise InvalidCircuit("the circuit measures nothing, so it has no counts: add a measurement")

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return _FREE

    def warm_up(self) -> None:
        """Start the worker process and its imports now, not with the first batch."""
        self._workers().submit(aer_worker.warm_up)

    # -- running ------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        sources = [job.payload["circuit"] for job in batch.jobs]
        seed = batch.options.get("seed_simulator")
        try:
            future = self._workers().submit(aer_worker.simulate, _METHODS[batch.backend], sources, batch.shots, seed)
        except BrokenProcessPool:
            with self._guard:
                self._pool = None  # the worker died (a crash or out of memory): start a new one
            future = self._workers().submit(aer_worker.simulate, _METHODS[batch.backend], sources, batch.shots, seed)
        with self._guard:
            self._runs[batch.id] = future
        future.add_done_callback(lambda _: self._notify(batch.id))
        return Submission(remote_ids={job.id: f"aer-{batch.id}" for job in batch.jobs})

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        with self._guard:
            future = self._runs.get(batch.id)
        if future is None:
            error = ErrorInfo(type="ProviderError", message="the simulation was lost (server restarted)")
            return {job.id: JobUpdate(JobStatus.FAILED, error=error) for job in batch.jobs}
        if not future.done():
            status = JobStatus.RUNNING if future.running() else JobStatus.SUBMITTED
            message = (
                f"simulating {len(batch.jobs)} circuit(s) in one Aer run"
                if future.running()
                else "waiting for the simulator"
            )
            return {job.id: JobUpdate(status, message=message) for job in batch.jobs}
        with self._guard:
            self._runs.pop(batch.id, None)
        if future.cancelled():
            return {job.id: JobUpdate(JobStatus.CANCELLED) for job in batch.jobs}
        error = future.exception()
        if error is not None:
            info = ErrorInfo(type="SimulatorError", message=f"{type(error).__name__}: {error}")
            return {job.id: JobUpdate(JobStatus.FAILED, error=info) for job in batch.jobs}
        return {
            job.id: JobUpdate(
                JobStatus.COMPLETED,
                result={"counts": out["counts"], "shots": batch.shots, "backend": batch.backend, "metadata": out["metadata"]},
            )
            for job, out in zip(batch.jobs, future.result())
        }

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        # An Aer run cannot be stopped part-way; a run that has not started is
        # dropped only when every job of its batch is cancelled.
        if {job.id for job in batch.jobs} <= set(job_ids):
            with self._guard:
                future = self._runs.get(batch.id)
            if future is not None and future.cancel():
                with self._guard:
                    self._runs.pop(batch.id, None)

    def close(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
