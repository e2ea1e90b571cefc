"""``aws_braket``: Amazon Braket through amazon-braket-sdk.

Backends: the local simulators ``braket_sv`` and ``braket_dm`` (Braket's
``LocalSimulator``, free, no account) and devices by ARN (``AwsDevice``), which
need boto3's credentials, ``AWS_REGION`` and a results bucket
``AMZN_BRAKET_OUT_S3_BUCKET``; ``BRAKET_ENDPOINT`` points the SDK at another
Braket endpoint.

A circuit goes through a Braket ``Circuit`` (Braket's own OpenQASM reader takes
neither ``stdgates.inc`` nor ``cx``); counts come back in Qiskit's bit order.
A batch is ONE task holding a program set where the device takes program sets
(one per-task fee instead of one per circuit), else one task per circuit. Every
``CreateQuantumTask`` carries a ``clientToken`` made from the HAL batch id (and
the circuit's index), so submitting the batch again after a crash returns the
same tasks instead of creating, and billing, new ones. ``run_batch`` is not
used: it retries failed tasks on its own and creates its tasks from copied
sessions that cannot carry the HAL's tokens.

A job whose circuit does not convert is not sent and fails alone (conversion
depends on the circuit only: a batch sent again is the same programs under the
same token). A local program set that fails runs again circuit by circuit; a
device's task that fails fails the jobs it carries (Braket reports per task).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..engine.errors import InvalidRequest, ProviderUnavailable
from ..engine.retry import classify
from ..engine.models import BackendInfo, CostEstimate, ErrorInfo, JobStatus
from . import quantum
from ..engine.contract import Availability, BatchSpec, JobSpec, JobUpdate, Provider, Submission, poll_each

LOCAL = {"braket_sv": 26, "braket_dm": 13}
PROGRAM_SET = "braket.ir.openqasm.program_set"
OPENQASM = "braket.ir.openqasm.program"
S3_PREFIX = "hal-jupyter"
DEVICES_TTL_S = 60.0
# Qiskit gate -> Braket gate class; the device's operation names are these names in lower case.
GATES = {
    "id": "I", "h": "H", "x": "X", "y": "Y", "z": "Z", "s": "S", "sdg": "Si", "t": "T", "tdg": "Ti",
    "sx": "V", "sxdg": "Vi", "rx": "Rx", "ry": "Ry", "rz": "Rz", "p": "PhaseShift", "cx": "CNot",
    "cy": "CY", "cz": "CZ", "cp": "CPhaseShift", "swap": "Swap", "iswap": "ISwap", "ccx": "CCNot",
    "cswap": "CSwap", "rxx": "XX", "ryy": "YY", "rzz": "ZZ",
}
# Amazon Braket pricing, checked 2026-11 (https://aws.amazon.com/braket/pricing/):
# QPUs $0.30 per task plus a price per shot; on-demand simulators per minute,
# billed per millisecond with a 3-second minimum per task.
TASK_FEE = 0.30
PER_SHOT = {"ionq/forte": 0.08, "ionq/aria": 0.03, "iqm/garnet": 0.00145, "rigetti/ankaa": 0.0009, "quera/aquila": 0.01}
SIMULATOR_PER_MIN = {"amazon/sv1": 0.075, "amazon/dm1": 0.075, "amazon/tn1": 0.275}
PRICE_SOURCE = "Amazon Braket pricing (aws.amazon.com/braket/pricing, 2026-11)"
_STATES = {
    "CREATED": JobStatus.SUBMITTED, "QUEUED": JobStatus.SUBMITTED, "RUNNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.COMPLETED, "FAILED": JobStatus.FAILED, "CANCELLING": JobStatus.RUNNING,
    "CANCELLED": JobStatus.CANCELLED,
}


def _has_account() -> str | None:
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


def to_braket(circuit: Any, native: set[str]) -> Any:
    """A Braket ``Circuit`` for a Qiskit circuit whose operations map to ``native``
    Braket gates, with explicit measurements of the measured qubits. User gates
    that borrow a Qiskit gate's name are unrolled first: the mapping goes by name."""
    from braket.circuits import Circuit, Instruction, gates
    from qiskit import transpile

    basis = [name for name, gate in GATES.items() if gate.lower() in native]
    circuit = quantum.without_impostors(circuit, quantum.reserved_operations(), "Amazon Braket")
    lowered = transpile(circuit, basis_gates=basis + ["measure"], optimization_level=0)
    out = Circuit()
    for instruction in lowered.data:
        name = instruction.operation.name
        if name in ("barrier", "measure"):
            continue
        gate = getattr(gates, GATES[name])(*(float(p) for p in instruction.operation.params))
        out.add_instruction(Instruction(gate, [lowered.find_bit(q).index for q in instruction.qubits]))
    for qubit in sorted(quantum.final_measurements(lowered)):
        out.measure(qubit)
    return out


class AwsBraketProvider(Provider):
    name = "aws_braket"
    kind = "quantum"
    description = "Amazon Braket (amazon-braket-sdk): local simulators, devices by ARN; one program-set task per batch"
    max_concurrency = 4
    max_batch_size = 100
    # Creates carry a client token made from the batch id: submitting again returns the same tasks.
    resubmit_safe = True
    remote_survives_restart = True
    poll_interval = (0.5, 30.0)
    inline_validation = False

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._session: Any = None
        self._token = threading.local()
        self._devices: dict[str, Any] = {}
        self._capabilities: dict[str, tuple[set[str], int | None, bool]] = {}
        self._listing: tuple[float, list[BackendInfo]] | None = None
        self._local_runs: dict[str, Future[Any]] = {}
        self._tasks: dict[str, Any] = {}
        self._not_sent: dict[str, str] = {}
        self._guard = threading.Lock()
        # One local run at a time: above 10 qubits (5 on braket_dm) Braket runs numba-parallel code,
        # and numba's workqueue layer aborts the process when two threads enter it at once.
        self._local_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-braket-local")

    def availability(self) -> Availability:
        try:
            import braket.devices  # noqa: F401
        except ImportError:
            return Availability(False, "amazon-braket-sdk is not installed: pip install 'hal-jupyter[aws]'")
        missing = _has_account()
        return Availability(True, f"local simulators only; {missing}" if missing else None)

    # -- the account ------------------------------------------------------------
    def _aws(self) -> Any:
        missing = _has_account()
        if missing:
            raise ProviderUnavailable(f"provider 'aws_braket' is unavailable for this device: {missing}")
        with self._guard:
            if self._session is None:
                import boto3
                from botocore.config import Config
                from braket.aws import AwsSession

                # botocore retries throttling, 5xx and timeouts itself (standard mode: backoff
                # with jitter); CreateQuantumTask is safe to retry because of the client token.
                timeout = self.settings.provider_timeout_s
                config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "max_attempts": 3})
                session = AwsSession(boto_session=boto3.Session(region_name=os.environ.get("AWS_REGION")), config=config)
                session.braket_client.meta.events.register("before-parameter-build.braket.CreateQuantumTask", self._client_token)
                self._session = session
            return self._session

    def _client_token(self, params: dict[str, Any], **_: Any) -> None:
        token = getattr(self._token, "value", None)
        if token is not None:
            params["clientToken"] = token

    def _device(self, arn: str) -> Any:
        if arn not in self._devices:
            from braket.aws import AwsDevice

            self._devices[arn] = AwsDevice(arn, aws_session=self._aws())
        return self._devices[arn]

    def backends(self) -> list[BackendInfo]:
        infos = [BackendInfo(name=name, num_qubits=qubits, status="online", queue_depth=0, simulator=True) for name, qubits in LOCAL.items()]
        if _has_account():
            return infos
        if self._listing is None or time.monotonic() - self._listing[0] > DEVICES_TTL_S:
            from braket.aws import AwsDevice

            remote = []
            for device in AwsDevice.get_devices(aws_session=self._aws()):
                self._devices.setdefault(device.arn, device)
                queue = device.queue_depth().quantum_tasks if device.status == "ONLINE" else None
                remote.append(
                    BackendInfo(
                        name=device.arn, num_qubits=_qubits(device), status=device.status.lower(),
                        queue_depth=int(queue.get(_normal(), 0)) if queue else None, simulator=device.type.value == "SIMULATOR",
                    )
                )
            self._listing = (time.monotonic(), remote)
        return infos + self._listing[1]

    def default_backend(self) -> str:
        return "braket_sv"

    def _native(self, backend: str) -> tuple[set[str], int | None, bool]:
        """The device's Braket gates, qubit count and whether it takes program sets (read once per device)."""
        if backend not in self._capabilities:
            self._capabilities[backend] = self._read_capabilities(backend)
        return self._capabilities[backend]

    def _read_capabilities(self, backend: str) -> tuple[set[str], int | None, bool]:
        if backend in LOCAL:
            from braket.devices import LocalSimulator

            properties = LocalSimulator(backend).properties
        else:
            properties = self._device(backend).properties
        action = properties.action.get(OPENQASM) or properties.action.get(_action_type(OPENQASM))
        ops = {op.lower() if op not in ("U", "GPhase") else op for op in action.supportedOperations}
        keys = {getattr(k, "value", k) for k in properties.action}
        return ops, _qubits_of(properties), PROGRAM_SET in keys

    def validate(self, job: JobSpec) -> None:
        if job.backend not in LOCAL and not job.backend.startswith("arn:aws:braket:"):
            raise InvalidRequest(f"aws_braket runs on {', '.join(LOCAL)} or a device ARN (arn:aws:braket:...), not {job.backend!r}")
        if job.payload.get("options"):
            raise InvalidRequest("aws_braket takes no options")
        try:
            native, qubits, _ = self._native(job.backend)
        except ProviderUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the service's answer, as a 400 (503 when it is flaky)
            if classify(exc) is not None:
                raise ProviderUnavailable(f"aws_braket is not answering (try again): {exc}") from None
            raise InvalidRequest(f"aws_braket: no device {job.backend!r}: {exc}") from None
        qiskit_native = {name for name, gate in GATES.items() if gate.lower() in native}
        quantum.check_circuit(job, job.backend, qubits, qiskit_native, reset=False, mid_circuit_measurement=False)

    # -- cost -------------------------------------------------------------------
    def _prices(self, backend: str, shots: int) -> tuple[float, float]:
        """(cost of one circuit sent alone, the per-task part a batch pays once)."""
        if backend in LOCAL:
            return 0.0, 0.0
        for key, per_shot in PER_SHOT.items():
            if key in backend:
                return TASK_FEE + per_shot * shots, TASK_FEE
        for key, per_min in SIMULATOR_PER_MIN.items():
            if key in backend:
                minimum = per_min * 3 / 60
                return minimum, minimum
        return TASK_FEE, TASK_FEE

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        if job.backend in LOCAL:
            return CostEstimate(currency="USD", amount=0.0, basis="free: Braket LocalSimulator")
        alone, _ = self._prices(job.backend, job.shots or 0)
        return CostEstimate(currency="USD", amount=round(alone, 6), basis=PRICE_SOURCE)

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        from braket.program_sets import ProgramSet

        native, _, program_sets = self._native(batch.backend)
        programs = {}  # the Braket circuit of each job that converts, in batch order
        for job in batch.jobs:
            try:
                programs[job.id] = to_braket(quantum.circuit_of(job), native)
            except Exception as exc:  # noqa: BLE001 - this job's own failure: it is not sent
                quantum.keep_reason(self._not_sent, job.id, quantum.failure_reason(exc))
        not_sent = {job.id: quantum.NOT_SENT for job in batch.jobs if job.id not in programs}
        shots = batch.shots or 1
        if not programs:
            return Submission(remote_ids=not_sent)
        if batch.backend in LOCAL:
            future = self._local_pool.submit(self._run_local, batch.backend, programs, shots)
            future.add_done_callback(lambda _: self._notify(batch.id))
            with self._guard:
                self._local_runs[batch.id] = future
            return Submission(remote_ids={**not_sent, **{job_id: f"local:{batch.id}#{i}" for i, job_id in enumerate(programs)}})
        device, folder = self._device(batch.backend), (os.environ["AMZN_BRAKET_OUT_S3_BUCKET"], S3_PREFIX)
        alone, fixed = self._prices(batch.backend, shots)
        if program_sets and len(programs) > 1:
            self._token.value = f"hal-{batch.id}"
            try:
                task = device.run(ProgramSet(list(programs.values()), shots_per_executable=shots), folder, shots=shots * len(programs))
            finally:
                self._token.value = None
            self._tasks[task.id] = task
            remote = {job_id: f"{task.id}#{i}" for i, job_id in enumerate(programs)}
            cost = quantum.batch_costs(list(remote), alone, fixed, "USD", PRICE_SOURCE)
            return Submission(remote_ids={**not_sent, **remote}, cost=cost)
        remote = dict(not_sent)
        for i, job in enumerate(batch.jobs):  # the token keeps the job's place in the batch
            if job.id not in programs:
                continue
            self._token.value = f"hal-{batch.id}-{i}"
            try:
                task = device.run(programs[job.id], folder, shots=shots)
            finally:
                self._token.value = None
            self._tasks[task.id] = task
            remote[job.id] = task.id
        return Submission(remote_ids=remote)

    def _run_local(self, backend: str, programs: dict[str, Any], shots: int) -> dict[str, tuple[dict[str, int], list[int]] | str]:
        """job id -> (counts, measured qubits), or the reason that job's circuit failed."""
        from braket.devices import LocalSimulator
        from braket.program_sets import ProgramSet

        device = LocalSimulator(backend)
        try:
            result = device.run(ProgramSet(list(programs.values()), shots_per_executable=shots), shots=shots * len(programs)).result()
            return {job_id: (dict(entry.entries[0].counts), list(entry.entries[0].measured_qubits)) for job_id, entry in zip(programs, result)}
        except Exception:  # noqa: BLE001 - run them one by one: each job gets its own outcome
            if len(programs) == 1:
                raise
        outcomes: dict[str, tuple[dict[str, int], list[int]] | str] = {}
        for job_id, program in programs.items():
            try:
                alone = device.run(program, shots=shots).result()
                outcomes[job_id] = (dict(alone.measurement_counts), list(alone.measured_qubits))
            except Exception as exc:  # noqa: BLE001 - this job's own failure
                outcomes[job_id] = quantum.failure_reason(exc)
        return outcomes

    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        jobs = [job for job in batch.jobs if remote_ids.get(job.id) != quantum.NOT_SENT]
        if not jobs:
            updates: dict[str, JobUpdate] = {}
        elif batch.backend in LOCAL:
            updates = self._poll_local(batch, jobs)
        else:
            by_task: dict[str, list[JobSpec]] = {}
            for job in jobs:
                by_task.setdefault(remote_ids[job.id].partition("#")[0], []).append(job)
            updates = poll_each(by_task.items(), lambda task: self._poll_task(task[0], task[1], remote_ids, batch))
        for job in batch.jobs:
            if remote_ids.get(job.id) == quantum.NOT_SENT:
                updates[job.id] = quantum.not_sent(self._not_sent, job.id, self.name)
        return updates

    def _poll_local(self, batch: BatchSpec, jobs: list[JobSpec]) -> dict[str, JobUpdate]:
        with self._guard:
            future = self._local_runs.get(batch.id)
        if future is None:  # the run died with an earlier server process: free, so run it again
            self.submit(batch)
            return {job.id: JobUpdate(JobStatus.RUNNING, message="simulating again after a restart") for job in jobs}
        if not future.done():
            return {job.id: JobUpdate(JobStatus.RUNNING, message=f"LocalSimulator {batch.backend}") for job in jobs}
        with self._guard:
            self._local_runs.pop(batch.id, None)
        if future.exception() is not None:
            info = ErrorInfo(type="ProviderError", message=f"Braket LocalSimulator: {future.exception()}")
            return {job.id: JobUpdate(JobStatus.FAILED, error=info) for job in jobs}
        outcomes = future.result()
        return {job.id: self._local_outcome(job, outcomes.get(job.id, "no result"), batch) for job in jobs}

    def _local_outcome(self, job: JobSpec, outcome: tuple[dict[str, int], list[int]] | str, batch: BatchSpec) -> JobUpdate:
        if isinstance(outcome, str):
            return JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"Braket LocalSimulator: {outcome}"))
        return self._completed(job, outcome[0], outcome[1], batch, {"device": batch.backend})

    def _completed(self, job: JobSpec, counts: dict[str, int], measured: list[int], batch: BatchSpec, metadata: dict[str, Any]) -> JobUpdate:
        circuit = quantum.circuit_of(job)
        qiskit_counts = quantum.qiskit_counts(counts, measured, quantum.final_measurements(circuit), circuit.num_clbits)
        return JobUpdate(JobStatus.COMPLETED, result={"counts": qiskit_counts, "shots": batch.shots, "backend": batch.backend, "metadata": metadata})

    def _task(self, arn: str) -> Any:
        if arn not in self._tasks:
            from braket.aws import AwsQuantumTask

            self._tasks[arn] = AwsQuantumTask(arn, aws_session=self._aws())
        return self._tasks[arn]

    def _poll_task(self, arn: str, jobs: list[JobSpec], remote_ids: dict[str, str], batch: BatchSpec) -> dict[str, JobUpdate]:
        task = self._task(arn)
        state = task.state()
        status = _STATES.get(state, JobStatus.SUBMITTED)
        if status == JobStatus.COMPLETED:
            result = task.result()
            self._tasks.pop(arn, None)
            updates = {}
            for job in jobs:
                index = remote_ids[job.id].partition("#")[2]
                entry = result.entries[int(index)].entries[0] if index else result
                counts = entry.counts if index else result.measurement_counts
                updates[job.id] = self._completed(job, dict(counts), list(entry.measured_qubits), batch, {"task": arn})
            return updates
        if status == JobStatus.FAILED:
            self._tasks.pop(arn, None)
            reason = task.metadata(use_cached_value=False).get("failureReason") or "the task failed"
            return {job.id: JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"Amazon Braket: {reason}")) for job in jobs}
        if status == JobStatus.CANCELLED:
            self._tasks.pop(arn, None)
            return {job.id: JobUpdate(JobStatus.CANCELLED) for job in jobs}
        return {job.id: JobUpdate(status, message=f"Braket task {state.lower()}") for job in jobs}

    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """A task is cancelled when every job it carries is."""
        if batch.backend in LOCAL:
            if {job_id for job_id, remote in remote_ids.items() if remote != quantum.NOT_SENT} <= set(job_ids):
                with self._guard:
                    future = self._local_runs.pop(batch.id, None)
                if future is not None:
                    future.cancel()
            return
        carried: dict[str, set[str]] = {}
        for job_id, remote in remote_ids.items():
            if remote != quantum.NOT_SENT:
                carried.setdefault(remote.partition("#")[0], set()).add(job_id)
        for arn, jobs in carried.items():
            if jobs <= set(job_ids):
                self._task(arn).cancel()

    def close(self) -> None:
        self._local_pool.shutdown(wait=False, cancel_futures=True)


def _qubits_of(properties: Any) -> int | None:
    paradigm = getattr(properties, "paradigm", None)
    return getattr(paradigm, "qubitCount", None)


def _qubits(device: Any) -> int | None:
    return _qubits_of(device.properties)


def _normal() -> Any:
    from braket.aws.queue_information import QueueType

    return QueueType.NORMAL


def _action_type(name: str) -> Any:
    from braket.device_schema import DeviceActionType

    return DeviceActionType(name)


__all__ = ["AwsBraketProvider", "to_braket"]
