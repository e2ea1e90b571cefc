"""A HAL job's Azure jobs, free of the provider's workspace handling: their ids,
which circuit each runs, what their states mean, what finished, and what Azure
says they cost.

Azure runs one circuit per job, so a HAL job of a sweep or an estimate is many
Azure jobs. Their ids derive from the HAL batch and job ids
(:func:`remote_id_of`, :func:`azure_ids`), so a restarted server, or a batch
submitted again after a crash, finds every one of them without a list.
"""

from __future__ import annotations

import math
import threading
import uuid
from typing import Any

from ..engine import estimation, sweeps
from ..engine.contract import Cancelled, Failed, JobSpec, Report
from ..engine.errors import ErrorType
from ..engine.models import CostEstimate, ErrorInfo
from . import prices, quantum
from .azure_formats import Readout

# Azure job states: running, succeeded, failed, cancelled; any other is waiting (Waiting, Queued)
JOB_RUNNING = frozenset({"Executing", "Finishing", "CancellationRequested", "Cancelling"})
JOB_SUCCEEDED = frozenset({"Succeeded", "Completed"})
JOB_FAILED, JOB_CANCELLED = "Failed", "Cancelled"
JOB_FINISHED = JOB_SUCCEEDED | {JOB_FAILED, JOB_CANCELLED}
#: what one finished circuit gave: its readout, and the cost Azure reports for its job (None: none)
Outcome = tuple[Readout, CostEstimate | None]


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


def circuit_shots(sweep: sweeps.Sweep, shots: int | None) -> int:
    """Shots per circuit: the request's, or for an estimate with a precision (a target
    standard error) enough that one Pauli term's error is at most that, 1/precision^2."""
    if sweep.precision:
        return math.ceil(sweep.precision ** -2)
    return shots or 0


def created_count(workspace: Any, ids: list[str]) -> int:
    """How many of ``ids``, from the first, the workspace has: a job's Azure jobs are
    created in order, so after a crash those before the first missing one exist."""
    from azure.core.exceptions import ResourceNotFoundError

    for k, azure_id in enumerate(ids):
        try:
            workspace.get_job(azure_id)  # created before a crash: never again
        except ResourceNotFoundError:
            return k
    return len(ids)


def cancel_all(workspace: Any, ids: list[str]) -> None:
    """Cancel the Azure jobs ``ids`` that are still to finish (and exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    for azure_id in ids:
        try:
            azure_job = workspace.get_job(azure_id)
        except ResourceNotFoundError:
            continue  # never created: nothing runs
        if status_of(azure_job) not in JOB_FINISHED:
            workspace.cancel_job(azure_job)


def status_of(azure_job: Any) -> str:
    return getattr(azure_job.details.status, "value", str(azure_job.details.status))


def which_circuit(sweep: sweeps.Sweep, k: int, count: int) -> str:
    """Which circuit of a job the k-th of its ``count`` Azure jobs runs, for a person."""
    settings = count // sweep.num_points
    parts = [f"circuit {k + 1} of {count}"]
    if sweep.swept:
        binding = ", ".join(f"{name}={value:g}" for name, value in list(sweep.binding(k // settings).items())[:5])
        parts.append(f"point {k // settings} ({binding})")
    if sweep.estimating:
        parts.append(f"measurement setting {k % settings + 1} of {settings}")
    return ", ".join(parts)


def ended(azure_job: Any, status: str, which: str) -> Report:
    """The report of a job one of whose Azure jobs (``which``, or its only one) failed or was cancelled."""
    where = f" ({which})" if which else ""
    if status == JOB_CANCELLED:
        return Cancelled(f"Azure Quantum job {status}{where}")
    message = getattr(azure_job.details.error_data, "message", None) or "the job failed"
    return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"Azure Quantum: {message}{where}"))


def measured_circuits(job: JobSpec, sweep: sweeps.Sweep) -> list[Any]:
    """The circuits whose measurements the counts of a job's Azure jobs follow, one per
    measurement setting (binding values moves no measurement): the job's circuit to
    sample; to estimate, that circuit rotated into each setting of its plan."""
    circuit = quantum.circuit_of(job)
    if not sweep.estimating:
        return [circuit]
    return [estimation.rotated(circuit, setting) for setting in estimation.measurement_plan(sweep)]


def estimate(job: JobSpec) -> CostEstimate:
    """What a job's Azure jobs cost, from :mod:`.prices`: simulators are free; IonQ bills
    each job a minimum plus its gate-shots, Quantinuum in HQC."""
    if ".sim" in job.backend or job.backend.endswith("simulator"):
        return CostEstimate(currency="USD", amount=0.0, basis=f"simulator: free ({prices.AZURE_QUANTUM_SOURCE})")
    sweep = sweeps.of(job.payload)
    count = circuit_count(sweep)
    per = f"; x {count} circuits, one Azure job each" if count > 1 else ""
    circuit = quantum.circuit_of(job)
    ops = [i for i in circuit.data if i.operation.name not in ("barrier", "measure")]
    one = sum(len(i.qubits) == 1 for i in ops)
    two = sum(len(i.qubits) >= 2 for i in ops)
    shots = circuit_shots(sweep, job.shots or 0)
    if job.backend.startswith("quantinuum."):
        measured = circuit.num_qubits if sweep.estimating else sum(i.operation.name == "measure" for i in circuit.data)
        weighted = one + prices.QUANTINUUM_HQC_PER_2Q * two + prices.QUANTINUUM_HQC_PER_MEASURE * measured
        hqc = prices.QUANTINUUM_HQC_BASE + shots * weighted / prices.QUANTINUUM_HQC_PER_SHOTS
        return CostEstimate(currency="HQC", amount=round(count * hqc, 3), basis=f"Quantinuum HQC = 5 + shots x (N1q + 10 N2q + 5 Nmeas) / 5000{per}; {prices.AZURE_QUANTUM_SOURCE}")
    amount = prices.IONQ_MINIMUM + prices.IONQ_PER_1Q_GATE_SHOT * one * shots + prices.IONQ_PER_2Q_GATE_SHOT * two * shots
    return CostEstimate(currency="USD", amount=round(count * amount, 4), basis=f"IonQ AQT: ${prices.IONQ_MINIMUM} per job + gate-shots{per}; {prices.AZURE_QUANTUM_SOURCE}")



def reported_cost(azure_job: Any) -> CostEstimate | None:
    """What Azure reports a finished job cost (its details' ``costEstimate``: ``estimatedTotal``
    in ``currencyCode``), where the target reports one (QPUs; simulators are free and say nothing)."""
    cost = getattr(azure_job.details, "cost_estimate", None)
    if cost is None or cost.estimated_total is None:
        return None
    return CostEstimate(currency=cost.currency_code or "USD", amount=float(cost.estimated_total), basis="reported by Azure Quantum (the job's costEstimate)")


def total_cost(costs: list[CostEstimate | None]) -> CostEstimate | None:
    """A HAL job's cost from its Azure jobs' reported costs; None unless each reported one, in one currency."""
    if not costs or any(c is None for c in costs) or len({c.currency for c in costs if c is not None}) != 1:
        return None
    amount = sum(c.amount for c in costs if c is not None)
    basis = costs[0].basis if len(costs) == 1 else f"{costs[0].basis}, summed over its {len(costs)} Azure jobs"  # type: ignore[union-attr]
    return CostEstimate(currency=costs[0].currency, amount=round(amount, 8), basis=basis)  # type: ignore[union-attr]


class Outcomes:
    """What each job's finished circuits gave, kept between polls so that each is fetched
    once (a poll that fails halfway keeps what it fetched), for the ``most`` most recent
    jobs: those whose polls stopped (another engine took them over) do not pile up."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._kept: dict[str, dict[int, Outcome]] = {}
        self._guard = threading.Lock()

    def of(self, remote_id: str) -> dict[int, Outcome]:
        """The outcomes of a job's circuits that finished at earlier polls, by position."""
        with self._guard:
            return dict(self._kept.get(remote_id, {}))

    def keep(self, remote_id: str, k: int, found: Outcome) -> None:
        with self._guard:
            self._kept.setdefault(remote_id, {})[k] = found
            while len(self._kept) > self.most:
                del self._kept[next(iter(self._kept))]

    def forget(self, remote_id: str) -> None:
        with self._guard:
            self._kept.pop(remote_id, None)


__all__ = [
    "JOB_CANCELLED", "JOB_FAILED", "JOB_FINISHED", "JOB_RUNNING", "JOB_SUCCEEDED", "Outcome", "Outcomes", "azure_ids",
    "cancel_all", "circuit_count", "circuit_shots", "created_count", "ended", "estimate", "hal_uuid", "measured_circuits",
    "remote_id_of", "reported_cost", "status_of", "total_cost", "which_circuit",
]
