"""What Braket charges, from the price data of :mod:`..prices`: estimates before a
job is sent, and what a finished task was billed.

QPUs: a fee per task plus a price per shot; on-demand simulators (SV1, DM1,
TN1): their execution time, billed per millisecond with a 3-second minimum per
task; in a reservation (Braket Direct), no per-task or per-shot fees (the
reservation is billed by the hour, separately). The local simulators are free.
The per-task part is what a program set (one task for many circuits) saves.
"""

from __future__ import annotations

import math
from typing import Any

from ...engine.models import CostEstimate
from .. import quantum
from ..prices import BRAKET_PER_SHOT as PER_SHOT
from ..prices import BRAKET_RESERVATION_BASIS as RESERVATION_BASIS
from ..prices import BRAKET_SIMULATOR_MINIMUM_MS as SIMULATOR_MINIMUM_MS
from ..prices import BRAKET_SIMULATOR_PER_MIN as SIMULATOR_PER_MIN
from ..prices import BRAKET_SOURCE as SOURCE
from ..prices import BRAKET_TASK_FEE as TASK_FEE


def prices(device: str, shots: int) -> tuple[float, float]:
    """(cost of one circuit of ``shots`` sent alone to ``device``, the per-task part a batch pays once)."""
    device = device.lower()  # ARNs name devices in their own case: .../qpu/ionq/Forte-1
    for key, per_shot in PER_SHOT.items():
        if key in device:
            return TASK_FEE + per_shot * shots, TASK_FEE
    for key, per_min in SIMULATOR_PER_MIN.items():
        if key in device:
            minimum = per_min * SIMULATOR_MINIMUM_MS / 60_000
            return minimum, minimum
    return TASK_FEE, TASK_FEE


def cost(device: str, shots: int, executions: int, tasks: int) -> float:
    """What ``executions`` circuits of ``shots`` cost in ``tasks`` tasks: the per-task part
    once per task, the rest (the shots) once per circuit."""
    one, fixed = prices(device, shots)
    return tasks * fixed + executions * (one - fixed)


def estimate(device: str, shots: int, executions: int, tasks: int) -> CostEstimate:
    basis = SOURCE if executions == 1 else f"{executions} circuits of {shots} shots in {tasks} task(s); {SOURCE}"
    return CostEstimate(currency="USD", amount=round(cost(device, shots, executions, tasks), 6), basis=basis)


def shares(device: str, shots: int, sizes: dict[str, tuple[int, int]], tasks: int) -> dict[str, CostEstimate]:
    """Each job's share of program-set tasks; ``sizes``: job id -> (executions, its entries)."""
    alone = [cost(device, shots, executions, entries) for executions, entries in sizes.values()]
    total = cost(device, shots, sum(executions for executions, _ in sizes.values()), tasks)
    n = len(sizes)
    # batch_costs takes a cost alone per job and the fixed part the batch pays once instead of n times
    return quantum.batch_costs(list(sizes), sum(alone) / n, (sum(alone) - total) / (n - 1) if n > 1 else 0.0, "USD", SOURCE)


def reservation_of(execution: dict[str, Any] | None) -> str | None:
    """The reservation ARN a job's (or a batch's) ``execution`` names, if any."""
    return (execution or {}).get("reservation_arn")


def in_reservation() -> CostEstimate:
    """A job that runs in a reservation: nothing per task or per shot."""
    return CostEstimate(currency="USD", amount=0.0, basis=f"{RESERVATION_BASIS}; {SOURCE}")


def billed(device: str, shots: int, duration_ms: float | None, reserved: bool) -> tuple[float, str] | None:
    """What Braket bills for one completed task of ``shots`` (all its executables) on
    ``device``, and how that was computed; ``duration_ms``: the execution time a simulator
    reported. None when it cannot be told (a simulator that reported no time, an unknown device)."""
    if reserved:
        return 0.0, RESERVATION_BASIS
    device = device.lower()
    for key, per_shot in PER_SHOT.items():
        if key in device:
            return TASK_FEE + per_shot * shots, f"billed: ${TASK_FEE:.2f} per task + ${per_shot:g} x {shots} shots"
    for key, per_min in SIMULATOR_PER_MIN.items():
        if key in device and duration_ms is not None:
            ms = max(math.ceil(duration_ms), SIMULATOR_MINIMUM_MS)
            return per_min * ms / 60_000, f"billed: {ms / 1000:g} s of {key} at ${per_min:g}/min (ran {duration_ms:g} ms; at least {SIMULATOR_MINIMUM_MS / 1000:g} s per task)"
    return None


def actual(amount: float, how: str) -> CostEstimate:
    return CostEstimate(currency="USD", amount=round(amount, 8), basis=f"{how}; {SOURCE}")


FREE = CostEstimate(currency="USD", amount=0.0, basis="free: Braket LocalSimulator")
