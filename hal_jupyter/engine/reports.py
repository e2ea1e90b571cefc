"""What providers report of a job, and the transition each report makes.

A provider's poll answers, per job, what it observed: the job waits at the
provider, runs, finished with a result, failed with an error, or was
cancelled. It never names a status: :func:`transition_for` maps a report,
given the job's status, to a transition of :mod:`.lifecycle`, or to nothing
when it does not fit (a late or out-of-order answer: RUNNING after COMPLETED,
SUBMITTED after RUNNING), which the ledger then ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .lifecycle import CANCEL, COMPLETE, FAIL, PROGRESS, START, JobStatus, Transition
from .models import CostEstimate, ErrorInfo


@dataclass(frozen=True)
class Waiting:
    """The provider holds the job and has not started it (queued at the provider)."""

    message: str | None = None


@dataclass(frozen=True)
class Running:
    """The job runs; ``message`` says how far it is."""

    message: str | None = None


@dataclass(frozen=True)
class Finished:
    """The job completed with this result (counts, estimates, or a classical value);
    ``cost``: what the provider reports it cost (v1.2), where it reports one."""

    result: dict[str, Any]
    cost: CostEstimate | None = None


@dataclass(frozen=True)
class Failed:
    """The job failed; ``output`` keeps what a classical job printed before it did."""

    error: ErrorInfo
    output: dict[str, Any] | None = None
    cost: CostEstimate | None = None


@dataclass(frozen=True)
class Cancelled:
    """The provider cancelled the job (on our request or anyone's)."""

    message: str | None = None


Report = Waiting | Running | Finished | Failed | Cancelled


def transition_for(report: Report, status: JobStatus | str) -> Transition | None:
    """The transition a report of one job makes from ``status``, or None when it does not fit."""
    status = JobStatus(status)
    chosen: Transition | None
    if isinstance(report, Waiting):
        chosen = PROGRESS if status in (JobStatus.SUBMITTING, JobStatus.SUBMITTED) else None
    elif isinstance(report, Running):
        chosen = START if status == JobStatus.SUBMITTED else PROGRESS if status == JobStatus.RUNNING else None
    elif isinstance(report, Finished):
        chosen = COMPLETE
    elif isinstance(report, Failed):
        chosen = FAIL
    elif isinstance(report, Cancelled):
        chosen = CANCEL
    else:
        raise TypeError(f"a provider reported {type(report).__name__}, which is not a report")
    return chosen if chosen is not None and chosen.allows(status) else None


def fields_of(report: Report, row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record fields (and result) a report sets; an ending sets what the job cost."""
    if isinstance(report, Finished):
        return {"status_message": None, "cost_actual": actual_cost(report.cost, row)}, report.result
    if isinstance(report, Failed):
        error = report.error.model_dump(mode="json", exclude_none=True)
        return {"status_message": None, "error": error, "cost_actual": actual_cost(report.cost, row)}, report.output
    return {"status_message": report.message}, None


def actual_cost(reported: CostEstimate | None, row: dict[str, Any]) -> dict[str, Any] | None:
    """What a job that ran cost: what its provider reports, else its estimate (the basis says so)."""
    if reported is not None:
        return reported.model_dump()
    estimate = row.get("cost_estimate")
    if not estimate:
        return None
    return {**estimate, "basis": f"estimate ({row['provider']} reports no cost): {estimate.get('basis', '')}".rstrip(": ")}


__all__ = ["Cancelled", "Failed", "Finished", "Report", "Running", "Waiting", "actual_cost", "fields_of", "transition_for"]
