"""``aws_braket``: Amazon Braket through amazon-braket-sdk.

Backends: the local simulators ``braket_sv`` and ``braket_dm`` (Braket's
``LocalSimulator``, free, no account) and devices by ARN (``AwsDevice``), which
need boto3's credentials, ``AWS_REGION`` and a results bucket
``AMZN_BRAKET_OUT_S3_BUCKET``; ``BRAKET_ENDPOINT`` points the SDK at another
Braket endpoint.

A circuit goes through a Braket ``Circuit`` (Braket's own OpenQASM reader takes
neither ``stdgates.inc`` nor ``cx``), its free parameters renamed ``p0``,
``p1``, ... (Qiskit's names may be anything, such as ``_φ_0_``); counts come
back in Qiskit's bit order. A batch is ONE task holding a program set where the
device takes program sets (one per-task fee instead of one per circuit), each
job one entry: a circuit, or a ``CircuitBinding`` of its sweep's points as
input sets and, to estimate, the Braket observable of each measurement setting
of :func:`..engine.sweeps.measurement_plan` (qubit-wise commuting terms share
one, so a job runs fewer executables than it has terms); a program set larger
than the device takes is split over several tasks. Elsewhere a job is one task
per circuit of :func:`..engine.sweeps.executions` (each point bound, each
setting rotated). Either way a job's readings come back in the order of those
executions (point-major, then setting) and :mod:`..engine.sweeps` makes them its
result, so a restarted server that re-attaches to the tasks needs nothing but
the job and its remote id.

Every ``CreateQuantumTask`` carries a ``clientToken`` made from the HAL batch id
(and the program set's or the circuit's place), so submitting the batch again
after a crash returns the same tasks instead of creating, and billing, new
ones. ``run_batch`` is not used: it retries failed tasks on its own and
creates its tasks from copied sessions that cannot carry the HAL's tokens.

A job's remote id lists its tasks (see :func:`_remote_id`); the job store keeps
400 characters of it, so a job is spread over at most 8 or 9 tasks
(:func:`_most_tasks`), and a larger one is a 400 at submission.

A job whose circuit does not convert is not sent and fails alone (conversion
depends on the circuit only: a batch sent again is the same programs under the
same token). A local program set that fails runs again job by job; a device's
task that fails fails the jobs it carries (Braket reports per task), and an
executable that fails in a program set fails its job.
"""

from __future__ import annotations

import functools
import operator
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..engine import sweeps
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
#: A job's remote id lists its tasks (:func:`_remote_id`) in the characters the job store
#: keeps: the first task's ARN with its ``#entry`` (under 95 in every Braket region), then
#: ``,`` and the id of each further task (a UUID), with its entry in a program set.
REMOTE_ID_CHARS, ARN_CHARS, TASK_ID_CHARS, ENTRY_CHARS = 400, 95, 37, 3
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
_FINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
#: what one executable gave: (counts in Braket's order, measured qubits), or why it failed
Reading = tuple[dict[str, int], list[int]] | str


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


def parameter_names(circuit: Any) -> dict[str, str]:
    """The Braket name of each free parameter of a Qiskit circuit: ``p0``, ``p1``, ... in
    the circuit's own order, because Qiskit's names (``θ[0]``, ``_φ_0_``) need not be
    OpenQASM identifiers."""
    return {parameter.name: f"p{k}" for k, parameter in enumerate(circuit.parameters)}


def to_braket(circuit: Any, native: set[str]) -> Any:
    """A Braket ``Circuit`` for a Qiskit circuit whose operations map to ``native``
    Braket gates, with explicit measurements of the measured qubits (none for a
    circuit without measurements) and free parameters named by
    :func:`parameter_names`. User gates that borrow a Qiskit gate's name are
    unrolled first: the mapping goes by name."""
    from braket.circuits import Circuit, Instruction, gates
    from qiskit import transpile

    names = parameter_names(circuit)
    basis = [name for name, gate in GATES.items() if gate.lower() in native]
    circuit = quantum.without_impostors(circuit, quantum.reserved_operations(), "Amazon Braket")
    lowered = transpile(circuit, basis_gates=basis + ["measure"], optimization_level=0)
    out = Circuit()
    for instruction in lowered.data:
        name = instruction.operation.name
        if name in ("barrier", "measure"):
            continue
        gate = getattr(gates, GATES[name])(*(_angle(p, names) for p in instruction.operation.params))
        out.add_instruction(Instruction(gate, [lowered.find_bit(q).index for q in instruction.qubits]))
    for qubit in sorted(quantum.final_measurements(lowered)):
        out.measure(qubit)
    return out


def _angle(value: Any, names: dict[str, str]) -> Any:
    """A gate's angle: a number, or a Braket expression of the renamed free parameters
    (transpiling turns a parameter into expressions such as ``theta + pi``)."""
    if not getattr(value, "parameters", None):
        return float(value)
    import sympy
    from braket.circuits import FreeParameterExpression

    expression = value.sympify()
    return FreeParameterExpression(expression.xreplace({s: sympy.Symbol(names[s.name]) for s in expression.free_symbols}))


def _observable(setting: sweeps.Setting) -> Any:
    """A measurement setting as a Braket observable, qubit by qubit (``X(0) @ Z(2)``):
    the setting names qubits by index, so no label order is involved."""
    from braket.circuits import observables

    return functools.reduce(operator.matmul, (getattr(observables, basis)(qubit) for qubit, basis in zip(setting.qubits, setting.bases)))


@functools.lru_cache(maxsize=16)
def _plan(sweep: sweeps.Sweep) -> list[sweeps.Setting]:
    """An estimation job's measurement settings, worked out once for its checks, cost,
    submission and results (many terms make :func:`..engine.sweeps.measurement_plan` slow)."""
    return sweeps.measurement_plan(sweep)


def _settings(sweep: sweeps.Sweep) -> int:
    """Circuits per point: one per measurement setting to estimate, else one."""
    return len(_plan(sweep)) if sweep.estimating else 1


def _pieces(points: int, settings: int, limit: int) -> list[tuple[range, range]]:
    """A job's executables (``points`` x ``settings``, point-major) cut into runs of at
    most ``limit`` that one ``CircuitBinding`` each can hold, in order: whole points,
    or, when one point alone has more settings than fit, slices of one point's."""
    if settings <= limit:
        step = limit // settings
        return [(range(start, min(start + step, points)), range(settings)) for start in range(0, points, step)]
    return [(range(point, point + 1), range(start, min(start + limit, settings))) for point in range(points) for start in range(0, settings, limit)]


@dataclass(frozen=True)
class _Parametric:
    """A job as one Braket circuit: free parameters renamed, measured when sampling,
    unmeasured when estimating (the observables add their own measurements)."""

    circuit: Any
    sweep: sweeps.Sweep
    #: the sweep's parameter -> its Braket name, for those the Braket circuit uses
    inputs: dict[str, str]
    #: the Braket observable of each measurement setting (estimation only)
    observables: list[Any]

    @classmethod
    def of(cls, job: JobSpec, native: set[str]) -> _Parametric:
        sweep = sweeps.of(job.payload)
        circuit = quantum.circuit_of(job)
        if sweep.estimating:
            circuit = sweeps.without_measurements(circuit)
        braket = to_braket(circuit, native)
        used = {str(p) for p in braket.parameters}
        names = parameter_names(circuit)
        # A parameter may live on in the global phase only; the sweep still needs its points.
        inputs = {name: braket_name for name, braket_name in names.items() if braket_name in used} or names
        observables = [_observable(s) for s in _plan(sweep)] if sweep.estimating else []
        return cls(braket, sweep, inputs, observables)

    def entry(self, points: range, settings: range) -> Any:
        """The program-set entry running these points in these settings: the circuit
        itself for a plain sampling job, else a ``CircuitBinding``."""
        from braket.program_sets import CircuitBinding

        sweep = self.sweep
        if not sweep.swept and not sweep.estimating:
            return self.circuit
        inputs = None
        if sweep.swept:
            columns = {name: sweep.names.index(name) for name in self.inputs}
            inputs = {self.inputs[name]: [sweep.points[p][column] for p in points] for name, column in columns.items()}
        observables = [self.observables[s] for s in settings] if sweep.estimating else None
        return CircuitBinding(self.circuit, input_sets=inputs, observables=observables)

    def pieces(self, limit: int) -> list[tuple[Any, int]]:
        """The job's program-set entries of at most ``limit`` executables, with their sizes."""
        return [(self.entry(p, s), len(p) * len(s)) for p, s in _pieces(self.sweep.num_points, max(len(self.observables), 1), limit)]


def _executions(job: JobSpec, native: set[str]) -> list[Any]:
    """A job as the Braket circuits of :func:`..engine.sweeps.executions`: one task each
    on a device without program sets."""
    return [to_braket(circuit, native) for circuit in sweeps.executions(quantum.circuit_of(job), sweeps.of(job.payload))]


def _most_tasks(in_sets: bool) -> int:
    """How many tasks one job may be spread over: as many as its remote id can list."""
    return 1 + (REMOTE_ID_CHARS - ARN_CHARS) // (TASK_ID_CHARS + (ENTRY_CHARS if in_sets else 0))


def _remote_id(parts: list[str]) -> str:
    """A job's remote id: its tasks in the order of its executions, comma-joined, each
    ``arn`` (a task of one circuit) or ``arn#b`` (entry ``b`` of a program-set task).
    After the first, a part leaves out the ARN up to the task's id (the same for all
    tasks of a device), so that :func:`_most_tasks` parts fit the job store."""
    prefix = parts[0].rpartition("/")[0] + "/"
    return ",".join([parts[0]] + [part.removeprefix(prefix) for part in parts[1:]])


def _parts(remote_id: str) -> list[tuple[str, int | None]]:
    """(task ARN, program-set entry or None) of each part of a :func:`_remote_id`."""
    first, *rest = remote_id.split(",")
    prefix = first.rpartition("/")[0] + "/"
    parts = [first] + [part if part.startswith("arn:") else prefix + part for part in rest]
    return [(arn, int(entry) if entry else None) for arn, _, entry in (part.partition("#") for part in parts)]


def _readings(entry: Any) -> list[Reading]:
    """What each executable of one program-set entry gave, in order (input set, then observable)."""
    from braket.task_result import ProgramSetExecutableFailure

    return [
        e.failureMetadata.failureReason if isinstance(e, ProgramSetExecutableFailure) else (dict(e.counts), list(e.measured_qubits))
        for e in entry.entries
    ]


def _readouts(circuit: Any, sweep: sweeps.Sweep) -> list[tuple[dict[int, int], int]]:
    """Where each execution's measured qubits go among Qiskit's classical bits (qubit ->
    clbit, and how many clbits), repeating from point to point: the circuit's own
    measurements when sampling, each measurement setting's register when estimating."""
    circuits = [sweeps.rotated(circuit, s) for s in _plan(sweep)] if sweep.estimating else [circuit]
    return [(quantum.final_measurements(c), c.num_clbits) for c in circuits]


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
        self._capabilities: dict[str, tuple[set[str], int | None, tuple[int, int] | None]] = {}
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

    def _native(self, backend: str) -> tuple[set[str], int | None, tuple[int, int] | None]:
        """The device's Braket gates, qubit count and, where it takes program sets, their
        limits (most executables, most shots in all); read once per device."""
        if backend not in self._capabilities:
            self._capabilities[backend] = self._read_capabilities(backend)
        return self._capabilities[backend]

    def _read_capabilities(self, backend: str) -> tuple[set[str], int | None, tuple[int, int] | None]:
        if backend in LOCAL:
            from braket.devices import LocalSimulator

            properties = LocalSimulator(backend).properties
        else:
            properties = self._device(backend).properties
        action = properties.action.get(OPENQASM) or properties.action.get(_action_type(OPENQASM))
        ops = {op.lower() if op not in ("U", "GPhase") else op for op in action.supportedOperations}
        program_sets = properties.action.get(PROGRAM_SET) or properties.action.get(_action_type(PROGRAM_SET))
        limits = (program_sets.maximumExecutables, program_sets.maximumTotalShots) if program_sets is not None else None
        return ops, _qubits_of(properties), limits

    def _set_limit(self, backend: str, shots: int) -> int:
        """How many executables one program set may hold at ``shots`` each on the device;
        0 where it takes no program sets (or not one executable of so many shots)."""
        limits = self._native(backend)[2]
        return min(limits[0], limits[1] // shots) if limits is not None else 0

    def _tasks_of(self, job: JobSpec) -> tuple[int, int]:
        """(executions, tasks) of a job on its device, when it is sent with others: its
        program-set entries, or one task per execution without program sets."""
        sweep = sweeps.of(job.payload)
        settings = _settings(sweep)
        limit = self._set_limit(job.backend, job.shots or 1)
        executions = sweep.num_points * settings
        return executions, len(_pieces(sweep.num_points, settings, limit)) if limit else executions

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
        sweep = sweeps.of(job.payload)
        if sweep.estimating and not _settings(sweep):
            raise InvalidRequest(
                "the observables hold identity terms only: each one's value is the sum of its coefficients, "
                "and aws_braket has nothing to measure (add a Pauli term, or compute it without a device)"
            )
        if job.backend not in LOCAL:
            self._check_spread(job)

    def _check_spread(self, job: JobSpec) -> None:
        """Refuse a job that would be spread over more tasks than its remote id can list."""
        executions, tasks = self._tasks_of(job)
        limit = self._set_limit(job.backend, job.shots or 1)
        most = _most_tasks(limit > 0)
        if tasks <= most:
            return
        how = f"program sets of at most {limit} executables" if limit else "one task per circuit (it takes no program sets)"
        raise InvalidRequest(
            f"this job runs {executions} circuits (points x measurement settings), which {job.backend} runs as {how}: "
            f"{tasks} tasks, and aws_braket spreads one job over at most {most}: split the sweep into smaller jobs"
        )

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

    def _cost(self, backend: str, shots: int, executions: int, tasks: int) -> float:
        """What ``executions`` circuits of ``shots`` cost in ``tasks`` tasks: the per-task part
        once per task, the rest (the shots) once per circuit."""
        one, fixed = self._prices(backend, shots)
        return tasks * fixed + executions * (one - fixed)

    def estimate_cost(self, job: JobSpec) -> CostEstimate:
        if job.backend in LOCAL:
            return CostEstimate(currency="USD", amount=0.0, basis="free: Braket LocalSimulator")
        executions, tasks = self._tasks_of(job)
        basis = PRICE_SOURCE if executions == 1 else f"{executions} circuits of {job.shots} shots in {tasks} task(s); {PRICE_SOURCE}"
        return CostEstimate(currency="USD", amount=round(self._cost(job.backend, job.shots or 0, executions, tasks), 6), basis=basis)

    def _set_costs(self, batch: BatchSpec, sizes: dict[str, tuple[int, int]], tasks: int) -> dict[str, CostEstimate]:
        """Each job's share of program-set tasks; ``sizes``: job id -> (executions, its entries)."""
        shots = batch.shots or 0
        alone = [self._cost(batch.backend, shots, executions, entries) for executions, entries in sizes.values()]
        total = self._cost(batch.backend, shots, sum(executions for executions, _ in sizes.values()), tasks)
        n = len(sizes)
        # batch_costs takes a cost alone per job and the fixed part the batch pays once instead of n times
        return quantum.batch_costs(list(sizes), sum(alone) / n, (sum(alone) - total) / (n - 1) if n > 1 else 0.0, "USD", PRICE_SOURCE)

    # -- running ------------------------------------------------------------------
    def submit(self, batch: BatchSpec) -> Submission:
        native = self._native(batch.backend)[0]
        shots = batch.shots or 1
        local = batch.backend in LOCAL
        limit = 0 if local else self._set_limit(batch.backend, shots)
        # a single plain circuit is a plain task: a program set of one saves nothing
        in_sets = local or (limit > 0 and (len(batch.jobs) > 1 or self._tasks_of(batch.jobs[0])[0] > 1))
        converted: dict[str, Any] = {}  # job id -> _Parametric, or the Braket circuits of its executions
        for job in batch.jobs:
            try:
                converted[job.id] = _Parametric.of(job, native) if in_sets else _executions(job, native)
            except Exception as exc:  # noqa: BLE001 - this job's own failure: it is not sent
                quantum.keep_reason(self._not_sent, job.id, quantum.failure_reason(exc))
        not_sent = {job.id: quantum.NOT_SENT for job in batch.jobs if job.id not in converted}
        if not converted:
            return Submission(remote_ids=not_sent)
        if local:
            entries = {job_id: job.entry(range(job.sweep.num_points), range(len(job.observables))) for job_id, job in converted.items()}
            future = self._local_pool.submit(self._run_local, batch.backend, entries, shots)
            future.add_done_callback(lambda _: self._notify(batch.id))
            with self._guard:
                self._local_runs[batch.id] = future
            return Submission(remote_ids={**not_sent, **{job_id: f"local:{batch.id}#{i}" for i, job_id in enumerate(converted)}})
        if in_sets:
            remote, cost = self._submit_sets(batch, converted, limit)
            return Submission(remote_ids={**not_sent, **remote}, cost=cost)
        return Submission(remote_ids={**not_sent, **self._submit_tasks(batch, converted)})

    def _create(self, spec: Any, shots: int, token: str, backend: str) -> str:
        """One task under a client token; its ARN."""
        device, folder = self._device(backend), (os.environ["AMZN_BRAKET_OUT_S3_BUCKET"], S3_PREFIX)
        self._token.value = token
        try:
            task = device.run(spec, folder, shots=shots)
        finally:
            self._token.value = None
        self._tasks[task.id] = task
        return task.id

    def _submit_sets(self, batch: BatchSpec, jobs: dict[str, _Parametric], limit: int) -> tuple[dict[str, str], dict[str, CostEstimate]]:
        """The batch's entries packed, in order, into program sets of at most ``limit``
        executables: one task each (almost always one for the batch)."""
        from braket.program_sets import ProgramSet

        sets: list[list[tuple[str, Any]]] = []
        room = 0
        sizes: dict[str, tuple[int, int]] = {}
        for job_id, job in jobs.items():
            pieces = job.pieces(limit)
            sizes[job_id] = (sum(size for _, size in pieces), len(pieces))
            for entry, size in pieces:
                if size > room:
                    sets.append([])
                    room = limit
                sets[-1].append((job_id, entry))
                room -= size
        parts: dict[str, list[str]] = {job_id: [] for job_id in jobs}
        for k, chosen in enumerate(sets):
            program_set = ProgramSet([entry for _, entry in chosen], shots_per_executable=batch.shots or 1)
            arn = self._create(program_set, program_set.total_shots, f"hal-{batch.id}" if k == 0 else f"hal-{batch.id}-set{k}", batch.backend)
            for b, (job_id, _) in enumerate(chosen):
                parts[job_id].append(f"{arn}#{b}")
        return {job_id: _remote_id(p) for job_id, p in parts.items()}, self._set_costs(batch, sizes, len(sets))

    def _submit_tasks(self, batch: BatchSpec, jobs: dict[str, list[Any]]) -> dict[str, str]:
        """One task per circuit; the token keeps the job's place in the batch (and the
        circuit's place in the job, for a job of several)."""
        remote = {}
        for i, job in enumerate(batch.jobs):
            circuits = jobs.get(job.id)
            if circuits is None:
                continue
            tokens = [f"hal-{batch.id}-{i}"] if len(circuits) == 1 else [f"hal-{batch.id}-{i}-{k}" for k in range(len(circuits))]
            remote[job.id] = _remote_id([self._create(c, batch.shots or 1, token, batch.backend) for c, token in zip(circuits, tokens)])
        return remote

    def _run_local(self, backend: str, entries: dict[str, Any], shots: int) -> dict[str, list[Reading] | str]:
        """job id -> its readings, or the reason that job failed."""
        from braket.devices import LocalSimulator
        from braket.program_sets import ProgramSet

        device = LocalSimulator(backend)
        try:
            program_set = ProgramSet(list(entries.values()), shots_per_executable=shots)
            result = device.run(program_set, shots=program_set.total_shots).result()
            return {job_id: _readings(entry) for job_id, entry in zip(entries, result)}
        except Exception:  # noqa: BLE001 - run them one by one: each job gets its own outcome
            if len(entries) == 1:
                raise
        outcomes: dict[str, list[Reading] | str] = {}
        for job_id, entry in entries.items():
            try:
                outcomes[job_id] = _run_alone(device, entry, shots)
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
            updates = self._poll_tasks(batch, jobs, remote_ids)
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

    def _local_outcome(self, job: JobSpec, outcome: list[Reading] | str, batch: BatchSpec) -> JobUpdate:
        if isinstance(outcome, str):
            return JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"Braket LocalSimulator: {outcome}"))
        return self._completed(job, outcome, batch, {"device": batch.backend}, "Braket LocalSimulator")

    def _completed(self, job: JobSpec, readings: list[Reading], batch: BatchSpec, metadata: dict[str, Any], source: str) -> JobUpdate:
        """The job's result from its readings in the order of its executions (point-major,
        then measurement setting), or FAILED when an executable failed."""
        circuit, sweep = quantum.circuit_of(job), sweeps.of(job.payload)
        failed = [r for r in readings if isinstance(r, str)]
        expected = sweep.num_points * _settings(sweep)
        if failed or len(readings) != expected:
            reason = failed[0] if failed else f"{len(readings)} results came back for {expected} circuits"
            return JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"{source}: {reason}"))
        readouts = _readouts(circuit, sweep)
        counts = [quantum.qiskit_counts(c, measured, *readouts[i % len(readouts)]) for i, (c, measured) in enumerate(readings)]
        if sweep.precision is not None:
            metadata = {**metadata, "stds": f"from {batch.shots} shots per circuit; the requested precision is not targeted"}
        return JobUpdate(JobStatus.COMPLETED, result=sweeps.result_from_executions(circuit, sweep, counts, batch.shots, batch.backend, metadata))

    def _task(self, arn: str) -> Any:
        if arn not in self._tasks:
            from braket.aws import AwsQuantumTask

            self._tasks[arn] = AwsQuantumTask(arn, aws_session=self._aws())
        return self._tasks[arn]

    def _poll_tasks(self, batch: BatchSpec, jobs: list[JobSpec], remote_ids: dict[str, str]) -> dict[str, JobUpdate]:
        """Each task's state once, then each job from the states of its tasks. A job one of
        whose tasks did not answer is left for the next poll; a task is forgotten once every
        job it carries is final."""
        parts = {job.id: _parts(remote_ids[job.id]) for job in jobs}
        arns = list(dict.fromkeys(arn for job_parts in parts.values() for arn, _ in job_parts))
        states = poll_each(arns, lambda arn: {arn: self._task_state(arn)})

        def one(job: JobSpec) -> dict[str, JobUpdate]:
            job_states = [states[arn] for arn, _ in parts[job.id] if arn in states]
            return {job.id: self._job_state(job, parts[job.id], job_states, batch)} if len(job_states) == len(parts[job.id]) else {}

        updates = poll_each(jobs, one)  # reading one job's results may fail too: the others go on
        for arn in arns:
            if all(job_id in updates and updates[job_id].status in _FINAL for job_id, p in parts.items() if arn in (a for a, _ in p)):
                self._tasks.pop(arn, None)
        return updates

    def _task_state(self, arn: str) -> JobUpdate:
        task = self._task(arn)
        state = task.state()
        status = _STATES.get(state, JobStatus.SUBMITTED)
        if status == JobStatus.FAILED:
            reason = task.metadata(use_cached_value=False).get("failureReason") or "the task failed"
            return JobUpdate(JobStatus.FAILED, error=ErrorInfo(type="ProviderError", message=f"Amazon Braket: {reason}"))
        return JobUpdate(status, message=None if status in _FINAL else f"Braket task {state.lower()}")

    def _job_state(self, job: JobSpec, parts: list[tuple[str, int | None]], states: list[JobUpdate], batch: BatchSpec) -> JobUpdate:
        """A job is as far as its slowest task: failed or cancelled with any of them,
        queued while any is, completed with all."""
        for status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUBMITTED, JobStatus.RUNNING):
            for state in states:
                if state.status == status:
                    return state
        readings: list[Reading] = []
        for arn, entry in parts:
            result = self._task(arn).result()
            readings += _readings(result.entries[entry]) if entry is not None else [(dict(result.measurement_counts), list(result.measured_qubits))]
        arns = list(dict.fromkeys(arn for arn, _ in parts))
        return self._completed(job, readings, batch, {"task": arns[0]} if len(arns) == 1 else {"tasks": arns}, "Amazon Braket")

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
                for arn, _ in _parts(remote):
                    carried.setdefault(arn, set()).add(job_id)
        for arn, jobs in carried.items():
            if jobs <= set(job_ids):
                self._task(arn).cancel()

    def close(self) -> None:
        self._local_pool.shutdown(wait=False, cancel_futures=True)


def _run_alone(device: Any, entry: Any, shots: int) -> list[Reading]:
    """One job's entry run by itself: a circuit as a plain run, a binding as a program set of one."""
    from braket.program_sets import CircuitBinding, ProgramSet

    if isinstance(entry, CircuitBinding):
        program_set = ProgramSet([entry], shots_per_executable=shots)
        return _readings(device.run(program_set, shots=program_set.total_shots).result().entries[0])
    result = device.run(entry, shots=shots).result()
    return [(dict(result.measurement_counts), list(result.measured_qubits))]


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


__all__ = ["AwsBraketProvider", "parameter_names", "to_braket"]
