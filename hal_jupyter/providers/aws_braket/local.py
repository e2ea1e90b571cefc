"""Braket's local simulators (``braket_sv``, ``braket_dm``): free, no account.

A batch is ONE ``LocalSimulator`` run of a program set (each job one entry), on
one thread: above 10 qubits (5 on ``braket_dm``) Braket runs numba-parallel
code, and numba's workqueue layer aborts the process when two threads enter
it at once. A program set that fails runs again job by job, so each job gets
its own outcome. The runs live in this process: after a restart they run
again (free local work, at least once: the engine's recovery queues them again).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ...engine.contract import BatchSpec, Cancelled, Failed, JobSpec, Report, Running, Submission
from ...engine.errors import ErrorType
from ...engine.models import BackendInfo, ErrorInfo
from .. import quantum
from .convert import Parametric
from .results import Reading, completed, reading, readings

#: device -> qubits
DEVICES = {"braket_sv": 26, "braket_dm": 13}
SOURCE = "Braket LocalSimulator"


class LocalDevices:
    """Braket's ``LocalSimulator`` devices behind the ``aws_braket`` provider."""

    def __init__(self, notify: Any) -> None:
        self._notify = notify
        self._runs: dict[str, Future[dict[str, list[Reading] | str]]] = {}
        self._guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-braket-local")

    def backends(self) -> list[BackendInfo]:
        return [BackendInfo(name=name, num_qubits=qubits, status="online", queue_depth=0, simulator=True) for name, qubits in DEVICES.items()]

    @staticmethod
    def properties(device: str) -> Any:
        from braket.devices import LocalSimulator

        return LocalSimulator(device).properties

    def submit(self, batch: BatchSpec, native: set[str]) -> Submission:
        converted, not_sent = quantum.QuantumProvider.prepare_each(batch.jobs, lambda job: Parametric.of(job, native))
        if not converted:
            return Submission(not_sent=not_sent)
        entries = {job_id: job.whole() for job_id, job in converted.items()}
        future = self._pool.submit(_run, batch.backend, entries, batch.shots or 1)
        future.add_done_callback(lambda _: self._notify(batch.id))
        with self._guard:
            self._runs[batch.id] = future
        return Submission(remote_ids={job_id: f"local:{batch.id}#{i}" for i, job_id in enumerate(converted)}, not_sent=not_sent)

    def poll(self, batch: BatchSpec, jobs: list[JobSpec]) -> dict[str, Report]:
        with self._guard:
            future = self._runs.get(batch.id)
        if future is None:
            lost = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{SOURCE}: the simulation was lost (server restarted)"))
            return {job.id: lost for job in jobs}
        if not future.done():
            return {job.id: Running(f"LocalSimulator {batch.backend}") for job in jobs}
        reports = self._outcomes(batch, jobs, future)
        with self._guard:  # only once its outcome is read: a poll that fails is asked again
            self._runs.pop(batch.id, None)
        return reports

    def _outcomes(self, batch: BatchSpec, jobs: list[JobSpec], future: Future[dict[str, list[Reading] | str]]) -> dict[str, Report]:
        if future.cancelled():
            return {job.id: Cancelled() for job in jobs}
        if future.exception() is not None:
            failed = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{SOURCE}: {future.exception()}"))
            return {job.id: failed for job in jobs}
        outcomes = future.result()
        return {job.id: self._outcome(job, outcomes.get(job.id, "no result"), batch) for job in jobs}

    def _outcome(self, job: JobSpec, outcome: list[Reading] | str, batch: BatchSpec) -> Report:
        if isinstance(outcome, str):
            return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{SOURCE}: {outcome}"))
        return completed(job, outcome, batch.shots, batch.backend, {"device": batch.backend}, SOURCE)

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """The run carries the whole batch: it is dropped when every job it carries is cancelled."""
        if set(remote_ids) <= set(job_ids):
            with self._guard:
                future = self._runs.pop(batch.id, None)
            if future is not None:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run(device_name: str, entries: dict[str, Any], shots: int) -> dict[str, list[Reading] | str]:
    """job id -> its readings, or the reason that job failed."""
    from braket.devices import LocalSimulator
    from braket.program_sets import ProgramSet

    device = LocalSimulator(device_name)
    try:
        program_set = ProgramSet(list(entries.values()), shots_per_executable=shots)
        result = device.run(program_set, shots=program_set.total_shots).result()
        return {job_id: readings(entry) for job_id, entry in zip(entries, result)}
    except Exception:  # noqa: BLE001 - run them one by one: each job gets its own outcome
        if len(entries) == 1:
            raise
    outcomes: dict[str, list[Reading] | str] = {}
    for job_id, entry in entries.items():
        try:
            outcomes[job_id] = _run_alone(device, entry, shots)
        except Exception as exc:  # noqa: BLE001 - this job's own failure
            outcomes[job_id] = quantum.failure_reason(exc)
    return outcomes


def _run_alone(device: Any, entry: Any, shots: int) -> list[Reading]:
    """One job's entry run by itself: a circuit as a plain run, a binding as a program set of one."""
    from braket.program_sets import CircuitBinding, ProgramSet

    if isinstance(entry, CircuitBinding):
        program_set = ProgramSet([entry], shots_per_executable=shots)
        return readings(device.run(program_set, shots=program_set.total_shots).result().entries[0])
    return [reading(device.run(entry, shots=shots).result())]
