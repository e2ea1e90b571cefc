"""``local_simulator``: Qiskit Aer in the server process, free and always there.

A batch is ONE ``AerSimulator.run`` over all its circuits. Circuits whose gates
Aer runs natively go in as parsed; the rest go through one pass manager per
backend, built once, and transpiled circuits are cached by source text.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..engine.errors import InvalidCircuit, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo, JobStatus
from ..engine.qasm import parse_circuit
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
    description = "Qiskit Aer simulator running inside the Jupyter server (free, embedded default)"
    max_concurrency = 2
    max_batch_size = 5000
    resubmit_safe = True
    remote_survives_restart = False
    poll_interval = (0.5, 5.0)

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._runs: dict[str, Future[Any]] = {}
        self._started: set[str] = set()
        self._simulators: dict[str, Any] = {}
        self._native: dict[str, frozenset[str]] = {}
        self._pass_managers: dict[str, Any] = {}
        self._transpiled: OrderedDict[str, Any] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-aer")
        self._state_lock = threading.Lock()

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
        options = job.payload.get("options") or {}
        for key, value in options.items():
            expected = _OPTIONS.get(key)
            if expected is None:
                raise InvalidRequest(
                    f"unknown option {key!r} for local_simulator; allowed: {', '.join(_OPTIONS)}"
                )
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

    # -- running ------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        remote_id = f"aer-{batch.id}"
        with self._state_lock:
            self._runs[batch.id] = self._pool.submit(self._run, batch)
        return Submission(remote_ids={job.id: remote_id for job in batch.jobs})

    def _run(self, batch: BatchSpec) -> list[dict[str, Any]]:
        with self._state_lock:
            self._started.add(batch.id)
        self._notify(batch.id)
        try:
            simulator = self._simulator(batch.backend)
            circuits = [self._runnable(job, simulator) for job in batch.jobs]
            seed = batch.options.get("seed_simulator")
            result = simulator.run(circuits, shots=batch.shots, seed_simulator=seed).result()
            if not result.success:
                raise RuntimeError(result.status)
            return [
                {
                    "counts": result.get_counts(i),
                    "metadata": {
                        "method": getattr(result.results[i], "metadata", {}).get("method"),
                        "time_taken": result.results[i].time_taken,
                        "batch_size": len(circuits),
                    },
                }
                for i in range(len(circuits))
            ]
        finally:
            self._notify(batch.id)

    def _simulator(self, backend: str) -> Any:
        simulator = self._simulators.get(backend)
        if simulator is None:
            from qiskit_aer import AerSimulator

            simulator = self._simulators[backend] = AerSimulator(method=_METHODS[backend])
            self._native[backend] = frozenset(simulator.target.operation_names)
        return simulator

    def _runnable(self, job: JobSpec, simulator: Any) -> Any:
        circuit = job.parsed if job.parsed is not None else parse_circuit(job.payload["circuit"])
        native = self._native[job.backend]
        if all(i.operation.name in native for i in circuit.data):
            return circuit
        key = hashlib.sha256(job.payload["circuit"].encode()).hexdigest()
        cached = self._transpiled.get(key)
        if cached is None:
            cached = self._pass_manager(job.backend, simulator).run(circuit)
            self._transpiled[key] = cached
            if len(self._transpiled) > 2048:
                self._transpiled.popitem(last=False)
        return cached

    def _pass_manager(self, backend: str, simulator: Any) -> Any:
        manager = self._pass_managers.get(backend)
        if manager is None:
            from qiskit.transpiler import generate_preset_pass_manager

            manager = self._pass_managers[backend] = generate_preset_pass_manager(
                optimization_level=1, backend=simulator
            )
        return manager

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        with self._state_lock:
            future = self._runs.get(batch.id)
            started = batch.id in self._started
        if future is None:
            error = ErrorInfo(type="ProviderError", message="the simulation was lost (server restarted)")
            return {job.id: JobUpdate(JobStatus.FAILED, error=error) for job in batch.jobs}
        if not future.done():
            status = JobStatus.RUNNING if started else JobStatus.SUBMITTED
            message = f"simulating {len(batch.jobs)} circuit(s) in one Aer run" if started else "waiting for the simulator"
            return {job.id: JobUpdate(status, message=message) for job in batch.jobs}
        self._forget(batch.id)
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
            with self._state_lock:
                future = self._runs.get(batch.id)
            if future is not None and future.cancel():
                self._forget(batch.id)

    def _forget(self, batch_id: str) -> None:
        with self._state_lock:
            self._runs.pop(batch_id, None)
            self._started.discard(batch_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
