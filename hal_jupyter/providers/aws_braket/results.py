"""Where a job's executables went, and what came back.

A job's remote id lists its tasks in the order of its executions
(:func:`remote_id`): ``arn`` for a task of one circuit, ``arn#b`` for entry
``b`` of a program-set task. The job store keeps 400 characters of it, so a
job is spread over at most 8 or 9 tasks (:func:`most_tasks`). A job's
readings come back in the order of its executions (point-major, then
measurement setting), and :func:`completed` makes them its result, so a
restarted server that re-attaches to the tasks needs nothing but the job and
its remote id. :func:`billed_share` says what the job's tasks were billed.
"""

from __future__ import annotations

from typing import Any

from ...engine import estimation, sweeps
from ...engine.contract import Failed, Finished, JobSpec, Report
from ...engine.errors import ErrorType
from ...engine.models import CostEstimate, ErrorInfo
from .. import quantum
from . import pricing
from .convert import readouts, settings_per_point

#: The characters the job store keeps of a remote id: the first task's ARN with its ``#entry``
#: (under 95 in every Braket region), then ``,`` and the id of each further task (a UUID),
#: with its entry in a program set.
REMOTE_ID_CHARS, ARN_CHARS, TASK_ID_CHARS, ENTRY_CHARS = 400, 95, 37, 3
#: the association type of a task created in a reservation (CreateQuantumTask ``associations``)
RESERVATION = "RESERVATION_TIME_WINDOW_ARN"
#: what one executable gave: (counts in Braket's order, measured qubits, its per-shot measurements:
#: a shots x measured-qubits array, as the SDK already holds it), or why it failed
Reading = tuple[dict[str, int], list[int], Any] | str


def most_tasks(in_sets: bool) -> int:
    """How many tasks one job may be spread over: as many as its remote id can list."""
    return 1 + (REMOTE_ID_CHARS - ARN_CHARS) // (TASK_ID_CHARS + (ENTRY_CHARS if in_sets else 0))


def remote_id(parts: list[str]) -> str:
    """A job's remote id: its tasks in the order of its executions, comma-joined, each
    ``arn`` (a task of one circuit) or ``arn#b`` (entry ``b`` of a program-set task).
    After the first, a part leaves out the ARN up to the task's id (the same for all
    tasks of a device), so that :func:`most_tasks` parts fit the job store."""
    prefix = parts[0].rpartition("/")[0] + "/"
    return ",".join([parts[0]] + [part.removeprefix(prefix) for part in parts[1:]])


def parts(remote: str) -> list[tuple[str, int | None]]:
    """(task ARN, program-set entry or None) of each part of a :func:`remote_id`."""
    first, *rest = remote.split(",")
    prefix = first.rpartition("/")[0] + "/"
    found = [first] + [part if part.startswith("arn:") else prefix + part for part in rest]
    return [(arn, int(entry) if entry else None) for arn, _, entry in (part.partition("#") for part in found)]


def readings(entry: Any) -> list[Reading]:
    """What each executable of one program-set entry gave, in order (input set, then observable)."""
    from braket.task_result import ProgramSetExecutableFailure

    return [
        e.failureMetadata.failureReason if isinstance(e, ProgramSetExecutableFailure) else (dict(e.counts), list(e.measured_qubits), e.measurements)
        for e in entry.entries
    ]


def reading(result: Any) -> Reading:
    """What a task of one circuit gave (a ``GateModelQuantumTaskResult``)."""
    return dict(result.measurement_counts), list(result.measured_qubits), result.measurements


def completed(job: JobSpec, found: list[Reading], shots: int | None, backend: str, metadata: dict[str, Any], source: str) -> Report:
    """The job's result from its readings in the order of its executions (point-major,
    then measurement setting), or FAILED when an executable failed."""
    circuit, sweep = quantum.circuit_of(job), sweeps.of(job.payload)
    failed = [r for r in found if isinstance(r, str)]
    expected = sweep.num_points * settings_per_point(sweep)
    if failed or len(found) != expected:
        reason = failed[0] if failed else f"{len(found)} results came back for {expected} circuits"
        return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{source}: {reason}"))
    places = readouts(circuit, sweep)
    counts = [quantum.qiskit_counts(c, measured, *places[i % len(places)]) for i, (c, measured, _) in enumerate(found)]  # type: ignore[misc]
    if sweep.precision is not None:
        metadata = {**metadata, "stds": f"from {shots} shots per circuit; the requested precision is not targeted"}
    memory = None
    if quantum.wants_memory(job):  # a sampling job: one reading per point
        if any(r[2] is None for r in found):  # type: ignore[index]
            return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{source}: the results hold no per-shot measurements"))
        memory = [quantum.qiskit_memory(_bitstrings(rows), measured, *places[0]) for _, measured, rows in found]  # type: ignore[misc]
    return Finished(estimation.result_from_executions(circuit, sweep, counts, shots, backend, metadata, memory))


def billed_share(job_parts: list[tuple[str, int | None]], task_of: Any, device: str) -> CostEstimate | None:
    """What Braket billed for the job's executables (``job_parts``, from :func:`parts`, of
    completed tasks; ``task_of``: ARN -> ``AwsQuantumTask``): each of its tasks as the task
    reports it (shots, a reservation association, a simulator's execution time), the job's
    share of a program-set task in proportion to its entries' execution times (or, where
    the task reports none, their executables). None when a task's bill cannot be told."""
    total, how = 0.0, ""
    arns = list(dict.fromkeys(arn for arn, _ in job_parts))
    for arn in arns:
        task = task_of(arn)
        try:
            metadata, result = task.metadata(use_cached_value=True), task.result()
        except Exception:  # noqa: BLE001 - the result was read already: a bill it cannot tell is no reason to hold it
            return None
        reserved = any(a.get("type") == RESERVATION for a in metadata.get("associations") or [])
        weights, duration = _weights(result)
        bill = pricing.billed(device, int(metadata.get("shots") or 0), duration, reserved)
        if bill is None:
            return None
        entries = [entry for a, entry in job_parts if a == arn]
        share = 1.0 if None in entries or not sum(weights) else sum(weights[e] for e in entries) / sum(weights)
        total, how = total + bill[0] * share, bill[1]
    shared = f" (this job's share of {len(arns)} task{'s' if len(arns) > 1 else ''})" if len(arns) > 1 or share < 1 else ""
    return pricing.actual(total, how + shared)


def _weights(result: Any) -> tuple[list[float], float | None]:
    """(each program-set entry's weight in the task's bill, the task's execution time in ms
    if the simulator reported it); a task of one circuit has one entry."""
    entries = getattr(result, "entries", None)
    if entries is None:
        return [1.0], _duration(result.additional_metadata)
    durations = [_duration(entry.additional_metadata) for entry in entries]
    known = [d for d in durations if d is not None]
    total = sum(known) if len(known) == len(durations) else None
    return (known if total else [float(len(entry.entries)) for entry in entries]), total


def _duration(metadata: Any) -> float | None:
    """A simulator's execution time in milliseconds (``simulatorMetadata.executionDuration``)."""
    simulator = getattr(metadata, "simulatorMetadata", None)
    return None if simulator is None else float(simulator.executionDuration)


def _bitstrings(measurements: Any) -> list[str]:
    """Each shot's bits (a row of Braket's measurements array, measured-qubit order) as a string."""
    import numpy as np

    rows = np.asarray(measurements, dtype=np.uint8) + ord("0")
    return [row.tobytes().decode("ascii") for row in rows]


__all__ = ["Reading", "billed_share", "completed", "most_tasks", "parts", "reading", "readings", "remote_id"]
