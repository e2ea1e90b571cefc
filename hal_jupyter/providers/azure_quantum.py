"""``azure_quantum``: Azure Quantum through azure-quantum's ``Workspace``.

Settings (environment): ``AZURE_QUANTUM_CONNECTION_STRING``, or
``AZURE_QUANTUM_SUBSCRIPTION_ID``, ``AZURE_QUANTUM_WORKSPACE_RG``,
``AZURE_QUANTUM_WORKSPACE_NAME`` and ``AZURE_QUANTUM_WORKSPACE_LOCATION`` with
``AZURE_QUANTUM_API_KEY`` (else the Azure identity chain). ``HAL_AZURE_QUANTUM_ENDPOINT``
points the workspace at another data plane, such as the offline emulator.

Targets take their own formats: IonQ ``ionq.circuit.v1`` JSON, Quantinuum
``honeywell.openqasm.v1`` (OpenQASM 2), made in :mod:`.azure_formats`. Targets that need QIR are listed but
refuse jobs (QIR generation is not built in). Azure runs one circuit per job,
so a batch is one job per circuit inside ONE session. Job (and session) ids are
made by the HAL from the batch and job ids before anything is sent, and a job
is created only if the workspace does not have it yet: submitting a batch again
after a crash never creates a second job. A job whose circuit does not convert
to its target's format, or whose input the service refuses (HTTP 400), fails
alone; the other jobs of the batch are created.

Azure has no sweeps and no estimator: a sweep runs as one Azure job per point
(the circuit with that point's values bound), an estimate as one per point and
measurement setting (the circuit rotated so that qubit-wise commuting Pauli
terms are read together), all in the batch's session (see
:func:`..engine.estimation.executions`). Such a job's remote id is
``"<base>*<n>"``: its n Azure job ids are derived from the base, so the stored
id stays short however many points it has, and poll, cancel and a restart find
every one of them. A plain sampling job keeps its single id.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from typing import Any

from ..engine import estimation, sweeps
from ..engine.errors import ErrorType, InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo
from . import prices, quantum
from .azure_formats import IONQ_GATES, QASM2_GATES, Readout, ionq_program, program_for, readout
from ..engine.contract import Availability, BatchSpec, Cancelled, Failed, Finished, JobSpec, Report, Running, Submission, Waiting, poll_each

#: most Azure jobs one HAL job may create (points, times measurement settings to estimate)
MAX_CIRCUITS = 1000
#: jobs whose finished circuits' counts are kept between polls (each is fetched once)
MAX_TRACKED = 1000
#: qubits per target family (Azure's provider status does not say)
QUBITS = {"ionq.simulator": 29, "ionq.qpu.aria": 25, "ionq.qpu.forte": 36, "quantinuum.sim.h2": 56, "quantinuum.qpu.h2": 56}
# Azure job states: running, succeeded, failed, cancelled; any other is waiting (Waiting, Queued)
_RUNNING = frozenset({"Executing", "Finishing", "CancellationRequested", "Cancelling"})
_SUCCEEDED = frozenset({"Succeeded", "Completed"})
_FAILED, _CANCELLED = "Failed", "Cancelled"
_FINISHED = _SUCCEEDED | {_FAILED, _CANCELLED}
_SETTINGS = ("AZURE_QUANTUM_SUBSCRIPTION_ID", "AZURE_QUANTUM_WORKSPACE_RG", "AZURE_QUANTUM_WORKSPACE_NAME", "AZURE_QUANTUM_WORKSPACE_LOCATION")


def _family(target: str) -> str:
    return target.split(".", 1)[0]


def _qubits(target: str) -> int | None:
    return next((n for prefix, n in QUBITS.items() if target.startswith(prefix)), None)


def hal_uuid(*parts: str) -> str:
    """The Azure id of a HAL batch's job or session: the same parts, the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "hal-jupyter:" + ":".join(parts)))


def circuit_count(sweep: sweeps.Sweep) -> int:
    """How many circuits, each an Azure job, a HAL job runs: one per point, times
    the measurement settings of its observables when it estimates."""
    return sweep.num_points * (len(estimation.measurement_plan(sweep)) if sweep.estimating else 1)


def remote_id_of(batch_id: str, job_id: str, sweep: sweeps.Sweep) -> str:
    """A job's remote id: its Azure job id, or for a sweep or an estimate the base
    its Azure job ids derive from and their number (see :func:`azure_ids`)."""
    base = hal_uuid(batch_id, job_id)
    if not sweep.swept and not sweep.estimating:
        return base
    return f"{base}*{circuit_count(sweep)}"


def azure_ids(remote_id: str) -> list[str]:
    """The Azure job ids a remote id stands for, in the order of :func:`..engine.estimation.executions`."""
    base, many, count = remote_id.partition("*")
    if not many:
        return [remote_id]
    return [hal_uuid(base, str(k)) for k in range(int(count))]


class AzureQuantumProvider(quantum.QuantumProvider):
    name = "azure_quantum"
    description = "Azure Quantum (azure-quantum): IonQ and Quantinuum targets, one session per batch"
    max_concurrency = 4
    max_batch_size = 50
    per_shot_results = True  # Quantinuum targets only: validate refuses memory on IonQ's (probabilities)
    resubmit_safe = True
    remote_survives_restart = True
    poll_interval = (0.5, 30.0)
    inline_validation = False

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._workspace: Any = None
        self._guard = threading.Lock()
        self._listing: quantum.Listing[list[BackendInfo]] = quantum.Listing()
        self._finished: dict[str, dict[int, Readout]] = {}

    def availability(self) -> Availability:
        try:
            import azure.quantum  # noqa: F401
        except ImportError:
            return Availability(False, "azure-quantum is not installed: pip install 'hal-jupyter[azure]'")
        if os.environ.get("AZURE_QUANTUM_CONNECTION_STRING"):
            return Availability(True)
        missing = [n for n in _SETTINGS if not os.environ.get(n)]
        if missing:
            return Availability(False, f"set AZURE_QUANTUM_CONNECTION_STRING, or {', '.join(missing)} (with AZURE_QUANTUM_API_KEY or an Azure login)")
        return Availability(True)

    def _ws(self) -> Any:
        with self._guard:
            if self._workspace is None:
                from azure.quantum import Workspace

                if os.environ.get("AZURE_QUANTUM_CONNECTION_STRING"):
                    self._workspace = Workspace.from_connection_string(os.environ["AZURE_QUANTUM_CONNECTION_STRING"])
                else:
                    extra: dict[str, Any] = {}
                    if os.environ.get("AZURE_QUANTUM_API_KEY"):
                        from azure.core.credentials import AzureKeyCredential

                        extra["credential"] = AzureKeyCredential(os.environ["AZURE_QUANTUM_API_KEY"])
                    if os.environ.get("HAL_AZURE_QUANTUM_ENDPOINT"):
                        extra["_quantum_endpoint"] = os.environ["HAL_AZURE_QUANTUM_ENDPOINT"].rstrip("/") + "/"
                    self._workspace = Workspace(
                        subscription_id=os.environ["AZURE_QUANTUM_SUBSCRIPTION_ID"], resource_group=os.environ["AZURE_QUANTUM_WORKSPACE_RG"],
                        name=os.environ["AZURE_QUANTUM_WORKSPACE_NAME"], location=os.environ["AZURE_QUANTUM_WORKSPACE_LOCATION"], **extra,
                    )
            return self._workspace

    def backends(self) -> list[BackendInfo]:
        return self._listing.get(self._list_targets)

    def _list_targets(self) -> list[BackendInfo]:
        infos = []
        for target in self._ws().get_targets():
            availability = getattr(target.current_availability, "value", str(target.current_availability))
            infos.append(BackendInfo(
                name=target.name, num_qubits=_qubits(target.name), status=availability.lower(), queue_depth=None,
                simulator=".sim" in target.name or target.name.endswith("simulator"), queue_time_s=float(target.average_queue_time or 0),
            ))
        return infos

    def default_backend(self) -> str:
        return "ionq.simulator"

    def validate(self, job: JobSpec) -> None:
        names = {b.name for b in self.backends()}
        if job.backend not in names:
            raise InvalidRequest(f"azure_quantum has no target {job.backend!r} in this workspace; GET /hal/api/providers/azure_quantum/backends lists them")
        if job.payload.get("options"):
            raise InvalidRequest("azure_quantum takes no options")
        family = _family(job.backend)
        if family == "ionq" and quantum.wants_memory(job):
            raise InvalidRequest(
                f"azure_quantum target {job.backend} returns probabilities, not per-shot results, so it cannot give 'memory': "
                f"leave it out, or use a Quantinuum target"
            )
        if family == "ionq":
            quantum.check_circuit(job, job.backend, _qubits(job.backend), set(IONQ_GATES), reset=False, mid_circuit_measurement=False)
        elif family == "quantinuum":
            quantum.check_circuit(job, job.backend, _qubits(job.backend), QASM2_GATES)
        else:
            raise InvalidRequest(f"{job.backend} takes QIR, which hal_jupyter does not generate; use an IonQ or Quantinuum target")
        self._check_size(sweeps.of(job.payload))

    def _check_size(self, sweep: sweeps.Sweep) -> None:
        """Each circuit is an Azure job, created, polled and billed on its own: a
        sweep or an estimate may hold :data:`MAX_CIRCUITS` of them, and a precision
        may ask for no more shots per circuit than the server allows."""
        count = circuit_count(sweep)
        if count > MAX_CIRCUITS:
            settings = f" x {count // sweep.num_points} measurement settings" if sweep.estimating else ""
            raise InvalidRequest(
                f"azure_quantum runs one Azure job per circuit, at most {MAX_CIRCUITS} per job; this one needs {count} "
                f"({sweep.num_points} points{settings}): use fewer points or observables (qubit-wise commuting terms share a "
                f"setting), or split it into several jobs"
            )
        shots = _shots(sweep, 0)
        if shots > self.settings.max_shots:
            least = math.ceil(self.settings.max_shots ** -0.5 * 1e4) / 1e4  # rounded up: it is within the limit
            raise InvalidRequest(
                f"precision {sweep.precision} needs {shots} shots per circuit on azure_quantum; at most {self.settings.max_shots} "
                f"are allowed here: ask for a precision of {least:g} or more"
            )

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        if ".sim" in job.backend or job.backend.endswith("simulator"):
            return CostEstimate(currency="USD", amount=0.0, basis=f"simulator: free ({prices.AZURE_QUANTUM_SOURCE})")
        sweep = sweeps.of(job.payload)
        count = circuit_count(sweep)
        per = f"; x {count} circuits, one Azure job each" if count > 1 else ""
        circuit = quantum.circuit_of(job)
        ops = [i for i in circuit.data if i.operation.name not in ("barrier", "measure")]
        one = sum(len(i.qubits) == 1 for i in ops)
        two = sum(len(i.qubits) >= 2 for i in ops)
        shots = _shots(sweep, job.shots or 0)
        if _family(job.backend) == "quantinuum":
            measured = circuit.num_qubits if sweep.estimating else sum(i.operation.name == "measure" for i in circuit.data)
            weighted = one + prices.QUANTINUUM_HQC_PER_2Q * two + prices.QUANTINUUM_HQC_PER_MEASURE * measured
            hqc = prices.QUANTINUUM_HQC_BASE + shots * weighted / prices.QUANTINUUM_HQC_PER_SHOTS
            return CostEstimate(currency="HQC", amount=round(count * hqc, 3), basis=f"Quantinuum HQC = 5 + shots x (N1q + 10 N2q + 5 Nmeas) / 5000{per}; {prices.AZURE_QUANTUM_SOURCE}")
        amount = prices.IONQ_MINIMUM + prices.IONQ_PER_1Q_GATE_SHOT * one * shots + prices.IONQ_PER_2Q_GATE_SHOT * two * shots
        return CostEstimate(currency="USD", amount=round(count * amount, 4), basis=f"IonQ AQT: ${prices.IONQ_MINIMUM} per job + gate-shots{per}; {prices.AZURE_QUANTUM_SOURCE}")

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        from azure.core.exceptions import ResourceExistsError

        workspace = self._ws()
        target = workspace.get_targets(batch.backend)
        session_id = hal_uuid("session", batch.id)
        try:
            target.open_session(id=session_id, name=f"hal batch {batch.id}")
        except ResourceExistsError:
            target.latest_session = workspace.get_session(session_id)
        submission = Submission()
        for job in batch.jobs:
            remote_id = remote_id_of(batch.id, job.id, sweeps.of(job.payload))
            reason = self._create(workspace, target, job, azure_ids(remote_id), batch)
            if reason is None:
                submission.remote_ids[job.id] = remote_id
            else:
                submission.not_sent[job.id] = reason
        return submission

    def _create(self, workspace: Any, target: Any, job: JobSpec, ids: list[str], batch: BatchSpec) -> str | None:
        """Create the job's circuits at Azure, as the Azure jobs ``ids``, skipping
        those created before a crash; None, or why this job (and only it) cannot be
        sent. Every circuit is converted before the first is created, so a job that
        does not convert leaves nothing behind at Azure."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        first = _created(workspace, ids)
        if first == len(ids):
            return None
        sweep = sweeps.of(job.payload)
        try:
            circuits = estimation.executions(quantum.circuit_of(job), sweep)
            programs = [program_for(circuit, batch.backend) for circuit in circuits[first:]]
        except Exception as exc:  # noqa: BLE001 - this job's own circuit
            return f"it does not convert for {batch.backend}: {quantum.failure_reason(exc)}"
        for k, program in enumerate(programs, start=first):
            name = f"hal-{job.id}" if len(ids) == 1 else f"hal-{job.id}-{k}"
            try:
                target.submit(program, name=name, shots=_shots(sweep, batch.shots), job_id=ids[k])
            except ResourceExistsError:
                pass  # an earlier attempt created it and its answer was lost (the SDK's retry of our PUT): it is ours
            except HttpResponseError as exc:
                if exc.status_code != 400:
                    raise  # not about this job's input: the scheduler retries or fails the batch
                _cancel(workspace, ids[:k])  # its other circuits are of no use alone
                return f"Azure Quantum refused {_which(sweep, k, len(ids))}: {exc.message}"
        return None

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        workspace = self._ws()
        sent = [job for job in batch.jobs if job.id in remote_ids]
        return poll_each(sent, lambda job: {job.id: self._poll_job(workspace, job, remote_ids[job.id], batch)})

    def _poll_job(self, workspace: Any, job: JobSpec, remote_id: str, batch: BatchSpec) -> Report:
        """COMPLETED once every Azure job of the job succeeded; FAILED or CANCELLED as
        soon as one of them is. The counts of finished circuits are kept between
        polls, so each is fetched once and a finished circuit is not asked again."""
        ids = azure_ids(remote_id)
        sweep = sweeps.of(job.payload)
        done = self._finished_readouts(remote_id)
        measured: list[Any] = []
        running, status, session = False, "", None
        for k, azure_id in enumerate(ids):
            if k in done:
                continue
            azure_job = workspace.get_job(azure_id)
            status, session = _status(azure_job), azure_job.details.session_id
            if status in (_FAILED, _CANCELLED):
                self._forget(remote_id)
                return _ended(azure_job, status, _which(sweep, k, len(ids)) if len(ids) > 1 else "")
            if status in _SUCCEEDED:
                measured = measured or _measured(job, sweep)
                done[k] = readout(measured[k % len(measured)], azure_job.get_results(), _shots(sweep, batch.shots), quantum.wants_memory(job))
                self._keep(remote_id, k, done[k])
                continue
            running = running or status in _RUNNING
            if status not in _RUNNING:
                break  # a session runs its jobs in order: the ones after a waiting job wait too
        if len(done) == len(ids):
            self._forget(remote_id)
            metadata = {"azure_job": ids[0]} if len(ids) == 1 else {"azure_jobs": ids}
            readouts = [done[k] for k in range(len(ids))]
            memory = [shots for _, shots in readouts if shots is not None] if quantum.wants_memory(job) else None
            return Finished(estimation.result_from_executions(
                quantum.circuit_of(job), sweep, [c for c, _ in readouts], _shots(sweep, batch.shots), batch.backend,
                {**metadata, "session": session}, memory,
            ))
        kind = Running if running or done else Waiting
        if len(ids) == 1:
            return kind(f"Azure Quantum job {status}")
        return kind(f"Azure Quantum: {len(done)} of {len(ids)} circuits done")

    def _finished_readouts(self, remote_id: str) -> dict[int, Readout]:
        """The readouts of a job's circuits that finished at earlier polls, by position."""
        with self._guard:
            return dict(self._finished.get(remote_id, {}))

    def _keep(self, remote_id: str, k: int, found: Readout) -> None:
        """Remember the readout of a job's k-th circuit for its next polls (at once: a poll
        that fails halfway keeps what it fetched), for the :data:`MAX_TRACKED` most
        recent jobs: those whose polls stopped (another engine took them over) do not pile up."""
        with self._guard:
            self._finished.setdefault(remote_id, {})[k] = found
            while len(self._finished) > MAX_TRACKED:
                del self._finished[next(iter(self._finished))]

    def _forget(self, remote_id: str) -> None:
        with self._guard:
            self._finished.pop(remote_id, None)

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        workspace = self._ws()
        for job_id in job_ids:
            if job_id in remote_ids:
                _cancel(workspace, azure_ids(remote_ids[job_id]))


def _shots(sweep: sweeps.Sweep, shots: int | None) -> int:
    """Shots per circuit: the request's, or for an estimate with a precision (a target
    standard error) enough that one Pauli term's error is at most that, 1/precision^2."""
    if sweep.precision:
        return math.ceil(sweep.precision ** -2)
    return shots or 0


def _created(workspace: Any, ids: list[str]) -> int:
    """How many of ``ids``, from the first, the workspace has: a job's Azure jobs are
    created in order, so after a crash those before the first missing one exist."""
    from azure.core.exceptions import ResourceNotFoundError

    for k, azure_id in enumerate(ids):
        try:
            workspace.get_job(azure_id)  # created before a crash: never again
        except ResourceNotFoundError:
            return k
    return len(ids)


def _cancel(workspace: Any, ids: list[str]) -> None:
    """Cancel the Azure jobs ``ids`` that are still to finish (and exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    for azure_id in ids:
        try:
            azure_job = workspace.get_job(azure_id)
        except ResourceNotFoundError:
            continue  # never created: nothing runs
        if _status(azure_job) not in _FINISHED:
            workspace.cancel_job(azure_job)


def _status(azure_job: Any) -> str:
    return getattr(azure_job.details.status, "value", str(azure_job.details.status))


def _which(sweep: sweeps.Sweep, k: int, count: int) -> str:
    """Which circuit of a job the k-th of its ``count`` Azure jobs runs, for a person."""
    settings = count // sweep.num_points
    parts = [f"circuit {k + 1} of {count}"]
    if sweep.swept:
        binding = ", ".join(f"{name}={value:g}" for name, value in list(sweep.binding(k // settings).items())[:5])
        parts.append(f"point {k // settings} ({binding})")
    if sweep.estimating:
        parts.append(f"measurement setting {k % settings + 1} of {settings}")
    return ", ".join(parts)


def _ended(azure_job: Any, status: str, which: str) -> Report:
    """The report of a job one of whose Azure jobs (``which``, or its only one) failed or was cancelled."""
    where = f" ({which})" if which else ""
    if status == _CANCELLED:
        return Cancelled(f"Azure Quantum job {status}{where}")
    message = getattr(azure_job.details.error_data, "message", None) or "the job failed"
    return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"Azure Quantum: {message}{where}"))


def _measured(job: JobSpec, sweep: sweeps.Sweep) -> list[Any]:
    """The circuits whose measurements the counts of a job's Azure jobs follow, one per
    measurement setting (binding values moves no measurement): the job's circuit to
    sample; to estimate, that circuit rotated into each setting of its plan."""
    circuit = quantum.circuit_of(job)
    if not sweep.estimating:
        return [circuit]
    return [estimation.rotated(circuit, setting) for setting in estimation.measurement_plan(sweep)]


__all__ = ["AzureQuantumProvider", "ionq_program"]
