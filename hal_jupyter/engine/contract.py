"""The provider contract: what the engine asks of every backend family.

A provider is a small, declared class (name, kind, description) registered in
the ``hal_jupyter.providers`` entry-point group. Its methods are blocking and
are always called from the engine's worker threads, never on the event loop.
Import SDKs inside methods, so listing providers stays cheap.

Providers report what they observe, never a status: a submit answers which
jobs the provider accepted (their remote ids) and which it could not send
(and why); a poll answers, per job, one report (:class:`Waiting`,
:class:`Running`, :class:`Finished`, :class:`Failed` or :class:`Cancelled`).
The engine turns each into a transition of :mod:`.lifecycle`, or ignores it
when it does not fit the job's status.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from . import limits
from .errors import ErrorType
from .models import BackendInfo, CostEstimate, ErrorInfo
from .reports import Cancelled, Failed, Finished, Report, Running, Waiting
from .qasm import CircuitSummary

Notifier = Callable[[str], None]
T = TypeVar("T")


@dataclass
class Settings:
    """Server-wide limits a provider enforces (the ``HalExtension`` traits)."""

    max_shots: int = limits.MAX_SHOTS
    max_circuit_bytes: int = limits.MAX_CIRCUIT_BYTES
    max_local_qubits: int = limits.MAX_LOCAL_QUBITS
    local_python_timeout_s: float = limits.LOCAL_PYTHON_TIMEOUT_S
    local_python_memory_mb: int = limits.LOCAL_PYTHON_MEMORY_MB
    #: how long a provider call may wait for an answer (where the SDK lets us set it)
    provider_timeout_s: float = limits.PROVIDER_TIMEOUT_S
    #: transient faults: how many submission attempts, and the backoff between them
    submit_attempts: int = limits.SUBMIT_ATTEMPTS
    retry_base_s: float = limits.RETRY_BASE_S
    retry_max_s: float = limits.RETRY_MAX_S
    #: failed status checks in a row after which a job is UNKNOWN (its provider lost)
    max_poll_failures: int = limits.MAX_POLL_FAILURES
    #: failed calls in a row after which a provider is listed as degraded
    degraded_after: int = limits.DEGRADED_AFTER
    #: where local work runs: "process" (the server's worker processes) or "dask"
    local_executor: str = limits.LOCAL_EXECUTOR
    #: the Dask scheduler of "dask" (tcp://host:8786); empty: an embedded LocalCluster
    dask_address: str = ""

    def __post_init__(self) -> None:
        if self.local_executor not in limits.LOCAL_EXECUTORS:
            choices = " or ".join(repr(k) for k in limits.LOCAL_EXECUTORS)
            raise ValueError(f"local_executor must be {choices}, not {self.local_executor!r}")


@dataclass
class JobSpec:
    """One job as a provider sees it. ``payload`` is the stored request body
    (``circuit``/``options`` or ``code``/``entrypoint``/``args``/``function``/``timeout_s``);
    ``summary`` (quantum jobs, at submission) has the circuit's size; ``parsed`` is
    the ``QuantumCircuit`` when the engine already built one and still has it."""

    id: str
    kind: Literal["quantum", "classical"]
    backend: str
    shots: int | None
    payload: dict[str, Any]
    parsed: Any = None
    summary: CircuitSummary | None = None


@dataclass
class BatchSpec:
    """Jobs that go to the provider as one call."""

    id: str
    provider: str
    backend: str
    shots: int | None
    options: dict[str, Any]
    jobs: list[JobSpec]
    #: v1.2: the execution its jobs asked for (they share one: it is part of their group):
    #: ``mode``, ``session`` (a name), ``reservation_arn``, and ``session_id``: the provider's
    #: id of the session of that name, when one is open already (from the store: it outlives
    #: the server); None: the provider's default
    execution: dict[str, Any] | None = None
    #: the user whose jobs these are (a session is one owner's)
    owner: str | None = None


def code_error(raised: str, message: str) -> ErrorInfo:
    """The error of a classical job whose run reported ``raised`` (the user-code runner's
    ``type``: an exception class of the job's code, or the runner's own ``Timeout`` or
    ``ProcessExit``): a ``UserCodeError`` naming the exception, or the runner's type."""
    if raised in (ErrorType.TIMEOUT.value, ErrorType.PROCESS_EXIT.value):
        return ErrorInfo(type=ErrorType(raised), message=message)
    return ErrorInfo(type=ErrorType.USER_CODE_ERROR, message=f"{raised}: {message}" if message else raised, exception=raised)


@dataclass
class Availability:
    available: bool
    reason: str | None = None


@dataclass
class Submission:
    """The provider's answer to a submit: the remote id of each job it accepted (often
    all the same), and why each job it could not send was not sent (its own circuit,
    say: the rest of the batch goes on). Empty, from :meth:`Provider.find_remote`:
    the provider surely never took the batch."""

    remote_ids: dict[str, str] = field(default_factory=dict)
    not_sent: dict[str, str] = field(default_factory=dict)
    cost: dict[str, CostEstimate] = field(default_factory=dict)
    #: v1.2: the provider's id of the session the batch ran in, when it opened one for a
    #: session name (or ran in the one given): the engine keeps it for the name's next jobs
    session_id: str | None = None

    @property
    def empty(self) -> bool:
        return not self.remote_ids and not self.not_sent


class Provider(ABC):
    """A backend family: submits batches, reports their state, cancels them."""

    name: ClassVar[str]
    kind: ClassVar[Literal["quantum", "classical"]]
    description: ClassVar[str] = ""
    #: Blocking calls at once to this provider (submit, poll, cancel).
    max_concurrency: ClassVar[int] = 4
    #: Most jobs one provider call can carry.
    max_batch_size: ClassVar[int] = 1000
    #: True when submitting a batch again after a crash cannot run or bill it
    #: twice: a free local run whose first attempt died with the server, or a
    #: create call with an idempotency token. Otherwise the engine asks
    #: :meth:`find_remote`, and marks the jobs UNKNOWN if that cannot tell.
    resubmit_safe: ClassVar[bool] = False
    #: True when remote work outlives the server (a cloud job): after a restart
    #: the engine re-attaches to it by remote id instead of running it again.
    remote_survives_restart: ClassVar[bool] = True
    #: False when :meth:`validate` or :meth:`default_backend` may call the
    #: provider's service (or build a transpiler): the engine then runs them in a
    #: worker thread instead of on the event loop.
    inline_validation: ClassVar[bool] = True
    #: First and longest wait between two polls of an unfinished batch.
    poll_interval: ClassVar[tuple[float, float]] = (1.0, 30.0)
    #: True when its sampling results can carry one bitstring per shot (a request's
    #: ``"memory": true``, put in the job's payload); others have such jobs refused at
    #: submission. A provider with per-shot data on some backends only refuses the
    #: others in :meth:`validate`.
    per_shot_results: ClassVar[bool] = False
    #: v1.2: the request's ``execution.mode`` values it honours (others are refused at
    #: submission); a provider that opens sessions for a ``session`` name lists "session"
    execution_modes: ClassVar[frozenset[str]] = frozenset()
    #: v1.2: True when it runs jobs in a reservation (``execution.reservation_arn``)
    reservations: ClassVar[bool] = False

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._notify: Notifier = lambda _batch_id: None

    def resubmit_safe_on(self, backend: str) -> bool:
        """:attr:`resubmit_safe` for one backend (a provider with free local and paid
        cloud backends answers per backend)."""
        return bool(self.resubmit_safe)

    def survives_restart_on(self, backend: str) -> bool:
        """:attr:`remote_survives_restart` for one backend."""
        return bool(self.remote_survives_restart)

    # -- what the registry shows -------------------------------------------
    def availability(self) -> Availability:
        return Availability(True)

    @abstractmethod
    def backends(self) -> list[BackendInfo]: ...

    def default_backend(self) -> str:
        return self.backends()[0].name

    # -- the job path ------------------------------------------------------
    def validate(self, job: JobSpec) -> None:
        """Reject a job that cannot run here (raise ``InvalidRequest``); called at submission."""

    def estimate_cost(self, job: JobSpec) -> CostEstimate | None:
        """What the job costs sent alone (what a budget reserves at submission)."""
        return None

    def estimate_batch(self, jobs: list[JobSpec]) -> dict[str, CostEstimate]:
        """Each job's share when these jobs go as one call (a dry run's price: the
        batching discount included). Default: each one's :meth:`estimate_cost`."""
        out = {}
        for job in jobs:
            cost = self.estimate_cost(job)
            if cost is not None:
                out[job.id] = cost
        return out

    @abstractmethod
    def submit(self, batch: BatchSpec) -> Submission:
        """Hand the batch to the backend as one call; return its remote id(s)."""

    @abstractmethod
    def poll(self, batch: BatchSpec, remote_ids: dict[str, str]) -> dict[str, Report]:
        """What the provider says of each sent job of the batch (jobs left out: nothing new)."""

    @abstractmethod
    def cancel(self, batch: BatchSpec, remote_ids: dict[str, str], job_ids: list[str]) -> None:
        """Cancel these jobs of the batch at the backend, as far as it allows."""

    def close_session(self, backend: str, session_id: str) -> None:
        """v1.2: close a session this provider opened (idle, or ``POST /hal/api/sessions/{name}/close``);
        jobs already in it run on. Any engine may call it, for a session another opened."""

    def find_remote(self, batch: BatchSpec) -> Submission | None:
        """After a crash during submit: what the backend accepted of the batch (as
        :meth:`submit` would have answered), an empty :class:`Submission` if it surely
        took nothing, ``None`` if that cannot be told."""
        return None

    # -- plumbing ----------------------------------------------------------
    def set_notifier(self, notify: Notifier) -> None:
        """The engine's callback: call it with a batch id (from any thread) when
        that batch changed, so the engine polls it at once instead of waiting."""
        self._notify = notify

    def warm_up(self) -> None:
        """Prepare for the first batch (start workers, import an SDK); called once at start."""

    def close(self) -> None:
        """Release threads, processes and clients (server shutdown)."""


def poll_each(items: Iterable[T], poll_one: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """Poll a batch's remote tasks one by one. A task whose status check fails is
    left for the next poll; only when every check failed does the poll fail (and
    the scheduler backs off), so one flaky answer does not hold up the rest."""
    updates: dict[str, Any] = {}
    first_error: Exception | None = None
    answered = False
    for item in items:
        try:
            updates.update(poll_one(item))
            answered = True
        except Exception as exc:  # noqa: BLE001 - retried at the next poll
            first_error = first_error or exc
    if first_error is not None and not answered:
        raise first_error
    return updates


__all__ = [
    "Availability", "BatchSpec", "Cancelled", "Failed", "Finished", "JobSpec", "Notifier", "Provider", "Report", "Running",
    "Settings", "Submission", "Waiting", "code_error", "poll_each",
]
