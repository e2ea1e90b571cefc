"""The submission pass: a request body becomes validated new jobs, in one trip.

:meth:`Intake.parse` checks the body's shape and parses every job request
with pydantic (all or none); :meth:`Intake.prepare` checks each against its
provider (backend, circuit, sweep, options, limits) and builds the new job:
its store row, its parsed circuit, and its batching group
(:meth:`.policy.GroupKey.of`). Nothing else of the engine takes part: the
engine stores what comes out, and the dispatcher queues it.

Validate, then read: no code reads a field of a job request before
:meth:`Intake.parse` has turned it into a model, so a value of the wrong JSON
type anywhere (``"provider": {}``, ``"shots": true``) is a 400 that names the
field (and the index of the job in a bulk request), never a ``TypeError``
further on. The shape checks live here, in the engine, so the embedded engine
of a kernel refuses what the HTTP server refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from . import errors, sweeps
from .boundary import provider_calls
from .clock import Clock
from .contract import JobSpec, Provider, Settings
from .ids import new_id
from .limits import MAX_JSON_DEPTH, TOO_DEEP
from .models import ClassicalJobRequest, Execution, QuantumJobRequest
from .policy import GroupKey
from .qasm import inspect_circuit
from .registry import Registry

#: most jobs one bulk request may hold
MAX_BULK = 5000
#: submissions with more circuit or code text than this are prepared off the event loop
INLINE_BYTES = 32_000

JobRequest = QuantumJobRequest | ClassicalJobRequest


@dataclass
class Parsed:
    """A request body's job requests, parsed; ``inline``: cheap enough to prepare on the event loop."""

    kind: str
    requests: list[JobRequest]
    bulk: bool
    inline: bool


@dataclass
class NewJobs:
    """Validated new jobs: their store rows, their parsed circuits, their batching groups."""

    rows: list[dict[str, Any]]
    bulk: bool
    parsed: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, GroupKey] = field(default_factory=dict)


class Intake:
    """Turns request bodies into new jobs for one engine's registry and limits."""

    def __init__(self, registry: Registry, settings: Settings, clock: Clock) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock

    def parse(self, kind: str, body: Any) -> Parsed:
        """Shape and types of every job request (cheap: on the event loop)."""
        requests, bulk = parse_items(kind, body)
        return Parsed(kind, requests, bulk, request_bytes(requests) <= INLINE_BYTES and self._inline(requests))

    def _inline(self, requests: list[JobRequest]) -> bool:
        """False when a provider of these jobs checks them against its service
        (backend listings, targets): then they are prepared off the event loop."""
        for name in {r.provider for r in requests}:
            try:
                if not self.registry.get(name).inline_validation:
                    return False
            except errors.HalError:
                pass
        return True

    def prepare(self, parsed: Parsed, owner: str | None) -> NewJobs:
        """Every job checked against its provider and built (all or none; may block)."""
        out = NewJobs([], parsed.bulk)
        stamp = self.clock.stamp()  # a request's jobs are accepted together
        for index, request in enumerate(parsed.requests):
            try:
                self._prepare(parsed.kind, request, owner, out, stamp)
            except errors.HalError as exc:
                if parsed.bulk:
                    prefix_error(exc, f"jobs[{index}]")
                raise
        return out

    def _prepare(self, kind: str, request: JobRequest, owner: str | None, out: NewJobs, stamp: str) -> None:
        provider = self.registry.require(request.provider)
        if provider.kind != kind:
            raise errors.InvalidRequest(
                f"provider {request.provider!r} runs {provider.kind} jobs; send this job to /hal/api/{provider.kind}/jobs"
            )
        sweep = None
        if isinstance(request, QuantumJobRequest):
            shots: int | None = request.shots
            self._check_quantum(request, provider)
            payload: dict[str, Any] = {"circuit": request.circuit, "options": request.options}
            summary = inspect_circuit(request.circuit)
            check_json_size(request.options, self.settings.max_circuit_bytes, "options")
            sweep = self._check_sweep(request, summary)
            if sweep is not None:
                payload["sweep"] = sweep.to_payload()
            if request.memory:  # only when asked: the payloads of other jobs stay as they were
                payload["memory"] = True
            if request.execution is not None:
                payload["execution"] = request.execution.stored()
        else:
            shots, summary = None, None
            payload = request.model_dump(include={"code", "entrypoint", "args", "function", "timeout_s"})
            check_json_size(request.args, self.settings.max_circuit_bytes, "args")
        with provider_calls(provider.name, "choose a backend"):
            backend = getattr(request, "backend", None) or provider.default_backend()
        job_id = new_id()
        parsed = summary.circuit if summary is not None else None
        spec = JobSpec(job_id, kind, backend, shots, payload, parsed, summary)  # type: ignore[arg-type]
        with provider_calls(provider.name, "check the job", about_job=True):
            provider.validate(spec)
            cost = provider.estimate_cost(spec)
        execution = payload.get("execution") if kind == "quantum" else None
        group = GroupKey.of(provider.name, backend, shots, payload.get("options"), sweep is not None and sweep.estimating, execution, owner)
        out.rows.append({
            "id": job_id, "kind": kind, "provider": provider.name, "backend": backend, "name": request.name,
            "tags": request.tags, "priority": request.priority, "status_message": None,
            "created_at": stamp, "updated_at": stamp, "submitted_at": None, "finished_at": None,
            "batch_id": None, "remote_id": None, "shots": shots,
            "cost_estimate": cost.model_dump() if cost is not None else None, "error": None,
            "payload": payload, "attempts": 0, "group_key": group.digest(), "owner": owner, "cancel_requested": False,
            "execution": execution, "cost_actual": None,
        })
        out.groups[job_id] = group
        if spec.parsed is not None:
            out.parsed[job_id] = spec.parsed

    def _check_sweep(self, request: QuantumJobRequest, summary: Any) -> sweeps.Sweep | None:
        """The request's parameter sweep and observables checked against its circuit
        (None for a plain sampling job of a circuit without free parameters)."""
        names = sweeps.circuit_parameter_names(summary.circuit) if summary.circuit is not None else []
        if request.parameters is None and request.observables is None and request.precision is None and not names:
            return None
        if request.parameters is not None:
            check_json_size(request.parameters, self.settings.max_circuit_bytes, "parameters")
        if request.observables is not None:
            check_json_size(request.observables, self.settings.max_circuit_bytes, "observables")
        return sweeps.check(request.parameters, request.observables, request.precision, names, summary.num_qubits)

    def _check_quantum(self, request: QuantumJobRequest, provider: Provider) -> None:
        if request.memory and request.observables is not None:
            raise errors.InvalidRequest("memory applies to sampling jobs: an estimation job ('observables') has no per-shot bitstrings")
        if request.memory and not provider.per_shot_results:
            raise errors.InvalidRequest(f"{provider.name} returns no per-shot results, so it cannot give 'memory': leave it out")
        if request.execution is not None:
            check_execution(request.execution, provider)
        if not 1 <= request.shots <= self.settings.max_shots:
            raise errors.InvalidRequest(f"shots must be an integer from 1 to {self.settings.max_shots}, not {request.shots}")
        size = len(request.circuit.encode())
        if size > self.settings.max_circuit_bytes:
            raise errors.PayloadTooLarge(
                f"the circuit is {size} bytes; the limit is {self.settings.max_circuit_bytes} (HalExtension.max_circuit_bytes)"
            )


def check_execution(execution: Execution, provider: Provider) -> None:
    """Refuse (400) an execution its provider does not honour, naming what it takes."""
    if execution.mode is not None and execution.mode not in provider.execution_modes:
        takes = ", ".join(sorted(provider.execution_modes)) or "none: leave 'mode' out"
        raise errors.InvalidRequest(f"{provider.name} has no execution mode {execution.mode!r} (it takes: {takes})")
    if execution.reservation_arn is not None and not provider.reservations:
        raise errors.InvalidRequest(f"{provider.name} runs no reservations: 'reservation_arn' is for aws_braket")


def check_plain_json(value: Any) -> None:
    """Refuse, as 400, JSON that ``json.loads`` accepts but the rest of the engine must never see.

    Nesting deeper than :data:`MAX_JSON_DEPTH`, and an unpaired UTF-16
    surrogate escape (``"\\udcff"``, forbidden by I-JSON, RFC 7493), which makes
    a string that cannot be encoded to store or send it.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_unicode(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise errors.InvalidRequest(TOO_DEEP)
            children = item if isinstance(item, list) else [*item, *item.values()]
            stack.extend((child, depth + 1) for child in children)
        elif not (item is None or isinstance(item, (bool, int, float))):
            raise errors.InvalidRequest(f"the request holds a {type(item).__name__}, which is not JSON")


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("unicode_escape").decode()
        raise errors.InvalidRequest(f"the request body holds an unpaired surrogate ({bad}); JSON text must be valid Unicode") from None


def items_of(body: Any) -> tuple[list[Any], bool]:
    """The job requests of a body (one request, or ``{"jobs": [...]}``) and whether it was bulk."""
    if isinstance(body, dict) and "jobs" in body:
        if set(body) != {"jobs"} or not isinstance(body["jobs"], list):
            raise errors.InvalidRequest('a bulk request is {"jobs": [request, ...]} and nothing else')
        items = body["jobs"]
        if not items:
            raise errors.InvalidRequest("'jobs' must hold at least one job request")
        if len(items) > MAX_BULK:
            raise errors.PayloadTooLarge(f"at most {MAX_BULK} jobs per request")
        return items, True
    if not isinstance(body, dict):
        raise errors.InvalidRequest("the request body must be a JSON object")
    return [body], False


def parse_items(kind: str, body: Any) -> tuple[list[JobRequest], bool]:
    """Check the body's shape and parse every job request (all or none).

    Errors name the field, and in a bulk request the job's index:
    ``jobs[3].shots: Input should be a valid integer``.
    """
    if kind not in ("quantum", "classical"):
        raise errors.NotFound(f"no job kind {kind!r}; use quantum or classical")
    check_plain_json(body)
    items, bulk = items_of(body)
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_request(kind, item))
        except errors.HalError as exc:
            if bulk:
                prefix_error(exc, f"jobs[{index}]")
            raise
    return parsed, bulk


def prefix_error(exc: errors.HalError, where: str) -> None:
    """Say where in a bulk request an error is (message and details)."""
    exc.message = f"{where}: {exc.message}"
    exc.args = (exc.message,)
    for detail in exc.details or []:
        if "field" in detail:
            detail["field"] = f"{where}.{detail['field']}"


def parse_request(kind: str, item: Any) -> JobRequest:
    model = QuantumJobRequest if kind == "quantum" else ClassicalJobRequest
    if not isinstance(item, dict):
        raise errors.InvalidRequest(f"each job request must be a JSON object, not {_json_type(item)}")
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        details = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()[:20]]
        first = details[0]
        raise errors.InvalidRequest(f"{first['field']}: {first['message']}", details=details) from None


def _field(loc: tuple[Any, ...]) -> str:
    """``("tags", 2)`` -> ``tags[2]``; the model's own checks (loc ``()``) concern the whole request."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "a value"


def check_json_size(value: Any, limit: int, what: str) -> None:
    """``what`` as plain JSON (no NaN or Infinity) of at most ``limit`` bytes."""
    try:
        size = len(json.dumps(value, allow_nan=False))
    except ValueError:
        raise errors.InvalidRequest(f"{what} must be plain JSON (no NaN or Infinity)") from None
    if size > limit:
        raise errors.PayloadTooLarge(f"{what} are {size} bytes; the limit is {limit}")


def request_bytes(requests: list[JobRequest]) -> int:
    """The size of the circuits and code of parsed requests (what parsing costs grow with)."""
    total = 0
    for request in requests:
        text = request.circuit if isinstance(request, QuantumJobRequest) else request.code
        total += len(text or "")
    return total
