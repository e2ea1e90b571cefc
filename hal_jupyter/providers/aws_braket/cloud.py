"""Braket devices by ARN (``AwsDevice``): the account, the devices' capabilities, tasks.

They need boto3's credentials, ``AWS_REGION`` and a results bucket
``AMZN_BRAKET_OUT_S3_BUCKET``; ``BRAKET_ENDPOINT`` points the SDK at another
Braket endpoint. A batch is ONE task holding a program set where the device
takes program sets (one per-task fee instead of one per circuit), split over
several tasks only at the device's program-set limits; elsewhere one task per
circuit of :func:`...engine.estimation.executions`.

Every ``CreateQuantumTask`` carries a ``clientToken`` made from the HAL batch id
(and the program set's or the circuit's place), so submitting the batch again
after a crash returns the same tasks instead of creating, and billing, new
ones. ``run_batch`` is not used: it retries failed tasks on its own and creates
its tasks from copied sessions that cannot carry the HAL's tokens. A device's
task that fails fails the jobs it carries (Braket reports per task), and an
executable that fails in a program set fails its job.

A batch in a reservation (``execution.reservation_arn``) passes it on each create
(``reservation_arn=``), never through ``DirectReservation``, which sets it for the
whole process. A finished job reports what its tasks were billed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ...engine import sweeps
from ...engine.contract import BatchSpec, Cancelled, Failed, Finished, JobSpec, Report, Running, Submission, Waiting, poll_each
from ...engine.errors import ErrorType, InvalidRequest, ProviderUnavailable
from ...engine.models import BackendInfo, CostEstimate, ErrorInfo
from .. import quantum
from . import pricing
from .pricing import reservation_of
from .capabilities import basis_of, qubits_of
from .convert import Parametric, executions, pieces, settings_per_point
from .results import Reading, billed_share, completed, most_tasks, parts, reading, readings, remote_id

S3_PREFIX = "hal-jupyter"
#: Braket task states that are not waiting: running, or ended
_RUNNING = frozenset({"RUNNING", "CANCELLING"})
_COMPLETED, _FAILED, _CANCELLED = "COMPLETED", "FAILED", "CANCELLED"
SOURCE = "Amazon Braket"


def missing_account() -> str | None:
    """None when devices by ARN can be used, else what to set."""
    import boto3

    session = boto3.Session()
    missing = []
    if session.get_credentials() is None:
        missing.append("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
    if not (session.region_name or os.environ.get("AWS_REGION")):
        missing.append("AWS_REGION")
    if not os.environ.get("AMZN_BRAKET_OUT_S3_BUCKET"):
        missing.append("AMZN_BRAKET_OUT_S3_BUCKET")
    return f"devices by ARN need {', '.join(missing)}" if missing else None


class CloudDevices:
    """Braket's devices by ARN behind the ``aws_braket`` provider."""

    def __init__(self, provider_timeout_s: float, set_limit: Any) -> None:
        self.timeout_s = provider_timeout_s
        #: (device, shots) -> most executables per program set (0: none), from the provider's capabilities
        self.set_limit = set_limit
        self._session: Any = None
        self._token = threading.local()
        self._guard = threading.Lock()
        self._devices: dict[str, Any] = {}
        self._tasks: dict[str, Any] = {}
        self._listing: quantum.Listing[list[BackendInfo]] = quantum.Listing()

    # -- the account ------------------------------------------------------------
    def _aws(self) -> Any:
        missing = missing_account()
        if missing:
            raise ProviderUnavailable(f"provider 'aws_braket' is unavailable for this device: {missing}")
        with self._guard:
            if self._session is None:
                import boto3
                from botocore.config import Config
                from braket.aws import AwsSession

                # botocore retries throttling, 5xx and timeouts itself (standard mode: backoff
                # with jitter); CreateQuantumTask is safe to retry because of the client token.
                config = Config(connect_timeout=self.timeout_s, read_timeout=self.timeout_s, retries={"mode": "standard", "max_attempts": 3})
                session = AwsSession(boto_session=boto3.Session(region_name=os.environ.get("AWS_REGION")), config=config)
                session.braket_client.meta.events.register("before-parameter-build.braket.CreateQuantumTask", self._client_token)
                self._session = session
            return self._session

    def _client_token(self, params: dict[str, Any], **_: Any) -> None:
        token = getattr(self._token, "value", None)
        if token is not None:
            params["clientToken"] = token

    def device(self, arn: str) -> Any:
        if arn not in self._devices:
            from braket.aws import AwsDevice

            self._devices[arn] = AwsDevice(arn, aws_session=self._aws())
        return self._devices[arn]

    def properties(self, arn: str) -> Any:
        return self.device(arn).properties

    def backends(self) -> list[BackendInfo]:
        """The account's devices (listed at most once a minute); none without an account."""
        return [] if missing_account() else self._listing.get(self._list_devices)

    def _list_devices(self) -> list[BackendInfo]:
        from braket.aws import AwsDevice
        from braket.aws.queue_information import QueueType

        infos = []
        for device in AwsDevice.get_devices(aws_session=self._aws()):
            self._devices.setdefault(device.arn, device)
            queue = device.queue_depth().quantum_tasks if device.status == "ONLINE" else None
            # No coupling_map: circuits go to Braket on virtual qubits (``qubit[n] q``) that its
            # compiler places and routes on the device, so its connectivity graph (physical
            # labels, 1-based on some devices) does not constrain the HAL's qubit indices.
            infos.append(BackendInfo(
                name=device.arn, num_qubits=qubits_of(device.properties), status=device.status.lower(),
                queue_depth=int(queue.get(QueueType.NORMAL, 0)) if queue else None, simulator=device.type.value == "SIMULATOR",
                basis_gates=basis_of(device.properties),
            ))
        return infos

    # -- what a job costs, and whether it fits ---------------------------------------
    def tasks_of(self, job: JobSpec) -> tuple[int, int]:
        """(executions, tasks) of a job on its device, when it is sent with others: its
        program-set entries, or one task per execution without program sets."""
        sweep = sweeps.of(job.payload)
        settings = settings_per_point(sweep)
        limit = self.set_limit(job.backend, job.shots or 1)
        count = sweep.num_points * settings
        return count, len(pieces(sweep.num_points, settings, limit)) if limit else count

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        if reservation_of(job.payload.get("execution")):
            return pricing.in_reservation()
        count, tasks = self.tasks_of(job)
        return pricing.estimate(job.backend, job.shots or 0, count, tasks)

    def estimate_batch(self, jobs: list[JobSpec]) -> dict[str, CostEstimate]:
        """Shares of the program-set tasks these jobs would fill (at least one per ``limit`` executables)."""
        limit = self.set_limit(jobs[0].backend, jobs[0].shots or 1)
        if not limit:
            return {job.id: self.estimate_cost(job) for job in jobs}
        sizes = {job.id: self.tasks_of(job) for job in jobs}
        tasks = -(-sum(count for count, _ in sizes.values()) // limit)
        return pricing.shares(jobs[0].backend, jobs[0].shots or 0, sizes, tasks)

    def check_spread(self, job: JobSpec) -> None:
        """Refuse a job that would be spread over more tasks than its remote id can list."""
        count, tasks = self.tasks_of(job)
        limit = self.set_limit(job.backend, job.shots or 1)
        most = most_tasks(limit > 0)
        if tasks <= most:
            return
        how = f"program sets of at most {limit} executables" if limit else "one task per circuit (it takes no program sets)"
        raise InvalidRequest(
            f"this job runs {count} circuits (points x measurement settings), which {job.backend} runs as {how}: "
            f"{tasks} tasks, and aws_braket spreads one job over at most {most}: split the sweep into smaller jobs"
        )

    # -- submitting ----------------------------------------------------------------
    def submit(self, batch: BatchSpec, native: set[str]) -> Submission:
        limit = self.set_limit(batch.backend, batch.shots or 1)
        # a single plain circuit is a plain task: a program set of one saves nothing
        in_sets = limit > 0 and (len(batch.jobs) > 1 or self.tasks_of(batch.jobs[0])[0] > 1)
        convert = (lambda job: Parametric.of(job, native)) if in_sets else (lambda job: executions(job, native))
        converted, not_sent = quantum.QuantumProvider.prepare_each(batch.jobs, convert)
        if not converted:
            return Submission(not_sent=not_sent)
        if in_sets:
            remote, cost = self._submit_sets(batch, converted, limit)
            if reservation_of(batch.execution):
                cost = {job_id: pricing.in_reservation() for job_id in remote}
            return Submission(remote_ids=remote, not_sent=not_sent, cost=cost)
        return Submission(remote_ids=self._submit_tasks(batch, converted), not_sent=not_sent)

    def _create(self, spec: Any, shots: int, token: str, batch: BatchSpec) -> str:
        """One task of the batch under a client token (in the batch's reservation, if any); its ARN."""
        device, folder = self.device(batch.backend), (os.environ["AMZN_BRAKET_OUT_S3_BUCKET"], S3_PREFIX)
        self._token.value = token
        try:
            task = device.run(spec, folder, shots=shots, reservation_arn=reservation_of(batch.execution))
        finally:
            self._token.value = None
        self._tasks[task.id] = task
        return task.id

    def _submit_sets(self, batch: BatchSpec, jobs: dict[str, Parametric], limit: int) -> tuple[dict[str, str], dict[str, CostEstimate]]:
        """The batch's entries packed, in order, into program sets of at most ``limit``
        executables: one task each (almost always one for the batch)."""
        from braket.program_sets import ProgramSet

        sets: list[list[tuple[str, Any]]] = []
        room = 0
        sizes: dict[str, tuple[int, int]] = {}
        for job_id, job in jobs.items():
            job_pieces = job.pieces(limit)
            sizes[job_id] = (sum(size for _, size in job_pieces), len(job_pieces))
            for entry, size in job_pieces:
                if size > room:
                    sets.append([])
                    room = limit
                sets[-1].append((job_id, entry))
                room -= size
        found: dict[str, list[str]] = {job_id: [] for job_id in jobs}
        for k, chosen in enumerate(sets):
            program_set = ProgramSet([entry for _, entry in chosen], shots_per_executable=batch.shots or 1)
            arn = self._create(program_set, program_set.total_shots, f"hal-{batch.id}" if k == 0 else f"hal-{batch.id}-set{k}", batch)
            for b, (job_id, _) in enumerate(chosen):
                found[job_id].append(f"{arn}#{b}")
        return {job_id: remote_id(p) for job_id, p in found.items()}, pricing.shares(batch.backend, batch.shots or 0, sizes, len(sets))

    def _submit_tasks(self, batch: BatchSpec, jobs: dict[str, list[Any]]) -> dict[str, str]:
        """One task per circuit; the token keeps the job's place in the batch (and the
        circuit's place in the job, for a job of several)."""
        remote = {}
        for i, job in enumerate(batch.jobs):
            circuits = jobs.get(job.id)
            if circuits is None:
                continue
            tokens = [f"hal-{batch.id}-{i}"] if len(circuits) == 1 else [f"hal-{batch.id}-{i}-{k}" for k in range(len(circuits))]
            remote[job.id] = remote_id([self._create(c, batch.shots or 1, token, batch) for c, token in zip(circuits, tokens)])
        return remote

    # -- polling and cancelling ---------------------------------------------------------
    def _task(self, arn: str) -> Any:
        if arn not in self._tasks:
            from braket.aws import AwsQuantumTask

            self._tasks[arn] = AwsQuantumTask(arn, aws_session=self._aws())
        return self._tasks[arn]

    def poll(self, batch: BatchSpec, jobs: list[JobSpec], remote_ids: dict[str, str]) -> dict[str, Report]:
        """Each task's state once, then each job from the states of its tasks. A job one of
        whose tasks did not answer is left for the next poll; a task is forgotten once every
        job it carries is final."""
        carried = {job.id: parts(remote_ids[job.id]) for job in jobs}
        arns = list(dict.fromkeys(arn for job_parts in carried.values() for arn, _ in job_parts))
        states = poll_each(arns, lambda arn: {arn: self._task_state(arn)})

        def one(job: JobSpec) -> dict[str, Report]:
            job_states = [states[arn] for arn, _ in carried[job.id] if arn in states]
            return {job.id: self._job_state(job, carried[job.id], job_states, batch)} if len(job_states) == len(carried[job.id]) else {}

        reports = poll_each(jobs, one)  # reading one job's results may fail too: the others go on
        for arn in arns:
            if all(job_id in reports and _final(reports[job_id]) for job_id, p in carried.items() if arn in (a for a, _ in p)):
                self._tasks.pop(arn, None)
        return reports

    def _task_state(self, arn: str) -> Report | str:
        """A task's report, or ``COMPLETED`` (its results are read per job)."""
        task = self._task(arn)
        state = task.state()
        if state == _FAILED:
            reason = task.metadata(use_cached_value=False).get("failureReason") or "the task failed"
            return Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message=f"{SOURCE}: {reason}"))
        if state == _CANCELLED:
            return Cancelled()
        if state == _COMPLETED:
            return _COMPLETED
        message = f"Braket task {state.lower()}"
        return Running(message) if state in _RUNNING else Waiting(message)

    def _job_state(self, job: JobSpec, job_parts: list[tuple[str, int | None]], states: list[Report | str], batch: BatchSpec) -> Report:
        """A job is as far as its slowest task: failed or cancelled with any of them,
        waiting while any is, completed with all."""
        for kind in (Failed, Cancelled, Waiting, Running):
            for state in states:
                if isinstance(state, kind):
                    return state
        found: list[Reading] = []
        for arn, entry in job_parts:
            result = self._task(arn).result()
            found += readings(result.entries[entry]) if entry is not None else [reading(result)]
        arns = list(dict.fromkeys(arn for arn, _ in job_parts))
        report = completed(job, found, batch.shots, batch.backend, {"task": arns[0]} if len(arns) == 1 else {"tasks": arns}, SOURCE)
        return Finished(report.result, billed_share(job_parts, self._task, batch.backend)) if isinstance(report, Finished) else report

    def cancel(self, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """A task is cancelled when every job it carries is."""
        carried: dict[str, set[str]] = {}
        for job_id, remote in remote_ids.items():
            for arn, _ in parts(remote):
                carried.setdefault(arn, set()).add(job_id)
        for arn, jobs in carried.items():
            if jobs <= set(job_ids):
                self._task(arn).cancel()


def _final(report: Report) -> bool:
    return not isinstance(report, (Waiting, Running))


__all__ = ["CloudDevices", "missing_account"]
