"""What Braket charges: prices are data, with their source and date.

Amazon Braket pricing, checked 2026-11 (https://aws.amazon.com/braket/pricing/):
QPUs $0.30 per task plus a price per shot; on-demand simulators per minute,
billed per millisecond with a 3-second minimum per task. The local simulators
are free. The per-task part is what a program set (one task for many
circuits) saves.
"""

from __future__ import annotations

from ...engine.models import CostEstimate
from .. import quantum

TASK_FEE = 0.30
PER_SHOT = {"ionq/forte": 0.08, "ionq/aria": 0.03, "iqm/garnet": 0.00145, "rigetti/ankaa": 0.0009, "quera/aquila": 0.01}
SIMULATOR_PER_MIN = {"amazon/sv1": 0.075, "amazon/dm1": 0.075, "amazon/tn1": 0.275}
SOURCE = "Amazon Braket pricing (aws.amazon.com/braket/pricing, 2026-11)"


def prices(device: str, shots: int) -> tuple[float, float]:
    """(cost of one circuit of ``shots`` sent alone to ``device``, the per-task part a batch pays once)."""
    for key, per_shot in PER_SHOT.items():
        if key in device:
            return TASK_FEE + per_shot * shots, TASK_FEE
    for key, per_min in SIMULATOR_PER_MIN.items():
        if key in device:
            minimum = per_min * 3 / 60
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


FREE = CostEstimate(currency="USD", amount=0.0, basis="free: Braket LocalSimulator")
