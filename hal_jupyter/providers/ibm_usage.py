"""What a runtime job costs at IBM Quantum: estimated before it runs, and actual after.

IBM bills quantum time (the usage of a runtime job, in seconds) at a price per
second. Before a job runs, its time is estimated as a fixed overhead per runtime
job plus a time per shot; the jobs of one HAL batch share one runtime job, so
they pay that overhead once (each its 1/n, plus the time of its own shots and
points). After it ran, IBM reports its usage (``/jobs/{id}/metrics``:
``usage.quantum_seconds``); that time at the price is the actual cost, shared
among the batch's jobs in proportion to their shots times points.

In a dedicated session, IBM bills the session's time from its first job to its
end, idle time between jobs included; a job's own quantum time is then a lower
bound of what it cost, and its basis says so.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..engine import sweeps
from ..engine.contract import JobSpec
from ..engine.models import CostEstimate


class Price(NamedTuple):
    per_s: float
    fixed_s: float
    per_shot_s: float
    source: str


def weight(job: JobSpec, shots: int | None) -> int:
    """The shots a job runs: its shots (or the batch's) at each point of its sweep."""
    return (job.shots or shots or 0) * sweeps.num_points(job.payload)


def estimated(jobs: list[JobSpec], shots: int | None, price: Price, free: bool) -> dict[str, CostEstimate]:
    """Each job's share of one runtime job carrying them all (the fixed overhead paid
    once), and what that saves against sending each alone."""
    n = len(jobs)
    if not n:
        return {}
    own = {job.id: weight(job, shots) * price.per_shot_s for job in jobs}
    alone = sum((price.fixed_s + s) * price.per_s for s in own.values())
    total = (price.fixed_s + sum(own.values())) * price.per_s
    saving = alone - total
    basis = f"1/{n} of one runtime job: USD {total:.4f} for the batch, USD {alone:.4f} if sent alone (batching saves USD {saving:.4f}); {price.source}"
    if free:
        basis = "free here (local mode); on the device: " + basis
    return {
        job.id: CostEstimate(currency="USD", amount=0.0 if free else round((price.fixed_s / n + own[job.id]) * price.per_s, 6), basis=basis)
        for job in jobs
    }


def usage_seconds(runtime_job: Any) -> float | None:
    """The quantum time IBM reports for a finished runtime job; None when it reports none."""
    try:
        usage = (runtime_job.metrics() or {}).get("usage") or {}
    except Exception:  # noqa: BLE001 - no metrics: the engine keeps the estimate
        return None
    seconds = usage.get("quantum_seconds")
    if seconds is None and usage.get("status", "pending") != "pending":
        seconds = usage.get("qpu_charge_time_seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def actual(jobs: list[JobSpec], shots: int | None, seconds: float | None, price: Price, *, local: bool, in_session: bool) -> dict[str, CostEstimate]:
    """Each job's share of the runtime job's reported usage (nothing when there is none)."""
    if local:
        basis = "free: local mode runs on this machine (no IBM quantum time)"
        return {job.id: CostEstimate(currency="USD", amount=0.0, basis=basis) for job in jobs}
    if seconds is None or not jobs:
        return {}
    weights = {job.id: weight(job, shots) for job in jobs}
    total_weight = sum(weights.values())
    basis = f"IBM usage: {seconds:g} s of quantum time x ${price.per_s:.2f}/s ({price.source})"
    if len(jobs) > 1:
        basis += f", shared by shots among the {len(jobs)} jobs of the runtime job"
    if in_session:
        basis += "; in a session IBM bills the session's time, idle time between jobs included"
    out = {}
    for job in jobs:
        share = weights[job.id] / total_weight if total_weight else 1 / len(jobs)
        out[job.id] = CostEstimate(currency="USD", amount=round(seconds * price.per_s * share, 6), basis=basis)
    return out


__all__ = ["Price", "actual", "estimated", "usage_seconds", "weight"]
