"""``local_simulator``: Qiskit Aer on the server's machine, free and always there.

A batch is ONE ``AerSimulator.run`` over all its circuits (parameter sweeps: ONE
Aer ``SamplerV2`` call with a PUB per job; estimation jobs: ONE Aer
``EstimatorV2`` call, exact expectation values), in a worker process
(:mod:`.aer_worker`): Aer holds the GIL while it simulates, so in the server
process it would stall every other request for the length of the run. Batches
go to the worker one at a time; cancelling a running batch stops the worker,
and a worker that died is started again for the next batch. The worker serves
the whole server process (:class:`AerProcess`). A circuit that
cannot run fails alone, with its own reason; the rest of its batch completes.

With ``local_executor = "dask"`` a batch goes to a Dask cluster instead, in
chunks that run the same simulation on its workers (:mod:`.dask_executor`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..engine.errors import ErrorType, InvalidCircuit, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo
from ..engine import estimation, sweeps
from . import aer_worker, dask_executor, quantum
from ..engine.contract import (
    BatchSpec, Cancelled, Failed, Finished, JobSpec, Provider, Report, Running, Submission, Waiting,
)

_METHODS = {
    "aer_simulator": "automatic",
    "aer_simulator_statevector": "statevector",
    "aer_simulator_density_matrix": "density_matrix",
    "aer_simulator_matrix_product_state": "matrix_product_state",
}
_OPTIONS = {"seed_simulator": int}
_FREE = CostEstimate(currency="USD", amount=0.0, basis="free local simulator")


class LocalSimulatorProvider(dask_executor.LocalWork, Provider):
    name = "local_simulator"
    kind = "quantum"
    description = "Qiskit Aer simulator on the Jupyter server's machine (free, embedded default)"
    max_concurrency = 2
    max_batch_size = 5000
    per_shot_results = True
    resubmit_safe = True
    remote_survives_restart = False
    poll_interval = (0.5, 5.0)

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._runs: dict[str, Future[list[dict[str, Any]]]] = {}
        self._guard = threading.Lock()
        # One long-lived thread talks to the worker: this provider's batches run one at a time.
        self._feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-aer")
        self._aer = AerProcess.of_this_process()
        self._dask = dask_executor.executor_for(self.settings)  # None: the worker process above

    def _simulate(self, method: str, jobs: list[tuple[Any, ...]], shots: int, seed: int | None) -> list[dict[str, Any]]:
        """Runs on the feeder thread: one request to the worker, one answer."""
        return self._aer.run(self, (method, jobs, shots, seed))

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
        if not sweeps.estimating(job.payload) and (circuit.num_clbits == 0 or not circuit.measures):
            raise InvalidCircuit(quantum.NOTHING_MEASURED)

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return _FREE

    def warm_up(self) -> None:
        """Start the worker process (or connect to the Dask cluster) and its imports now, not with the first batch."""
        if self._dask is not None:
            dask_executor.warm_up(self._dask)
        else:
            self._feeder.submit(self._aer.start)

    # -- running ------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        # a job that asks for per-shot memory says so with a third item; the others' requests stay as small as before
        jobs = [(job.payload["circuit"], job.payload.get("sweep"), *((True,) if quantum.wants_memory(job) else ())) for job in batch.jobs]
        request = (_METHODS[batch.backend], jobs, batch.shots, batch.options.get("seed_simulator"))
        if self._dask is not None:
            future = self._dask.simulate(*request)
        else:
            future = self._feeder.submit(self._simulate, *request)
        with self._guard:
            self._runs[batch.id] = future
        future.add_done_callback(lambda _: self._notify(batch.id))
        return Submission(remote_ids={job.id: f"aer-{batch.id}" for job in batch.jobs})

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        with self._guard:
            future = self._runs.get(batch.id)
        if future is None:
            lost = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="the simulation was lost (server restarted)"))
            return {job.id: lost for job in batch.jobs}
        if not future.done():
            report = Running(_progress(batch, self._dask is not None)) if future.running() else Waiting("waiting for the simulator")
            return {job.id: report for job in batch.jobs}
        reports = self._outcome(batch, future)
        with self._guard:  # only once its outcome is read: a poll that fails is asked again
            self._runs.pop(batch.id, None)
        return reports

    def _outcome(self, batch: BatchSpec, future: Future[list[dict[str, Any]]]) -> dict[str, Report]:
        if future.cancelled():
            return {job.id: Cancelled() for job in batch.jobs}
        error = future.exception()
        if error is not None:
            failed = Failed(ErrorInfo(type=ErrorType.SIMULATOR_ERROR, message=f"{type(error).__name__}: {error}"))
            return {job.id: failed for job in batch.jobs}
        return {job.id: _report(out, job, batch) for job, out in zip(batch.jobs, future.result())}

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        # A batch stops only when every one of its jobs is cancelled: a waiting
        # run is dropped, a running one is stopped by stopping the worker.
        if not {job.id for job in batch.jobs} <= set(job_ids):
            return
        with self._guard:
            future = self._runs.pop(batch.id, None)
        if future is None:
            return
        if self._dask is not None:
            self._dask.stop(future)
        elif not future.cancel() and future.running():
            self._aer.stop(self)

    def close(self) -> None:
        self._feeder.shutdown(wait=False, cancel_futures=True)
        self._aer.stop(self)  # only a run of this provider's: the worker serves the process
        if self._dask is not None:
            with self._guard:
                runs = list(self._runs.values())
            for future in runs:
                self._dask.stop(future)
            self._dask.release()


class AerProcess:
    """The worker process (:mod:`.aer_worker`) of one server process, started on
    first use and dying with it. A server has one ``local_simulator``; a process
    with several engines (the tests' in-process servers, one after the other)
    shares the worker, and so each start's Aer import, one request at a time.
    """

    _shared: AerProcess | None = None
    _shared_guard = threading.Lock()

    def __init__(self) -> None:
        self._pid = os.getpid()
        # The worker dies with the thread that started it (PR_SET_PDEATHSIG follows the
        # thread): it is started from this one, which lives as long as the process.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-aer-spawn")
        self._requests = threading.Lock()  # one request at a time, whoever sends it
        self._state = threading.Lock()  # the worker and whose run it is: stop() kills only that run
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner: object | None = None

    @classmethod
    def of_this_process(cls) -> AerProcess:
        with cls._shared_guard:
            if cls._shared is None or cls._shared._pid != os.getpid():  # (a forked child starts its own)
                cls._shared = cls()
            return cls._shared

    def start(self) -> None:
        """Start the worker now (a warm-up), not with the first batch."""
        with self._requests:
            self._running()

    def _running(self) -> subprocess.Popen[bytes]:
        """The running worker, started (and waited for) if there is none; under ``_requests``."""
        with self._state:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                return proc
            args = [sys.executable, "-m", "hal_jupyter.providers.aer_worker", str(os.getpid())]
            proc = self._proc = self._spawner.submit(subprocess.Popen, args, stdin=subprocess.PIPE, stdout=subprocess.PIPE).result()
        assert proc.stdout is not None
        if aer_worker.read_frame(proc.stdout) is None:
            raise RuntimeError(f"the simulator process did not start (exit code {proc.wait()})")
        return proc

    def run(self, owner: object, request: tuple[Any, ...]) -> list[dict[str, Any]]:
        """One request, one answer; ``owner`` may stop it meanwhile (:meth:`stop`)."""
        with self._requests:
            worker = self._running()
            with self._state:
                self._owner = owner
            assert worker.stdin is not None and worker.stdout is not None
            try:
                aer_worker.write_frame(worker.stdin, request)
                answer = aer_worker.read_frame(worker.stdout)
            except (BrokenPipeError, OSError):
                answer = None
            finally:
                with self._state:
                    self._owner = None
        if answer is None:
            raise RuntimeError(f"the simulator process stopped (exit code {worker.wait()}); it restarts for the next batch")
        if answer[0] == "error":
            raise RuntimeError(answer[1])
        return answer[1]

    def stop(self, owner: object) -> None:
        """Kill the worker if it is running ``owner``'s request (a cancel, a closing provider)."""
        with self._state:
            proc = self._proc
            if owner is not None and self._owner is owner and proc is not None and proc.poll() is None:
                proc.kill()


def _progress(batch: BatchSpec, on_dask: bool = False) -> str:
    """What a running batch does, for its jobs' status messages (a sweep counts its points)."""
    points = sum(sweeps.num_points(job.payload) for job in batch.jobs)
    where = "in chunks on the Dask cluster" if on_dask else "in one Aer run" if points == len(batch.jobs) else "in one Aer call"
    if points == len(batch.jobs):
        return f"simulating {len(batch.jobs)} circuit(s) {where}"
    return f"simulating {len(batch.jobs)} job(s), {points} parameter points, {where}"


def _report(out: dict[str, Any], job: JobSpec, batch: BatchSpec) -> Report:
    """One job's outcome in the worker's answer: its counts or estimates, or its own error."""
    if "error" in out:
        return Failed(ErrorInfo(type=ErrorType.SIMULATOR_ERROR, message=out["error"]))
    sweep = sweeps.of(job.payload)
    if sweep.estimating:
        result = estimation.estimate_result(sweep, out["evs"], out["stds"], batch.shots, batch.backend, out["metadata"])
    else:
        counts = out["counts"] if sweep.swept else [out["counts"]]
        result = estimation.sampling_result(sweep, counts, batch.shots, batch.backend, out["metadata"], aer_worker.unpacked(out))
    return Finished(result)
