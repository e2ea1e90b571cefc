"""``ibm_quantum``: IBM Quantum through qiskit-ibm-runtime.

Settings (environment): ``QISKIT_IBM_CHANNEL`` (``ibm_quantum_platform``, the
default, or ``ibm_cloud``), ``QISKIT_IBM_TOKEN`` and ``QISKIT_IBM_INSTANCE``.
``QISKIT_IBM_CHANNEL=local`` selects Qiskit Runtime's local mode: the same
Sampler code on the fake backends (``fake_brisbane``, ...), simulated with their
noise on this machine, free.

A batch is ONE Sampler job with one PUB per HAL job, its circuits made ISA for
the backend by a pass manager cached per backend, tagged with the HAL batch
id (``job_tags``), so that after a crash during submission the job is found
by its tag instead of being submitted again; after a restart jobs are
re-attached by their runtime job id (``service.job``). Local-mode jobs live in
the server process: after a restart they run again (free, at least once).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from ..engine.errors import InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo, JobStatus
from . import quantum
from .base import Availability, BatchSpec, JobSpec, JobUpdate, Provider, Submission

LOCAL_DEFAULT_BACKEND = "fake_brisbane"
BACKENDS_TTL_S = 60.0
#: ``skip_transpilation``: the circuit is already ISA for the backend (as written)
_OPTIONS = {"optimization_level": int, "seed_simulator": int, "skip_transpilation": bool}
# IBM Quantum Platform pricing, Pay-As-You-Go plan, checked 2026-11: $96 per minute
# of quantum time (https://www.ibm.com/quantum/pricing). Quantum time per runtime job
# is estimated as ~2 s of fixed overhead plus ~300 us per shot of each circuit.
PRICE_PER_S = 96.0 / 60
FIXED_S = 2.0
PER_SHOT_S = 0.0003
PRICE_SOURCE = "IBM Quantum Pay-As-You-Go $96/min, ~2 s + 300 us/shot per job (ibm.com/quantum/pricing, 2026-11)"
# remote job states (strings) and local ones (qiskit.providers.JobStatus names)
_STATES = {
    "INITIALIZING": JobStatus.SUBMITTED,
    "QUEUED": JobStatus.SUBMITTED,
    "VALIDATING": JobStatus.SUBMITTED,
    "RUNNING": JobStatus.RUNNING,
    "DONE": JobStatus.COMPLETED,
    "ERROR": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
}


def _channel() -> str:
    return os.environ.get("QISKIT_IBM_CHANNEL") or "ibm_quantum_platform"


class IbmQuantumProvider(Provider):
    name = "ibm_quantum"
    kind = "quantum"
    description = "IBM Quantum (qiskit-ibm-runtime): one Sampler job per batch; QISKIT_IBM_CHANNEL=local for the fake backends"
    max_concurrency = 4
    max_batch_size = 300
    poll_interval = (0.5, 30.0)
    inline_validation = False

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._service: Any = None
        self._service_channel: str | None = None
        self._guard = threading.Lock()
        self._backend_objects: dict[str, Any] = {}
        self._listing: tuple[float, list[BackendInfo]] | None = None
        self._pass_managers: dict[tuple[str, int], Any] = {}
        self._jobs: dict[str, Any] = {}

    # Local-mode jobs are free and die with the server; cloud jobs are paid and outlive it.
    @property
    def resubmit_safe(self) -> bool:  # type: ignore[override]
        return _channel() == "local"

    @property
    def remote_survives_restart(self) -> bool:  # type: ignore[override]
        return _channel() != "local"

    def availability(self) -> Availability:
        try:
            import qiskit_ibm_runtime  # noqa: F401
        except ImportError:
            return Availability(False, "qiskit-ibm-runtime is not installed: pip install 'hal-jupyter[ibm]'")
        if _channel() == "local":
            return Availability(True)
        if not os.environ.get("QISKIT_IBM_TOKEN"):
            return Availability(False, "set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE), or QISKIT_IBM_CHANNEL=local for the local fake backends")
        return Availability(True)

    def _api(self) -> Any:
        channel = _channel()
        with self._guard:
            if self._service is None or self._service_channel != channel:
                from qiskit_ibm_runtime import QiskitRuntimeService

                if channel == "local":
                    self._service = QiskitRuntimeService(channel="local")
                else:
                    self._service = QiskitRuntimeService(
                        channel=channel, token=os.environ["QISKIT_IBM_TOKEN"], instance=os.environ.get("QISKIT_IBM_INSTANCE") or None
                    )
                self._service_channel = channel
                self._backend_objects.clear()
                self._listing = None
            return self._service

    def _backend(self, name: str) -> Any:
        backend = self._backend_objects.get(name)
        if backend is None:
            backend = self._backend_objects[name] = self._api().backend(name)
        return backend

    def backends(self) -> list[BackendInfo]:
        if self._listing is not None and time.monotonic() - self._listing[0] < BACKENDS_TTL_S:
            return self._listing[1]
        local = _channel() == "local"
        infos = []
        with warnings.catch_warnings():  # some fake backends warn that their error values are not typical
            warnings.simplefilter("ignore", UserWarning)
            listed = self._api().backends()
        for backend in listed:
            self._backend_objects.setdefault(backend.name, backend)
            status = backend.status()
            infos.append(
                BackendInfo(
                    name=backend.name,
                    num_qubits=backend.num_qubits,
                    status="online" if status.operational else "offline",
                    queue_depth=status.pending_jobs,
                    simulator=local,
                )
            )
        self._listing = (time.monotonic(), infos)
        return infos

    def default_backend(self) -> str:
        if _channel() == "local":
            return LOCAL_DEFAULT_BACKEND
        return self._api().least_busy(operational=True, simulator=False).name

    def validate(self, job: JobSpec) -> None:
        names = {b.name for b in self.backends()}
        if job.backend not in names:
            raise InvalidRequest(f"ibm_quantum has no backend {job.backend!r}; GET /hal/api/providers/ibm_quantum/backends lists them")
        quantum.check_options(self.name, job.payload.get("options") or {}, _OPTIONS)
        level = (job.payload.get("options") or {}).get("optimization_level", 1)
        if not 0 <= level <= 3:
            raise InvalidRequest("option 'optimization_level' is 0, 1, 2 or 3")
        backend = self._backend(job.backend)
        quantum.check_circuit(job, job.backend, backend.num_qubits, set(backend.target.operation_names))

    def _job_cost(self, shots: int) -> float:
        return (FIXED_S + shots * PER_SHOT_S) * PRICE_PER_S

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        amount = self._job_cost(job.shots or 0)
        if _channel() == "local":
            return CostEstimate(currency="USD", amount=0.0, basis=f"free: local mode (on the device about USD {amount:.2f}; {PRICE_SOURCE})")
        return CostEstimate(currency="USD", amount=round(amount, 4), basis=PRICE_SOURCE)

    # -- running ------------------------------------------------------------
    def _pass_manager(self, backend_name: str, level: int) -> Any:
        key = (backend_name, level)
        if key not in self._pass_managers:
            from qiskit.transpiler import generate_preset_pass_manager

            self._pass_managers[key] = generate_preset_pass_manager(optimization_level=level, backend=self._backend(backend_name))
        return self._pass_managers[key]

    def submit(self, batch: BatchSpec) -> Submission:
        from qiskit_ibm_runtime import SamplerV2

        backend = self._backend(batch.backend)
        circuits = [quantum.circuit_of(job) for job in batch.jobs]
        if batch.options.get("skip_transpilation"):
            isa = circuits
        else:
            isa = self._pass_manager(batch.backend, batch.options.get("optimization_level", 1)).run(circuits)
        sampler = SamplerV2(mode=backend)
        sampler.options.environment.job_tags = [f"hal-batch:{batch.id}"]
        if "seed_simulator" in batch.options:
            sampler.options.simulator.seed_simulator = batch.options["seed_simulator"]
        runtime_job = sampler.run([(c,) for c in isa], shots=batch.shots)
        job_id = runtime_job.job_id()
        self._jobs[job_id] = runtime_job
        fixed = FIXED_S * PRICE_PER_S
        cost = quantum.batch_costs([j.id for j in batch.jobs], self._job_cost(batch.shots or 0), fixed, "USD", PRICE_SOURCE, free=_channel() == "local")
        return Submission(remote_ids={job.id: f"{job_id}#{index}" for index, job in enumerate(batch.jobs)}, cost=cost)

    def _runtime_job(self, job_id: str) -> Any:
        runtime_job = self._jobs.get(job_id)
        if runtime_job is None:
            if _channel() == "local":
                return None  # local jobs do not outlive the process that ran them
            runtime_job = self._jobs[job_id] = self._api().job(job_id)
        return runtime_job

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        job_id = next(iter(remote_ids.values())).partition("#")[0]
        runtime_job = self._runtime_job(job_id)
        if runtime_job is None:
            lost = ErrorInfo(type="ProviderError", message="the local-mode job was lost with the server process")
            return {job.id: JobUpdate(JobStatus.FAILED, error=lost) for job in batch.jobs}
        raw = runtime_job.status()
        state = _STATES.get(getattr(raw, "name", str(raw)).upper(), JobStatus.SUBMITTED)
        if state == JobStatus.COMPLETED:
            self._jobs.pop(job_id, None)
            result = runtime_job.result()
            updates = {}
            for job in batch.jobs:
                index = int(remote_ids[job.id].partition("#")[2])
                counts = result[index].join_data().get_counts()
                updates[job.id] = JobUpdate(
                    JobStatus.COMPLETED,
                    result={"counts": counts, "shots": batch.shots, "backend": batch.backend, "metadata": {"runtime_job": job_id, "pub": index}},
                )
            return updates
        if state == JobStatus.FAILED:
            self._jobs.pop(job_id, None)
            message = runtime_job.error_message() or "the runtime job failed"
            return {job.id: JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"IBM Quantum: {message}")) for job in batch.jobs}
        if state == JobStatus.CANCELLED:
            self._jobs.pop(job_id, None)
            return {job.id: JobUpdate(JobStatus.CANCELLED) for job in batch.jobs}
        message = f"runtime job {job_id}: {getattr(raw, 'name', raw)}"
        return {job.id: JobUpdate(state, message=message) for job in batch.jobs}

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """The runtime job carries the whole batch: it is cancelled when all its jobs are."""
        if not remote_ids or not {job.id for job in batch.jobs} <= set(job_ids):
            return
        runtime_job = self._runtime_job(next(iter(remote_ids.values())).partition("#")[0])
        if runtime_job is not None:
            runtime_job.cancel()

    def find_remote(self, batch: BatchSpec) -> dict[str, str] | None:
        """After a crash during submit: the runtime job tagged with this batch, if any."""
        try:
            found = self._api().jobs(job_tags=[f"hal-batch:{batch.id}"], limit=2)
        except Exception:  # noqa: BLE001 - cannot tell: the engine marks the jobs UNKNOWN
            return None
        if not found:
            return {}
        job_id = found[0].job_id()
        return {job.id: f"{job_id}#{index}" for index, job in enumerate(batch.jobs)}


__all__ = ["IbmQuantumProvider"]
