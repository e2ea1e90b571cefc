"""``azure_quantum``: Azure Quantum through azure-quantum's ``Workspace``.

Settings (environment): ``AZURE_QUANTUM_CONNECTION_STRING``, or
``AZURE_QUANTUM_SUBSCRIPTION_ID``, ``AZURE_QUANTUM_WORKSPACE_RG``,
``AZURE_QUANTUM_WORKSPACE_NAME`` and ``AZURE_QUANTUM_WORKSPACE_LOCATION`` with
``AZURE_QUANTUM_API_KEY`` (else the Azure identity chain). ``HAL_AZURE_QUANTUM_ENDPOINT``
points the workspace at another data plane, such as the offline emulator.

Targets take their own formats: IonQ ``ionq.circuit.v1`` JSON, Quantinuum
``honeywell.openqasm.v1`` (OpenQASM 2). Targets that need QIR are listed but
refuse jobs (QIR generation is not built in). Azure runs one circuit per job,
so a batch is one job per circuit inside ONE session. Job (and session) ids are
made by the HAL from the batch and job ids before anything is sent, and a job
is created only if the workspace does not have it yet: submitting a batch again
after a crash never creates a second job. A job whose circuit does not convert
to its target's format, or whose input the service refuses (HTTP 400), fails
alone; the other jobs of the batch are created.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

from ..engine.errors import InvalidRequest
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo, JobStatus
from . import quantum
from ..engine.contract import Availability, BatchSpec, JobSpec, JobUpdate, Provider, Submission, poll_each

TARGETS_TTL_S = 60.0
#: qubits per target family (Azure's provider status does not say)
QUBITS = {"ionq.simulator": 29, "ionq.qpu.aria": 25, "ionq.qpu.forte": 36, "quantinuum.sim.h2": 56, "quantinuum.qpu.h2": 56}
# Qiskit gate -> IonQ gate (controls taken from the Qiskit gate's control qubits)
IONQ_GATES = {"x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti", "sx": "v",
              "sxdg": "vi", "rx": "rx", "ry": "ry", "rz": "rz", "swap": "swap", "cx": "cnot", "ccx": "cnot"}
QASM2_GATES = {"u1", "u2", "u3", "u", "p", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "rx", "ry",
               "rz", "cz", "cy", "swap", "ch", "ccx", "crz", "cu1", "cu3", "rzz", "rxx"}
# Azure Quantum pricing, checked 2026-11 (learn.microsoft.com/azure/quantum/pricing):
# IonQ (AQT) per job m + $0.000220 per 1-qubit-gate-shot + $0.000975 per 2-qubit-gate-shot,
# m = $12.4166 ($97.50 with error mitigation); Quantinuum in HQC = 5 + shots x (N1q + 10 N2q + 5 Nmeas) / 5000.
IONQ_MINIMUM = 12.4166
PRICE_SOURCE = "Azure Quantum pricing (learn.microsoft.com/azure/quantum/pricing, 2026-11)"
_STATES = {
    "Waiting": JobStatus.SUBMITTED, "Queued": JobStatus.SUBMITTED, "Executing": JobStatus.RUNNING,
    "Finishing": JobStatus.RUNNING, "CancellationRequested": JobStatus.RUNNING, "Cancelling": JobStatus.RUNNING,
    "Succeeded": JobStatus.COMPLETED, "Completed": JobStatus.COMPLETED, "Failed": JobStatus.FAILED, "Cancelled": JobStatus.CANCELLED,
}
_SETTINGS = ("AZURE_QUANTUM_SUBSCRIPTION_ID", "AZURE_QUANTUM_WORKSPACE_RG", "AZURE_QUANTUM_WORKSPACE_NAME", "AZURE_QUANTUM_WORKSPACE_LOCATION")


def _family(target: str) -> str:
    return target.split(".", 1)[0]


def _qubits(target: str) -> int | None:
    return next((n for prefix, n in QUBITS.items() if target.startswith(prefix)), None)


def hal_uuid(*parts: str) -> str:
    """The Azure id of a HAL batch's job or session: the same parts, the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "hal-jupyter:" + ":".join(parts)))


def ionq_program(circuit: Any) -> dict[str, Any]:
    """IonQ's ``ionq.circuit.v1`` for a circuit of IonQ-translatable gates (measurements implied)."""
    from qiskit import transpile

    circuit = quantum.without_impostors(circuit, quantum.reserved_operations(), "IonQ")
    lowered = transpile(circuit, basis_gates=list(IONQ_GATES) + ["measure"], optimization_level=0)
    gates = []
    for instruction in lowered.data:
        name = instruction.operation.name
        if name in ("measure", "barrier"):
            continue
        qubits = [lowered.find_bit(q).index for q in instruction.qubits]
        gate: dict[str, Any] = {"gate": IONQ_GATES[name]}
        if name in ("cx", "ccx"):
            gate.update(controls=qubits[:-1], targets=qubits[-1:])
        else:
            gate["targets"] = qubits
        if instruction.operation.params:
            gate["rotation"] = float(instruction.operation.params[0])
        gates.append(gate)
    return {"qubits": circuit.num_qubits, "circuit": gates}


class AzureQuantumProvider(Provider):
    name = "azure_quantum"
    kind = "quantum"
    description = "Azure Quantum (azure-quantum): IonQ and Quantinuum targets, one session per batch"
    max_concurrency = 4
    max_batch_size = 50
    resubmit_safe = True
    remote_survives_restart = True
    poll_interval = (0.5, 30.0)
    inline_validation = False

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._workspace: Any = None
        self._guard = threading.Lock()
        self._listing: tuple[float, list[BackendInfo]] | None = None
        self._not_sent: dict[str, str] = {}

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
        if self._listing is None or time.monotonic() - self._listing[0] > TARGETS_TTL_S:
            infos = []
            for target in self._ws().get_targets():
                availability = getattr(target.current_availability, "value", str(target.current_availability))
                infos.append(BackendInfo(
                    name=target.name, num_qubits=_qubits(target.name), status=availability.lower(), queue_depth=None,
                    simulator=".sim" in target.name or target.name.endswith("simulator"), queue_time_s=float(target.average_queue_time or 0),
                ))
            self._listing = (time.monotonic(), infos)
        return self._listing[1]

    def default_backend(self) -> str:
        return "ionq.simulator"

    def validate(self, job: JobSpec) -> None:
        names = {b.name for b in self.backends()}
        if job.backend not in names:
            raise InvalidRequest(f"azure_quantum has no target {job.backend!r} in this workspace; GET /hal/api/providers/azure_quantum/backends lists them")
        if job.payload.get("options"):
            raise InvalidRequest("azure_quantum takes no options")
        family = _family(job.backend)
        if family == "ionq":
            quantum.check_circuit(job, job.backend, _qubits(job.backend), set(IONQ_GATES), reset=False, mid_circuit_measurement=False)
        elif family == "quantinuum":
            quantum.check_circuit(job, job.backend, _qubits(job.backend), QASM2_GATES)
        else:
            raise InvalidRequest(f"{job.backend} takes QIR, which hal_jupyter does not generate; use an IonQ or Quantinuum target")

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        if ".sim" in job.backend or job.backend.endswith("simulator"):
            return CostEstimate(currency="USD", amount=0.0, basis=f"simulator: free ({PRICE_SOURCE})")
        circuit = quantum.circuit_of(job)
        ops = [i for i in circuit.data if i.operation.name not in ("barrier", "measure")]
        one = sum(len(i.qubits) == 1 for i in ops)
        two = sum(len(i.qubits) >= 2 for i in ops)
        shots = job.shots or 0
        if _family(job.backend) == "quantinuum":
            measured = sum(i.operation.name == "measure" for i in circuit.data)
            hqc = 5 + shots * (one + 10 * two + 5 * measured) / 5000
            return CostEstimate(currency="HQC", amount=round(hqc, 3), basis=f"Quantinuum HQC = 5 + shots x (N1q + 10 N2q + 5 Nmeas) / 5000; {PRICE_SOURCE}")
        amount = IONQ_MINIMUM + 0.000220 * one * shots + 0.000975 * two * shots
        return CostEstimate(currency="USD", amount=round(amount, 4), basis=f"IonQ AQT: $12.4166 per job + gate-shots; {PRICE_SOURCE}")

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        workspace = self._ws()
        target = workspace.get_targets(batch.backend)
        session_id = hal_uuid("session", batch.id)
        try:
            target.open_session(id=session_id, name=f"hal batch {batch.id}")
        except ResourceExistsError:
            target.latest_session = workspace.get_session(session_id)
        remote = {}
        for job in batch.jobs:
            job_id = hal_uuid(batch.id, job.id)
            try:
                workspace.get_job(job_id)  # created before a crash: never again
            except ResourceNotFoundError:
                reason = self._create(target, job, job_id, batch)
                if reason is not None:
                    quantum.keep_reason(self._not_sent, job.id, reason)
                    job_id = quantum.NOT_SENT
            remote[job.id] = job_id
        return Submission(remote_ids=remote)

    def _create(self, target: Any, job: JobSpec, job_id: str, batch: BatchSpec) -> str | None:
        """Create the job at Azure; None, or why this job (and only it) cannot be sent."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        try:
            program = _program(quantum.circuit_of(job), batch.backend)
        except Exception as exc:  # noqa: BLE001 - this job's own circuit
            return f"it does not convert for {batch.backend}: {quantum.failure_reason(exc)}"
        try:
            target.submit(program, name=f"hal-{job.id}", shots=batch.shots, job_id=job_id)
        except ResourceExistsError:
            pass  # an earlier attempt created it and its answer was lost (the SDK's retry of our PUT): it is ours
        except HttpResponseError as exc:
            if exc.status_code != 400:
                raise  # not about this job's input: the scheduler retries or fails the batch
            return f"Azure Quantum refused it: {exc.message}"
        return None

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        workspace = self._ws()
        sent = [job for job in batch.jobs if remote_ids.get(job.id) != quantum.NOT_SENT]
        updates = poll_each(sent, lambda job: {job.id: self._poll_job(workspace, job, remote_ids[job.id], batch)})
        for job in batch.jobs:
            if remote_ids.get(job.id) == quantum.NOT_SENT:
                updates[job.id] = quantum.not_sent(self._not_sent, job.id, self.name)
        return updates

    def _poll_job(self, workspace: Any, job: JobSpec, remote_id: str, batch: BatchSpec) -> JobUpdate:
        azure_job = workspace.get_job(remote_id)
        status = getattr(azure_job.details.status, "value", str(azure_job.details.status))
        state = _STATES.get(status, JobStatus.SUBMITTED)
        if state == JobStatus.COMPLETED:
            counts = self._counts(job, azure_job.get_results(), batch)
            return JobUpdate(JobStatus.COMPLETED, result={
                "counts": counts, "shots": batch.shots, "backend": batch.backend,
                "metadata": {"azure_job": azure_job.id, "session": azure_job.details.session_id},
            })
        if state == JobStatus.FAILED:
            error = azure_job.details.error_data
            message = getattr(error, "message", None) or "the job failed"
            return JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"Azure Quantum: {message}"))
        return JobUpdate(state, message=f"Azure Quantum job {status}")

    def _counts(self, job: JobSpec, results: dict[str, Any], batch: BatchSpec) -> dict[str, int]:
        circuit = quantum.circuit_of(job)
        if "histogram" in results:  # IonQ: probabilities keyed by the state as an integer, qubit 0 least significant
            n, shots = circuit.num_qubits, batch.shots or 0
            left_first = {format(int(state), f"0{n}b")[::-1]: round(p * shots) for state, p in results["histogram"].items()}
            return quantum.qiskit_counts(left_first, list(range(n)), quantum.final_measurements(circuit), circuit.num_clbits)
        # Quantinuum: one bitstring per shot for each register, bit 0 rightmost (Qiskit's order)
        names = [creg.name for creg in circuit.cregs]
        counts: dict[str, int] = {}
        for shot in zip(*(results[name] for name in names)):
            key = "".join(reversed(shot))
            counts[key] = counts.get(key, 0) + 1
        return counts

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        workspace = self._ws()
        for job_id in job_ids:
            if remote_ids.get(job_id, quantum.NOT_SENT) != quantum.NOT_SENT:
                workspace.cancel_job(workspace.get_job(remote_ids[job_id]))


def _program(circuit: Any, target: str) -> Any:
    """The circuit in the target's input format: IonQ JSON, or OpenQASM 2 for Quantinuum."""
    if _family(target) == "ionq":
        return ionq_program(circuit)
    from qiskit import qasm2

    return qasm2.dumps(quantum.without_impostors(circuit, quantum.reserved_operations(), target))


__all__ = ["AzureQuantumProvider", "ionq_program"]
