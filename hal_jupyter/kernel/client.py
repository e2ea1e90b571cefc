"""``hal_jupyter.Hal``: the Python API of API.md, for notebooks and scripts."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from ..engine import errors
from ..engine.models import ClassicalResult, QuantumResult
from . import display
from .circuits import to_qasm
from .hub import EventHub
from .transport import EmbeddedTransport, RemoteTransport, Transport, find_server

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
MISSING_READS = 100


class JobFailed(errors.HalError):
    """``job.result()`` of a job that ended FAILED, CANCELLED or UNKNOWN."""

    type = "JobFailed"


class QuantumJobResult(QuantumResult):
    """Counts of a quantum job (Qiskit bit order: the rightmost character is bit 0)."""

    def _repr_html_(self) -> str:
        return display.histogram(self.counts, self.shots, title=f"{self.backend} - {self.shots} shots")


class ClassicalJobResult(ClassicalResult):
    """The value, stdout and stderr of a classical job."""

    def _repr_html_(self) -> str:
        return display.classical_output(self.value, self.stdout, self.stderr)


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
        return self.record["status"] in TERMINAL

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job ends (or ``timeout`` seconds pass: ``TimeoutError``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while self.refresh()["status"] not in TERMINAL:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} is still {self.record['status']} after {timeout} s")
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 1.5, 1.0)
        return self

    def result(self, timeout: float | None = None) -> QuantumJobResult | ClassicalJobResult:
        """Wait for the job, then its result; ``JobFailed`` if it did not complete."""
        self.wait(timeout)
        if self.record["status"] != "COMPLETED":
            error = self.record.get("error") or {}
            detail = f": {error.get('type')}: {error.get('message')}" if error else ""
            raise JobFailed(f"job {self.id} is {self.record['status']}{detail}")
        data = self.hal.transport.result(self.id)
        model = QuantumJobResult if self.record["kind"] == "quantum" else ClassicalJobResult
        return model.model_validate(data)

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


class Hal:
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
    def submit_quantum(self, circuit: Any, provider: str = "local_simulator", shots: int = 1024, **fields: Any) -> Job:
        """Submit a circuit (OpenQASM 2/3 text, a Qiskit ``QuantumCircuit`` or a Braket ``Circuit``)."""
        body = {"circuit": to_qasm(circuit), "provider": provider, "shots": shots, **_given(fields)}
        return Job(self, self.transport.submit("quantum", body)[0])

    def submit_classical(
        self, code: str | None = None, args: dict[str, Any] | None = None, provider: str = "local_python", **fields: Any
    ) -> Job:
        """Submit Python source (or, with ``function=``, call a deployed function) with keyword ``args``."""
        body = {"code": code, "args": args or {}, "provider": provider, **_given(fields)}
        return Job(self, self.transport.submit("classical", _given(body))[0])

    def submit_many(self, kind: str, requests: list[dict[str, Any]]) -> list[Job]:
        """Several job requests in one call (all or none)."""
        return [Job(self, r) for r in self.transport.submit(kind, {"jobs": requests})]

    # -- reading -----------------------------------------------------------------
    def job(self, job_id: str) -> Job:
        return Job(self, self.transport.job(job_id))

    def jobs(self, status: str | None = None, provider: str | None = None, kind: str | None = None, tag: str | None = None, limit: int = 100) -> list[Job]:
        listing = self.transport.jobs(status=status, provider=provider, kind=kind, tag=tag, limit=limit)
        return [Job(self, r) for r in listing["jobs"]]

    def records(self, ids: list[str], max_pages: int = 20) -> list[dict[str, Any]]:
        """Current records of many jobs: pages of the job list (newest first), then
        single reads for the few not found there."""
        wanted, found = set(ids), {}
        cursor = None
        for _ in range(max_pages):
            page = self.transport.jobs(limit=500, cursor=cursor)
            found.update((r["id"], r) for r in page["jobs"] if r["id"] in wanted)
            cursor = page.get("next_cursor")
            if len(found) == len(wanted) or not cursor:
                break
        missing = [i for i in ids if i not in found][:MISSING_READS]
        found.update((i, self.transport.job(i)) for i in missing)
        return [found[i] for i in ids if i in found]

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


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


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
