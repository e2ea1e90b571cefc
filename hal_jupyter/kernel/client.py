"""``hal_jupyter.Hal``: the Python API of docs/API.md, for notebooks and scripts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from html import escape
from typing import Any, overload

from ..engine import errors
from ..engine.lifecycle import TERMINAL_NAMES
from ..engine.models import MAX_LIST_IDS as MAX_IDS
from . import display
from .circuits import request_fields
from .discovery import find_server
from .hub import EventHub
from .results import ClassicalJobResult, JobResult, QuantumJobResult
from .spend import Estimate, SpendControl
from .transport import EmbeddedTransport, RemoteTransport, Transport

TERMINAL = frozenset(TERMINAL_NAMES)
#: Statuses a job leaves only by a user's action: terminal, or UNKNOWN (never resubmitted on its own).
SETTLED = TERMINAL | {"UNKNOWN"}
NAMED_FAILURES = 3


class JobFailed(errors.HalError):
    """A result was asked of a job that ended FAILED, CANCELLED or UNKNOWN.

    ``details`` holds ``{"id", "status", "error"}`` for every such job.
    """

    type = errors.ErrorType.JOB_FAILED


class _Poll:
    """The pauses between reads of a job's state: from 20 ms, growing 1.5x a
    round up to 1 s (quick jobs answer quickly, long ones cost a read a second),
    never sleeping past the deadline."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._delay = 0.02

    def pause(self, unfinished: Callable[[], str]) -> None:
        """Sleep before the next read; ``TimeoutError`` (``unfinished()`` says what) once the time is up."""
        if self._deadline is None:
            time.sleep(self._delay)
        else:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{unfinished()} after {self.timeout} s")
            time.sleep(min(self._delay, left))
        self._delay = min(self._delay * 1.5, 1.0)


class Job:
    """A handle on one job: ``status()``, ``result()``, ``wait()``, ``cancel()``, ``monitor()``."""

    def __init__(self, hal: Hal, record: dict[str, Any]) -> None:
        self.hal = hal
        self.record = record
        self.id: str = record["id"]

    def refresh(self) -> dict[str, Any]:
        self.record = self.hal.transport.job(self.id)
        return self.record

    def status(self) -> str:
        return self.refresh()["status"]

    @property
    def done(self) -> bool:
        """Whether the last record read shows the job settled (terminal, or UNKNOWN)."""
        return self.record["status"] in SETTLED

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job ends or is UNKNOWN (or ``timeout`` seconds pass: ``TimeoutError``)."""
        poll = _Poll(timeout)
        while self.refresh()["status"] not in SETTLED:
            poll.pause(lambda: f"job {self.id} is still {self.record['status']}")
        return self

    def result(self, timeout: float | None = None) -> JobResult:
        """Wait for the job, then its result; ``JobFailed`` if it did not complete.

        The same path as :meth:`Hal.results` for one job.
        """
        return self.hal.results([self], timeout)[0]

    def cancel(self) -> Job:
        self.record = self.hal.transport.cancel(self.id)
        return self

    def monitor(self) -> Any:
        """A live widget for this job."""
        return self.hal.monitor([self])

    def __repr__(self) -> str:
        r = self.record
        return f"<Job {self.id} {r['kind']} on {r['provider']}/{r['backend']}: {r['status']}>"

    def _repr_html_(self) -> str:
        r = self.record
        name = f"{escape(r['name'])} " if r.get("name") else ""
        return (
            f"<div>Job {name}<code>{escape(self.id)}</code> on {escape(r['provider'])}/{escape(str(r['backend']))} "
            f"{display.status_badge(r['status'])}</div>"
        )


class Hal(SpendControl):
    """The HAL from Python. ``Hal()`` talks to the server extension of the Jupyter
    server that started this kernel, or, where there is none (plain IPython,
    VS Code, a script), runs the same engine inside this process."""

    def __init__(self, url: str | None = None, token: str | None = None, *, embedded: bool | None = None, **engine_config: Any) -> None:
        global _current
        self.transport: Transport = _connect(url, token, embedded, engine_config)
        self.hub = EventHub(self.transport.subscribe)
        self.closed = False
        _current = self

    @property
    def embedded(self) -> bool:
        return isinstance(self.transport, EmbeddedTransport)

    def __repr__(self) -> str:
        return f"<Hal: {self.transport.description}>"

    # -- submitting ------------------------------------------------------------
    @overload
    def submit_quantum(
        self, circuit: list[Any] | tuple[Any, ...], provider: str = ..., shots: int = ...,
        parameters: dict[Any, Any] | None = ..., observables: Any = ..., precision: float | None = ..., **fields: Any,
    ) -> list[Job]: ...
    @overload
    def submit_quantum(
        self, circuit: Any, provider: str = ..., shots: int = ...,
        parameters: dict[Any, Any] | None = ..., observables: Any = ..., precision: float | None = ..., **fields: Any,
    ) -> Job: ...

    def submit_quantum(
        self, circuit: Any, provider: str = "local_simulator", shots: int = 1024,
        parameters: dict[Any, Any] | None = None, observables: Any = None, precision: float | None = None, **fields: Any,
    ) -> Job | list[Job]:
        """Submit a circuit (OpenQASM 2/3 text, a Qiskit ``QuantumCircuit`` or a Braket ``Circuit``).

        ``parameters`` sweeps the circuit's free parameters: keys are Qiskit
        ``Parameter`` or ``ParameterVector`` objects (a vector's values: points x
        its length), Braket ``FreeParameter`` objects or names; values a number or
        one per point (a list or numpy array). ``observables`` (one or a list of
        ``SparsePauliOp``, Braket observables or ``PauliString``, labels, dense or
        sparse JSON) makes it an estimation job, whose result has ``evs`` and
        ``stds``; ``precision`` is the target standard error of an estimate.

        A list (or tuple) of circuits goes as ONE bulk request, all or none,
        every job with the same options; it returns a list of handles.

        Other ``fields`` are those of a quantum request: ``backend``, ``priority``,
        ``name``, ``tags``, ``memory``, ``options``, and (v1.2) ``execution``
        (``{"mode": "batch"|"session"|"job", "session": name, "reservation_arn": arn}``).
        Past a ``refuse`` budget: ``BudgetExceeded`` (its ``figures``), nothing stored.
        """
        requests = _quantum_requests(circuit, provider, shots, parameters, observables, precision, fields)
        if isinstance(circuit, (list, tuple)):
            return self.submit_many("quantum", requests)
        return Job(self, self.transport.submit("quantum", requests[0])[0])

    def estimate(
        self, circuit: Any, provider: str = "local_simulator", shots: int = 1024,
        parameters: dict[Any, Any] | None = None, observables: Any = None, precision: float | None = None, **fields: Any,
    ) -> Estimate:
        """What :meth:`submit_quantum` with the same arguments would cost, and whether the
        budgets would accept, hold or refuse it (a dry run: nothing is submitted or stored).
        A list of circuits is priced as the one bulk request it would be (batching discount included)."""
        return self.estimate_many("quantum", _quantum_requests(circuit, provider, shots, parameters, observables, precision, fields))

    def submit_classical(
        self, code: str | None = None, args: dict[str, Any] | None = None, provider: str = "local_python", **fields: Any
    ) -> Job:
        """Submit Python source (or, with ``function=``, call a deployed function) with keyword ``args``."""
        body = {"code": code, "args": args or {}, "provider": provider, **_given(fields)}
        return Job(self, self.transport.submit("classical", _given(body))[0])

    def submit_many(self, kind: str, requests: list[dict[str, Any]]) -> list[Job]:
        """Several job requests in one call (all or none)."""
        if not requests:
            return []
        return [Job(self, r) for r in self.transport.submit(kind, {"jobs": requests})]

    # -- reading -----------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        return Job(self, self.transport.job(job_id))

    def jobs(self, status: str | None = None, provider: str | None = None, kind: str | None = None, tag: str | None = None, limit: int = 100) -> list[Job]:
        listing = self.transport.jobs(status=status, provider=provider, kind=kind, tag=tag, limit=limit)
        return [Job(self, r) for r in listing["jobs"]]

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Cancel a job by id; its record (``cancel_requested`` while another engine carries it out)."""
        return self.transport.cancel(job_id)

    def records(self, ids: Sequence[str], include_result: bool = False) -> list[dict[str, Any]]:
        """Current records of many jobs, in the order of ``ids``, one request per
        500; ids of no job (or of another user's) are left out. With
        ``include_result`` each record carries ``"result"`` (null until COMPLETED)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), MAX_IDS):
            chunk = wanted[start : start + MAX_IDS]
            listing = self.transport.jobs(ids=chunk, include_result=include_result, limit=len(chunk))
            found.update((r["id"], r) for r in listing["jobs"])
        return [found[i] for i in wanted if i in found]

    def results(self, jobs: Sequence[Job], timeout: float | None = None) -> list[JobResult]:
        """Every result of ``jobs``, in their order, fetched in bulk.

        Waits until every job has ended (or is UNKNOWN), reading their records
        500 a request, with backoff, the results of those COMPLETED coming
        along; so a round costs one request per 500 unfinished jobs, never one
        per job. Updates the handles' records.

        Raises ``JobFailed`` once all have ended if any did not complete
        (FAILED, CANCELLED or UNKNOWN): the message counts them and names the
        first three, ``details`` lists every one. ``TimeoutError`` after
        ``timeout`` seconds, saying how many are unfinished; ``JobNotFound``
        for an id of no job.
        """
        return [self.result_of(record) for record in self._completed(jobs, timeout)]

    def result_dicts(self, jobs: Sequence[Job], timeout: float | None = None) -> list[dict[str, Any]]:
        """As :meth:`results`, but each result as the API's JSON object (a dict), not
        a model: what code that reads large results itself (per-shot bitstrings) wants."""
        return [record.get("result") or self.transport.result(record["id"]) for record in self._completed(jobs, timeout)]

    def _completed(self, jobs: Sequence[Job], timeout: float | None) -> list[dict[str, Any]]:
        """The records (with ``"result"``) of ``jobs`` once all have ended; ``JobFailed`` if any did not complete."""
        settled = self._settle([job.id for job in jobs], timeout)
        for job in jobs:
            job.record = {k: v for k, v in settled[job.id].items() if k != "result"}
        failed = [r for r in settled.values() if r["status"] != "COMPLETED"]
        if failed:
            raise _failure(failed, len(settled))
        return [settled[job.id] for job in jobs]

    def _settle(self, ids: list[str], timeout: float | None) -> dict[str, dict[str, Any]]:
        """The records (with ``"result"``) of these jobs once every one has settled."""
        poll = _Poll(timeout)
        pending = list(dict.fromkeys(ids))
        settled: dict[str, dict[str, Any]] = {}
        while True:
            found = {r["id"]: r for r in self.records(pending, include_result=True)}
            absent = [i for i in pending if i not in found]
            if absent:
                raise errors.JobNotFound(f"no job with id {absent[0]!r}")
            settled.update((i, r) for i, r in found.items() if r["status"] in SETTLED)
            pending = [i for i in pending if i not in settled]
            if not pending:
                return {i: settled[i] for i in ids}
            poll.pause(lambda: f"{len(pending)} of {len(settled) + len(pending)} jobs are unfinished (first: {pending[0]})")

    def result_of(self, record: dict[str, Any]) -> JobResult:
        """The result of a COMPLETED job's record read with ``include_result`` (read alone if it lacks one)."""
        data = record.get("result") or self.transport.result(record["id"])
        model = QuantumJobResult if record["kind"] == "quantum" else ClassicalJobResult
        return model.model_validate(data)

    def providers(self) -> list[dict[str, Any]]:
        return self.transport.providers()

    def backends(self, provider: str) -> list[dict[str, Any]]:
        return self.transport.backends(provider)

    def scheduler(self) -> dict[str, Any]:
        """Groups waiting to be batched, batches flushed, and the batching settings."""
        return self.transport.scheduler()

    def monitor(self, jobs: list[Job] | None = None) -> Any:
        """A live widget of these jobs (default: unfinished and recent ones from the store)."""
        from .monitor import JobMonitor

        if jobs is None:
            records = self.transport.jobs(limit=20)["jobs"]
            jobs = [Job(self, r) for r in reversed(records)]
        return JobMonitor(self, jobs)

    def close(self) -> None:
        self.closed = True
        self.transport.close()


_current: Hal | None = None


def current() -> Hal:
    """The client the ``%hal`` magics use: the last ``Hal`` made in this kernel
    (so ``hal = Hal(embedded=True)`` before the magics makes them embedded too),
    else a new ``Hal()``."""
    if _current is None or _current.closed:
        return Hal()
    return _current


def _quantum_requests(
    circuit: Any, provider: str, shots: int, parameters: Any, observables: Any, precision: float | None, fields: dict[str, Any]
) -> list[dict[str, Any]]:
    """The requests :meth:`Hal.submit_quantum` sends (and :meth:`Hal.estimate` prices): one per circuit."""
    shared = {"provider": provider, "shots": shots, **_given({"precision": precision, **fields})}
    circuits = circuit if isinstance(circuit, (list, tuple)) else [circuit]
    return [{**request_fields(c, parameters, observables), **shared} for c in circuits]


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _failure(failed: list[dict[str, Any]], total: int) -> JobFailed:
    """One error for every job that did not complete, naming the first few."""
    named = "; ".join(_why(r) for r in failed[:NAMED_FAILURES])
    if total > 1:
        more = "; ..." if len(failed) > NAMED_FAILURES else ""
        named = f"{len(failed)} of {total} jobs did not complete: {named}{more}"
    details = [{"id": r["id"], "status": r["status"], "error": r.get("error")} for r in failed]
    return JobFailed(named, details=details)


def _why(record: dict[str, Any]) -> str:
    error = record.get("error") or {}
    detail = f": {errors.error_line(error)}" if error else ""
    return f"job {record['id']} is {record['status']}{detail}"


def _connect(url: str | None, token: str | None, embedded: bool | None, config: dict[str, Any]) -> Transport:
    if embedded:
        return EmbeddedTransport(**config)
    if url is not None:
        return RemoteTransport(url, token)
    found = find_server()
    if found is not None:
        remote = RemoteTransport(*found)
        if remote.probe():
            return remote
        if embedded is False:
            raise errors.HalError(f"the Jupyter server at {found[0]} does not answer on /hal/api (is hal_jupyter enabled?)")
    elif embedded is False:
        raise errors.HalError("no Jupyter server started this kernel")
    return EmbeddedTransport(**config)
