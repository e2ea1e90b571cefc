"""``ibm_quantum``: IBM Quantum through qiskit-ibm-runtime.

Settings (environment): ``QISKIT_IBM_CHANNEL`` (``ibm_quantum_platform``, the
default, or ``ibm_cloud``), ``QISKIT_IBM_TOKEN``, ``QISKIT_IBM_INSTANCE`` and,
optionally, ``QISKIT_IBM_URL`` (the SDK's ``url``: the IBM Cloud base URL,
``https://cloud.ibm.com`` unless set).
``QISKIT_IBM_CHANNEL=local`` selects Qiskit Runtime's local mode: the same
Sampler code on the fake backends (``fake_brisbane``, ...), simulated with their
noise on this machine, free, and on ``aer_simulator``, the noiseless simulator
local mode also offers by name.

A batch is ONE Sampler job with one PUB per HAL job (ONE Estimator job for
estimation jobs: their observables carried through the ISA layout; a sweep's
points are the PUB's parameter values), its circuits made ISA for
the backend by a pass manager cached per backend, tagged with the HAL batch
id (``job_tags``), so that after a crash during submission the job is found
by its tag instead of being submitted again; after a restart jobs are
re-attached by their runtime job id (``service.job``). Local-mode jobs live in
the server process: after a restart they run again (free, at least once).

A job whose circuit cannot be made ISA for the backend (it does not
transpile, or the SDK's own ISA check refuses it with ``skip_transpilation``)
is left out of the runtime job and is not sent (it fails alone, its reason in
the store); the others are its PUBs. That
choice depends on the circuits only, so after a crash the PUB of each job is
found again. When the runtime job itself fails, every job it carried fails
with its message: the service reports errors per job, not per PUB, and
sending the PUBs again one by one would spend (and bill) quantum time again.

The runtime job runs in a ``Batch`` (the default), alone, or in the named
``Session`` its jobs ask for (:mod:`.ibm_modes`); what it cost is the quantum
time IBM reports for it, at the price per second (:mod:`.ibm_usage`).
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

from ..engine.errors import ErrorType, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo
from ..engine import estimation, sweeps
from . import ibm_modes, ibm_pubs, ibm_usage, quantum
from ..engine.contract import Availability, BatchSpec, Cancelled, Failed, Finished, JobSpec, Report, Running, Submission, Waiting

LOCAL_DEFAULT_BACKEND = "fake_brisbane"
#: local mode's noiseless simulator (``QiskitRuntimeLocalService.backend("aer_simulator")``)
LOCAL_IDEAL_BACKEND = "aer_simulator"
#: ``skip_transpilation``: the circuit is already ISA for the backend (as written)
_OPTIONS = {"optimization_level": int, "seed_simulator": int, "skip_transpilation": bool}
from .prices import IBM_QUANTUM_FIXED_S as FIXED_S, IBM_QUANTUM_PER_SHOT_S as PER_SHOT_S
from .prices import IBM_QUANTUM_PRICE_PER_S as PRICE_PER_S, IBM_QUANTUM_SOURCE as PRICE_SOURCE
# remote job states (strings) and local ones (qiskit.providers.JobStatus names) that are not
# waiting: the runtime job is running, or it ended
_RUNNING, _DONE, _ERROR, _CANCELLED = "RUNNING", "DONE", "ERROR", "CANCELLED"


def _channel() -> str:
    return os.environ.get("QISKIT_IBM_CHANNEL") or "ibm_quantum_platform"


def _account() -> tuple[str, str, str, str]:
    """The account the settings name now: a change of any of them makes a new service."""
    channel = _channel()
    if channel == "local":
        return (channel, "", "", "")
    return (channel, os.environ.get("QISKIT_IBM_TOKEN", ""), os.environ.get("QISKIT_IBM_INSTANCE", ""), os.environ.get("QISKIT_IBM_URL", ""))


_PRICE = ibm_usage.Price(PRICE_PER_S, FIXED_S, PER_SHOT_S, PRICE_SOURCE)


class IbmQuantumProvider(quantum.QuantumProvider):
    name = "ibm_quantum"
    description = "IBM Quantum (qiskit-ibm-runtime): one Sampler or Estimator job per batch; QISKIT_IBM_CHANNEL=local for the fake backends"
    max_concurrency = 4
    max_batch_size = 300
    per_shot_results = True  # a Sampler's BitArrays hold every shot
    poll_interval = (0.5, 30.0)
    inline_validation = False
    execution_modes = ibm_modes.MODES

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._service: Any = None
        self._service_account: tuple[str, ...] | None = None
        self._guard = threading.Lock()
        self._backend_objects: dict[str, Any] = {}
        self._listing: quantum.Listing[list[BackendInfo]] = quantum.Listing()
        self._pass_managers: dict[tuple[str, int], Any] = {}
        self._reserved: dict[str, dict[str, type]] = {}
        self._jobs: dict[str, Any] = {}
        #: HAL batch id -> the session opened for it on an attempt that may be retried
        self._opened_for: dict[str, str] = {}

    # Local-mode jobs are free and die with the server; cloud jobs are paid and outlive it.
    def resubmit_safe_on(self, backend: str) -> bool:
        return _channel() == "local"

    def survives_restart_on(self, backend: str) -> bool:
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
        account = _account()
        with self._guard:
            if self._service is None or self._service_account != account:
                from qiskit_ibm_runtime import QiskitRuntimeService

                channel, token, instance, url = account
                if channel == "local":
                    self._service = QiskitRuntimeService(channel="local")
                else:
                    self._service = QiskitRuntimeService(channel=channel, token=token, instance=instance or None, **({"url": url} if url else {}))
                self._service_account = account
                self._backend_objects.clear()
                self._reserved.clear()
                self._pass_managers.clear()
                self._listing.clear()
            return self._service

    def _known_backend(self, name: str) -> Any:
        """The backend, read alone (listing every backend costs seconds: local mode loads
        all of its fake devices); a name the service does not know is a 400."""
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        if name == LOCAL_IDEAL_BACKEND and _channel() != "local":
            raise InvalidRequest(f"ibm_quantum has no backend {name!r} on IBM Quantum Platform; it is local mode's simulator")
        try:
            return self._backend(name)
        except QiskitBackendNotFoundError:
            raise InvalidRequest(f"ibm_quantum has no backend {name!r}; GET /hal/api/providers/ibm_quantum/backends lists them") from None

    def _backend(self, name: str) -> Any:
        backend = self._backend_objects.get(name)
        if backend is None:
            backend = self._backend_objects[name] = self._api().backend(name)
        return backend

    def backends(self) -> list[BackendInfo]:
        return self._listing.get(self._list_backends)

    def _list_backends(self) -> list[BackendInfo]:
        local = _channel() == "local"
        infos = []
        with warnings.catch_warnings():  # some fake backends warn that their error values are not typical
            warnings.simplefilter("ignore", UserWarning)
            listed = self._api().backends()
            ideal = self._backend(LOCAL_IDEAL_BACKEND) if local else None
        for backend in listed:
            self._backend_objects.setdefault(backend.name, backend)
            status = backend.status()
            infos.append(
                BackendInfo(
                    name=backend.name,
                    num_qubits=backend.num_qubits,  # builds the backend's target (the SDK reads its properties once)
                    status="online" if status.operational else "offline",
                    queue_depth=status.pending_jobs,
                    simulator=local,
                    **_target_fields(backend.target),
                )
            )
        if ideal is not None:
            infos.append(BackendInfo(name=ideal.name, num_qubits=self._qubits(ideal), status="online", queue_depth=0, simulator=True))
        return infos

    def _qubits(self, backend: Any) -> int:
        """The backend's qubits; this machine's limit for the local noiseless simulator."""
        if backend.name == LOCAL_IDEAL_BACKEND:
            return min(backend.num_qubits, self.settings.max_local_qubits)
        return int(backend.num_qubits)

    def _reserved_names(self, backend_name: str, skip_transpilation: bool) -> dict[str, type]:
        """What :func:`quantum.without_impostors` keeps apart for this backend. Nothing
        when the circuits are declared ISA: a user's ``gate ecr`` is then the device's ECR."""
        if skip_transpilation:
            return {}
        if backend_name not in self._reserved:
            self._reserved[backend_name] = quantum.reserved_operations(self._backend(backend_name).target)
        return self._reserved[backend_name]

    def default_backend(self) -> str:
        if _channel() == "local":
            return LOCAL_DEFAULT_BACKEND
        return self._api().least_busy(operational=True, simulator=False).name

    def validate(self, job: JobSpec) -> None:
        quantum.check_options(self.name, job.payload.get("options") or {}, _OPTIONS)
        level = (job.payload.get("options") or {}).get("optimization_level", 1)
        if not 0 <= level <= 3:
            raise InvalidRequest("option 'optimization_level' is 0, 1, 2 or 3")
        backend = self._known_backend(job.backend)
        reserved = self._reserved_names(job.backend, bool((job.payload.get("options") or {}).get("skip_transpilation")))
        quantum.check_circuit(job, job.backend, self._qubits(backend), set(backend.target.operation_names), reserved=reserved)

    def _job_cost(self, shots: int) -> float:
        return (FIXED_S + shots * PER_SHOT_S) * PRICE_PER_S

    def estimate_batch(self, jobs: list[JobSpec]) -> dict[str, CostEstimate]:
        return ibm_usage.estimated(jobs, None, _PRICE, free=_channel() == "local")

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        amount = self._job_cost((job.shots or 0) * sweeps.num_points(job.payload))  # a sweep runs every point
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

    def _prepare(self, batch: BatchSpec) -> tuple[dict[str, Any], dict[str, str]]:
        """The ISA circuit of each job that can be sent (in batch order), and why each other one cannot."""
        backend = self._backend(batch.backend)
        skip = bool(batch.options.get("skip_transpilation"))
        reserved = self._reserved_names(batch.backend, skip)

        def unrolled(job: JobSpec) -> Any:
            circuit = quantum.circuit_of(job)
            if sweeps.estimating(job.payload):
                circuit = estimation.without_measurements(circuit)
            return quantum.without_impostors(circuit, reserved, batch.backend)

        circuits, refused = self.prepare_each(batch.jobs, unrolled)
        if not skip and circuits:
            manager = self._pass_manager(batch.backend, batch.options.get("optimization_level", 1))
            try:
                circuits = dict(zip(circuits, manager.run(list(circuits.values()))))
            except Exception:  # noqa: BLE001 - one circuit does not transpile: find it, keep the others
                jobs = {job.id: job for job in batch.jobs}
                transpiled, failed = self.prepare_each([jobs[j] for j in circuits], lambda job: manager.run(circuits[job.id]))
                circuits = transpiled
                refused.update({j: f"it does not transpile for {batch.backend}: {reason}" for j, reason in failed.items()})
        if not _is_simulator(backend):
            from qiskit_ibm_runtime.utils import validate_isa_circuits

            for job_id, circuit in list(circuits.items()):
                try:  # the check the SDK makes of every PUB before it sends the job
                    validate_isa_circuits([circuit], backend.target)
                except ValueError as exc:
                    refused[job_id] = str(exc).split(" Circuits that do not match")[0]
                    del circuits[job_id]
        return circuits, refused

    def _submission(self, batch: BatchSpec, runtime_job_id: str, circuits: dict[str, Any], refused: dict[str, str]) -> Submission:
        """Each sent job's ``runtime-job#pub``, and why each other one was not sent."""
        pubs = {name: index for index, name in enumerate(circuits)}
        remote = {job.id: f"{runtime_job_id}#{pubs[job.id]}" for job in batch.jobs if job.id in pubs}
        return Submission(remote_ids=remote, not_sent=dict(refused))

    def submit(self, batch: BatchSpec) -> Submission:
        circuits, refused = self._prepare(batch)
        if not circuits:
            return Submission(not_sent=refused)
        jobs = {job.id: job for job in batch.jobs}
        mode = self._mode(batch)
        primitive = self._primitive(batch, mode.target)
        primitive.options.environment.job_tags = [f"hal-batch:{batch.id}"]
        if "seed_simulator" in batch.options:
            primitive.options.simulator.seed_simulator = batch.options["seed_simulator"]
        pubs = [ibm_pubs.pub(circuit, sweeps.of(jobs[job_id].payload), batch.shots or 1) for job_id, circuit in circuits.items()]
        try:
            runtime_job = primitive.run(pubs) if _estimating(batch) else primitive.run(pubs, shots=batch.shots)
        finally:
            mode.sent()  # a batch of our own is closed either way
        self._opened_for.pop(batch.id, None)
        job_id = runtime_job.job_id()
        self._jobs[job_id] = runtime_job
        submission = self._submission(batch, job_id, circuits, refused)
        submission.cost = ibm_usage.estimated([jobs[j] for j in circuits], batch.shots, _PRICE, free=_channel() == "local")
        submission.session_id = mode.session_id
        return submission

    def _mode(self, batch: BatchSpec) -> ibm_modes.Mode:
        """The Batch, Session or backend the batch's runtime job runs in (module ibm_modes)."""
        local = _channel() == "local"
        known = (batch.execution or {}).get("session_id") or self._opened_for.get(batch.id)
        mode = ibm_modes.open_mode(None if local else self._api(), self._backend(batch.backend), batch.execution, known, local)
        if mode.session_id and mode.session_id != known:
            self._opened_for[batch.id] = mode.session_id  # a retry of this batch joins it: one session per name
        return mode

    def close_session(self, backend: str, session_id: str) -> None:
        if _channel() != "local" and session_id:
            ibm_modes.close(self._api(), session_id)

    def _primitive(self, batch: BatchSpec, mode: Any) -> Any:
        """ONE primitive for the batch: an Estimator for estimation jobs, else a Sampler
        (the engine never batches the two kinds together)."""
        from qiskit_ibm_runtime import EstimatorV2, SamplerV2

        primitive = EstimatorV2 if _estimating(batch) else SamplerV2
        return primitive(mode=mode)

    def _runtime_job(self, job_id: str) -> Any:
        runtime_job = self._jobs.get(job_id)
        if runtime_job is None:
            if _channel() == "local":
                return None  # local jobs do not outlive the process that ran them
            runtime_job = self._jobs[job_id] = self._api().job(job_id)
        return runtime_job

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        """One runtime job carries the batch: its state is every job's state."""
        jobs = [job for job in batch.jobs if job.id in remote_ids]
        if not jobs:
            return {}
        job_id = remote_ids[jobs[0].id].partition("#")[0]
        runtime_job = self._runtime_job(job_id)
        if runtime_job is None:
            lost = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="the local-mode job was lost with the server process"))
            return {job.id: lost for job in jobs}
        raw = runtime_job.status()
        state = getattr(raw, "name", str(raw)).upper()
        if state == _DONE:
            self._jobs.pop(job_id, None)
            result = runtime_job.result()
            costs = self._actual_costs(batch, jobs, runtime_job)
            reports: dict[str, Report] = {}
            for job in jobs:
                index = int(remote_ids[job.id].partition("#")[2])
                reports[job.id] = Finished(ibm_pubs.outcome(job, result[index], batch, {"runtime_job": job_id, "pub": index}), cost=costs.get(job.id))
            return reports
        if state == _ERROR:
            self._jobs.pop(job_id, None)
            message = runtime_job.error_message() or "the runtime job failed"
            error = ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"IBM Quantum: {message}")
            costs = self._actual_costs(batch, jobs, runtime_job)
            return {job.id: Failed(error, cost=costs.get(job.id)) for job in jobs}
        if state == _CANCELLED:
            self._jobs.pop(job_id, None)
            return {job.id: Cancelled() for job in jobs}
        message = f"runtime job {job_id}: {getattr(raw, 'name', raw)}"
        report: Report = Running(message) if state == _RUNNING else Waiting(message)
        return {job.id: report for job in jobs}

    def _actual_costs(self, batch: BatchSpec, jobs: list[JobSpec], runtime_job: Any) -> dict[str, CostEstimate]:
        """Each job's share of the quantum time IBM reports for the runtime job (module ibm_usage)."""
        local = _channel() == "local"
        seconds = None if local else ibm_usage.usage_seconds(runtime_job)
        in_session = ibm_modes.mode_of(batch.execution) == "session"
        return ibm_usage.actual(jobs, batch.shots, seconds, _PRICE, local=local, in_session=in_session)

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """The runtime job carries the whole batch: it is cancelled when all its jobs are."""
        if not remote_ids or not set(remote_ids) <= set(job_ids):
            return
        runtime_job = self._runtime_job(next(iter(remote_ids.values())).partition("#")[0])
        if runtime_job is not None:
            runtime_job.cancel()

    def find_remote(self, batch: BatchSpec) -> Submission | None:
        """After a crash during submit: the runtime job tagged with this batch, if any."""
        try:
            found = self._api().jobs(job_tags=[f"hal-batch:{batch.id}"], limit=2)
        except Exception:  # noqa: BLE001 - cannot tell: the engine marks the jobs UNKNOWN
            return None
        if not found:
            return Submission()
        circuits, refused = self._prepare(batch)  # which jobs are PUBs depends on the circuits only
        submission = self._submission(batch, found[0].job_id(), circuits, refused)
        if ibm_modes.mode_of(batch.execution) == "session":
            submission.session_id = found[0].session_id  # the session it ran in: the name's from now on
        return submission


def _estimating(batch: BatchSpec) -> bool:
    return any(sweeps.estimating(job.payload) for job in batch.jobs)


def _target_fields(target: Any) -> dict[str, Any]:
    """``basis_gates`` and ``coupling_map`` of a listing from a backend's ``Target``: its
    operations Qiskit knows by name (standard gates, measure, reset, delay, control flow;
    not a device's own names such as ``measure_2``) and the directed pairs of its
    two-qubit operations (null where it has none)."""
    from qiskit.circuit.controlflow import CONTROL_FLOW_OP_NAMES
    from qiskit.circuit.library import get_standard_gate_name_mapping

    known = get_standard_gate_name_mapping().keys() | CONTROL_FLOW_OP_NAMES
    names = sorted(name for name in target.operation_names if name in known)
    coupling = target.build_coupling_map()  # None: its two-qubit operations act on every pair
    edges = sorted(coupling.get_edges()) if coupling is not None else []
    return {"basis_gates": names or None, "coupling_map": [list(edge) for edge in edges] or None}


def _is_simulator(backend: Any) -> bool:
    from qiskit_ibm_runtime.utils.utils import is_simulator

    return bool(is_simulator(backend))


__all__ = ["IbmQuantumProvider"]
