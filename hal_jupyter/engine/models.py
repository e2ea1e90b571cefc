"""Request, record and result models of the public contract (docs/API.md).

These are the shapes that cross the HTTP boundary and the Python API. Storage
has its own table layout in :mod:`hal_jupyter.engine.store`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from .errors import ErrorType
from .lifecycle import JobStatus
from .limits import MAX_LIST_IDS  # noqa: F401 - the engine and the client import it from here


Kind = Literal["quantum", "classical"]
Priority = Literal["high", "standard"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/@\-]+$")]


class _Request(BaseModel):
    # strict: JSON types as written ("timeout_s": true or "2" is a 400, not 1.0 or 2.0)
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, strict=True)

    provider: Identifier
    priority: Priority = "standard"
    name: Name | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)


Arn = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=r"^arn:[A-Za-z0-9_.:/+=,@\-]+$")]
ExecutionMode = Literal["batch", "session", "job"]


class Execution(BaseModel):
    """v1.2: how a quantum job runs at its provider (docs/API.md, "Execution modes"). All
    optional: ``mode`` batch (IBM's default) / session / job; ``session`` names a session
    (its jobs share one provider session; it implies ``mode`` session); ``reservation_arn``
    a Braket reservation the job's tasks run in."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mode: ExecutionMode | None = None
    session: Identifier | None = None
    reservation_arn: Arn | None = None

    @model_validator(mode="after")
    def _session_named(self) -> Execution:
        if self.session is not None and self.mode is None:
            self.mode = "session"
        if self.mode == "session" and self.session is None:
            raise ValueError("execution mode 'session' needs a 'session' name (the jobs that share it give the same name)")
        if self.session is not None and self.mode != "session":
            raise ValueError(f"a 'session' name needs execution mode 'session', not {self.mode!r}")
        return self

    def stored(self) -> dict[str, Any]:
        """What the job's payload and record keep (the fields given, mode filled in)."""
        return self.model_dump(exclude_none=True)


class QuantumJobRequest(_Request):
    """One quantum job: an OpenQASM 2 or 3 circuit and its shot count."""

    provider: Identifier = "local_simulator"
    backend: Identifier | None = None
    circuit: str = Field(min_length=1)
    shots: StrictInt = 1024
    options: dict[str, Any] = Field(default_factory=dict)
    #: v1.1 sweeps and estimation (checked against the circuit by :mod:`.sweeps`):
    #: name -> N values; observables as dense-label objects or sparse terms; target standard error
    parameters: dict[str, Any] | None = None
    observables: list[Any] | None = None
    precision: Any = None
    #: v1.2: the result also carries one bitstring per shot (``memory``); a provider without per-shot data refuses it
    memory: bool = False
    #: v1.2: execution mode, session name, Braket reservation (checked against the provider at submission)
    execution: Execution | None = None


class ClassicalJobRequest(_Request):
    """One classical job: Python source and its entrypoint, or a deployed function."""

    provider: Identifier = "local_python"
    code: str | None = Field(default=None, min_length=1)
    entrypoint: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "main"
    args: dict[str, Any] = Field(default_factory=dict)
    function: Identifier | None = None
    timeout_s: float = Field(default=60, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_of_code_or_function(self) -> ClassicalJobRequest:
        if self.function is None and self.code is None:
            raise ValueError("give either 'code' (Python source) or 'function' (a deployed function's name)")
        if self.function is not None and self.code is not None:
            raise ValueError("give 'code' or 'function', not both")
        return self


class ErrorInfo(BaseModel):
    """Why a job failed (or is UNKNOWN): its type (one of a closed set) and a message for people."""

    type: ErrorType
    message: str
    #: for ``UserCodeError``: the class of the exception the job's code raised (``"ValueError"``)
    exception: str | None = None


class CostEstimate(BaseModel):
    currency: str = "USD"
    amount: float
    basis: str


class JobRecord(BaseModel):
    """The job record of docs/API.md: what every endpoint returns for a job."""

    id: str
    kind: Kind
    provider: str
    backend: str | None
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    priority: Priority = "standard"
    status: JobStatus
    status_message: str | None = None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    batch_id: str | None = None
    remote_id: str | None = None
    shots: int | None = None
    cost_estimate: CostEstimate | None = None
    error: ErrorInfo | None = None
    #: v1.1: the user of the Jupyter server that accepted it (null: an embedded engine)
    owner: str | None = None
    #: v1.2: true from a cancel request until the job is terminal (the engine driving it carries it out)
    cancel_requested: bool = False
    #: v1.2: what the job cost, as the provider reports it (else the estimate; ``basis`` says which)
    cost_actual: CostEstimate | None = None
    #: v1.2: the execution the request asked for (mode, session, reservation_arn); null: the provider's default
    execution: dict[str, Any] | None = None


Counts = dict[str, int]
Estimates = list[float] | list[list[float]]
Memory = list[str] | list[list[str]]
ResultType = Literal["sampling", "estimation", "classical"]


class _QuantumFields(BaseModel):
    id: str
    shots: int | None = None
    backend: str | None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SamplingResult(_QuantumFields):
    """A sampling job's counts: one dict, or (a sweep, v1.1) one per point of ``parameters``."""

    type: Literal["sampling"] = "sampling"
    counts: Counts | list[Counts]
    #: a sweep's values, name -> one per point (absent without a sweep)
    parameters: dict[str, list[float]] | None = None
    #: v1.2, with ``"memory": true``: one bitstring per shot (Qiskit's bit order); for a sweep one list per point
    memory: Memory | None = None


class EstimationResult(_QuantumFields):
    """An estimation job's ``evs`` and ``stds``, shaped [observables] or, for a sweep, [observables][points]."""

    type: Literal["estimation"] = "estimation"
    evs: Estimates
    stds: Estimates
    parameters: dict[str, list[float]] | None = None


class ClassicalResult(BaseModel):
    """A classical job's return value (JSON), its output, and how long its code ran."""

    type: Literal["classical"] = "classical"
    id: str
    value: Any = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float


#: v1.2: every result, told apart by ``type`` (what generated clients parse into one of three models)
Result = Annotated[SamplingResult | EstimationResult | ClassicalResult, Field(discriminator="type")]


class QuantumResult(_QuantumFields):
    """Either quantum result in one lenient model: what the Python client has always
    returned for a quantum job (and what a server before v1.2, which sends no ``type``, gives)."""

    type: Literal["sampling", "estimation"] | None = None
    counts: Counts | list[Counts] | None = None
    parameters: dict[str, list[float]] | None = None
    evs: Estimates | None = None
    stds: Estimates | None = None
    memory: Memory | None = None


def result_type(kind: str, stored: dict[str, Any]) -> ResultType:
    """What a stored result is: derived from the job's kind and the presence of ``evs``,
    so results stored before v1.2 (which carry no ``type``) are typed alike."""
    if kind == "classical":
        return "classical"
    return "estimation" if "evs" in stored else "sampling"


def served_result(job_id: str, kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored result as every reader gets it (REST, ``include=result``, the embedded engine)."""
    return {"type": result_type(kind, stored), "id": job_id, **{k: v for k, v in stored.items() if k != "type"}}


class ProviderInfo(BaseModel):
    name: str
    kind: Kind
    available: bool
    reason: str | None = None
    description: str = ""
    #: ``degraded``: available, but its recent calls keep failing (they are retried)
    status: Literal["available", "degraded", "unavailable"] = "available"


class BackendInfo(BaseModel):
    name: str
    num_qubits: int | None = None
    status: str = "online"
    queue_depth: int | None = None
    simulator: bool = False
    #: the provider's average queue time, where it publishes one instead of a depth (Azure Quantum)
    queue_time_s: float | None = None
    #: v1.2: the operations the backend takes, as Qiskit names (``["ecr", "id", "rz", "sx", "x", "measure",
    #: "reset", "delay"]``), where the provider knows them; null: unknown (the HAL transpiles for the device)
    basis_gates: list[str] | None = None
    #: v1.2: the directed qubit pairs ``[control, target]`` its two-qubit operations act on, where the
    #: provider knows them; null: every pair, or unknown (the provider or its compiler routes)
    coupling_map: list[list[int]] | None = None


class JobList(BaseModel):
    jobs: list[JobRecord]
    next_cursor: str | None = None


class ErrorBody(BaseModel):
    type: ErrorType
    message: str
    details: list[dict[str, Any]] | None = None
