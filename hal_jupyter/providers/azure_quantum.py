"""``azure_quantum``: Azure Quantum through azure-quantum's ``Workspace``.

Settings (environment): ``AZURE_QUANTUM_CONNECTION_STRING``, or
``AZURE_QUANTUM_SUBSCRIPTION_ID``, ``AZURE_QUANTUM_WORKSPACE_RG``,
``AZURE_QUANTUM_WORKSPACE_NAME`` and ``AZURE_QUANTUM_WORKSPACE_LOCATION`` with
``AZURE_QUANTUM_API_KEY`` (else the Azure identity chain). ``HAL_AZURE_QUANTUM_ENDPOINT``
points the workspace at another data plane, such as the offline emulator.

Targets take their own formats: IonQ ``ionq.circuit.v1`` JSON, Quantinuum
``honeywell.openqasm.v1`` (OpenQASM 2), made in :mod:`.azure_formats`. Targets that need QIR are listed but
refuse jobs (QIR generation is not built in). Azure runs one circuit per job,
so a batch is one job per circuit inside ONE session (:meth:`AzureQuantumProvider.submit`
says which: the batch's own, the named session its jobs share, or none). Job (and session) ids are
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
``"<base>*<n>"`` (:mod:`.azure_jobs`). A finished job reports the cost Azure
gives for its jobs (``costEstimate``), where the target gives one.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

from ..engine import estimation, sweeps
from ..engine.contract import Availability, BatchSpec, Finished, JobSpec, Report, Running, Submission, Waiting, poll_each
from ..engine.errors import InvalidRequest
from ..engine.models import BackendInfo, CostEstimate
from . import quantum
from .azure_formats import IONQ_GATES, QASM2_GATES, ionq_program, program_for, readout
from .azure_jobs import (
    JOB_CANCELLED, JOB_FAILED, JOB_RUNNING, JOB_SUCCEEDED, Outcomes, azure_ids, cancel_all, circuit_count, circuit_shots,
    created_count, ended, estimate, hal_uuid, measured_circuits, remote_id_of, reported_cost, status_of, total_cost, which_circuit,
)

#: most Azure jobs one HAL job may create (points, times measurement settings to estimate)
MAX_CIRCUITS = 1000
#: jobs whose finished circuits' counts are kept between polls (each is fetched once)
MAX_TRACKED = 1000
#: qubits per target family (Azure's provider status does not say)
QUBITS = {"ionq.simulator": 29, "ionq.qpu.aria": 25, "ionq.qpu.forte": 36, "quantinuum.sim.h2": 56, "quantinuum.qpu.h2": 56}
_SETTINGS = ("AZURE_QUANTUM_SUBSCRIPTION_ID", "AZURE_QUANTUM_WORKSPACE_RG", "AZURE_QUANTUM_WORKSPACE_NAME", "AZURE_QUANTUM_WORKSPACE_LOCATION")


def _family(target: str) -> str:
    return target.split(".", 1)[0]


def _qubits(target: str) -> int | None:
    return next((n for prefix, n in QUBITS.items() if target.startswith(prefix)), None)


class AzureQuantumProvider(quantum.QuantumProvider):
    name = "azure_quantum"
    description = "Azure Quantum (azure-quantum): IonQ and Quantinuum targets, one session per batch or per session name"
    max_concurrency = 4
    max_batch_size = 50
    per_shot_results = True  # Quantinuum targets only: validate refuses memory on IonQ's (probabilities)
    resubmit_safe = True
    remote_survives_restart = True
    poll_interval = (0.5, 30.0)
    inline_validation = False
    execution_modes = frozenset({"session", "job"})

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._workspace: Any = None
        self._guard = threading.Lock()
        self._listing: quantum.Listing[list[BackendInfo]] = quantum.Listing()
        self._outcomes = Outcomes(MAX_TRACKED)

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
        shots = circuit_shots(sweep, 0)
        if shots > self.settings.max_shots:
            least = math.ceil(self.settings.max_shots ** -0.5 * 1e4) / 1e4  # rounded up: it is within the limit
            raise InvalidRequest(
                f"precision {sweep.precision} needs {shots} shots per circuit on azure_quantum; at most {self.settings.max_shots} "
                f"are allowed here: ask for a precision of {least:g} or more"
            )

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        return estimate(job)

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        workspace = self._ws()
        target = workspace.get_targets(batch.backend)
        submission = Submission(session_id=self._join_session(workspace, target, batch))
        for job in batch.jobs:
            remote_id = remote_id_of(batch.id, job.id, sweeps.of(job.payload))
            reason = self._create(workspace, target, job, azure_ids(remote_id), batch)
            if reason is None:
                submission.remote_ids[job.id] = remote_id
            else:
                submission.not_sent[job.id] = reason
        if (batch.execution or {}).get("mode") != "session":
            submission.session_id = None  # the batch's own session: no name's next jobs join it
        return submission

    def _join_session(self, workspace: Any, target: Any, batch: BatchSpec) -> str | None:
        """Make ``target`` submit into the batch's session, and say which: none for
        ``execution.mode`` "job"; for a session name, the open session of that name
        (``execution.session_id``) unless it ended, else a new one; by default, the
        batch's own. A session opened here has an id made from the batch id, so a batch
        submitted again after a crash joins the session it opened the first time."""
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        execution = batch.execution or {}
        if execution.get("mode") == "job":
            return None
        if execution.get("session_id"):
            try:
                session = workspace.get_session(execution["session_id"])
            except ResourceNotFoundError:
                session = None
            if session is not None and not session.is_in_terminal_state():
                target.latest_session = session
                return str(session.id)
        session_id = hal_uuid("session", batch.id)
        name = f"hal {execution['session']}" if execution.get("session") else f"hal batch {batch.id}"
        try:
            target.open_session(id=session_id, name=name)
        except ResourceExistsError:
            target.latest_session = workspace.get_session(session_id)
        return session_id

    def close_session(self, backend: str, session_id: str) -> None:
        """Close the session ``session_id`` (jobs in it run on; an ended one stays as it is)."""
        from azure.core.exceptions import ResourceNotFoundError

        workspace = self._ws()
        try:
            session = workspace.get_session(session_id)
        except ResourceNotFoundError:
            return  # never opened, or gone: nothing to close
        workspace.close_session(session)

    def _create(self, workspace: Any, target: Any, job: JobSpec, ids: list[str], batch: BatchSpec) -> str | None:
        """Create the job's circuits at Azure, as the Azure jobs ``ids``, skipping
        those created before a crash; None, or why this job (and only it) cannot be
        sent. Every circuit is converted before the first is created, so a job that
        does not convert leaves nothing behind at Azure."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        first = created_count(workspace, ids)
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
                target.submit(program, name=name, shots=circuit_shots(sweep, batch.shots), job_id=ids[k])
            except ResourceExistsError:
                pass  # an earlier attempt created it and its answer was lost (the SDK's retry of our PUT): it is ours
            except HttpResponseError as exc:
                if exc.status_code != 400:
                    raise  # not about this job's input: the scheduler retries or fails the batch
                cancel_all(workspace, ids[:k])  # its other circuits are of no use alone
                return f"Azure Quantum refused {which_circuit(sweep, k, len(ids))}: {exc.message}"
        return None

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        workspace = self._ws()
        sent = [job for job in batch.jobs if job.id in remote_ids]
        return poll_each(sent, lambda job: {job.id: self._poll_job(workspace, job, remote_ids[job.id], batch)})

    def _poll_job(self, workspace: Any, job: JobSpec, remote_id: str, batch: BatchSpec) -> Report:
        """COMPLETED once every Azure job of the job succeeded (with the cost Azure reports
        for them, where it reports one); FAILED or CANCELLED as soon as one of them is.
        The outcomes of finished circuits are kept between polls, so each is fetched
        once and a finished circuit is not asked again."""
        ids = azure_ids(remote_id)
        sweep = sweeps.of(job.payload)
        done = self._outcomes.of(remote_id)
        measured: list[Any] = []
        running, status, session = False, "", None
        for k, azure_id in enumerate(ids):
            if k in done:
                continue
            azure_job = workspace.get_job(azure_id)
            status, session = status_of(azure_job), azure_job.details.session_id
            if status in (JOB_FAILED, JOB_CANCELLED):
                self._outcomes.forget(remote_id)
                return ended(azure_job, status, which_circuit(sweep, k, len(ids)) if len(ids) > 1 else "")
            if status in JOB_SUCCEEDED:
                measured = measured or measured_circuits(job, sweep)
                found = readout(measured[k % len(measured)], azure_job.get_results(), circuit_shots(sweep, batch.shots), quantum.wants_memory(job))
                done[k] = (found, reported_cost(azure_job))
                self._outcomes.keep(remote_id, k, done[k])
                continue
            running = running or status in JOB_RUNNING
            if status not in JOB_RUNNING:
                break  # a session runs its jobs in order: the ones after a waiting job wait too
        if len(done) == len(ids):
            self._outcomes.forget(remote_id)
            metadata = {"azure_job": ids[0]} if len(ids) == 1 else {"azure_jobs": ids}
            readouts = [done[k][0] for k in range(len(ids))]
            memory = [shots for _, shots in readouts if shots is not None] if quantum.wants_memory(job) else None
            return Finished(estimation.result_from_executions(
                quantum.circuit_of(job), sweep, [c for c, _ in readouts], circuit_shots(sweep, batch.shots), batch.backend,
                {**metadata, "session": session}, memory,
            ), cost=total_cost([done[k][1] for k in range(len(ids))]))
        kind = Running if running or done else Waiting
        if len(ids) == 1:
            return kind(f"Azure Quantum job {status}")
        return kind(f"Azure Quantum: {len(done)} of {len(ids)} circuits done")

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        workspace = self._ws()
        for job_id in job_ids:
            if job_id in remote_ids:
                cancel_all(workspace, azure_ids(remote_ids[job_id]))


__all__ = ["AzureQuantumProvider", "ionq_program"]
