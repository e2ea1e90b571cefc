"""The handles a Qiskit program gets back: :class:`HalJob` from ``backend.run``
(a ``JobV1`` whose result is a ``qiskit.result.Result``) and
:class:`HalPrimitiveJob` from a sampler or estimator (a ``PrimitiveResult``).

Either stands for the HAL jobs of one call, one per circuit or PUB, sent in one
bulk request; ``job_id()`` names them (their ids, comma-separated), so
``HalProvider().job(job_id)`` finds them again from another kernel. Their state
is read for all of them at once (500 a request), never job by job.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from qiskit.primitives import BasePrimitiveJob, DataBin, PrimitiveResult, PubResult, SamplerPubResult
from qiskit.providers import BackendV2, JobStatus, JobV1
from qiskit.result import Result

from ..kernel.client import SETTLED, Hal, Job
from .layout import Layout

#: a HAL status as Qiskit's ``JobStatus``
STATUS = {
    "QUEUED": JobStatus.QUEUED,
    "HELD": JobStatus.QUEUED,
    "SUBMITTING": JobStatus.QUEUED,
    "SUBMITTED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
    "CANCELLED": JobStatus.CANCELLED,
    "UNKNOWN": JobStatus.ERROR,
}


def joined_status(statuses: Sequence[str]) -> JobStatus:
    """One status for several jobs: running while any runs, queued while any waits,
    and once all are settled the worst outcome (an error, a cancel, else done)."""
    if not all(s in SETTLED for s in statuses):
        return JobStatus.RUNNING if "RUNNING" in statuses else JobStatus.QUEUED
    outcomes = {STATUS[s] for s in statuses}
    for worst in (JobStatus.ERROR, JobStatus.CANCELLED):
        if worst in outcomes:
            return worst
    return JobStatus.DONE


class _Calls:
    """The HAL jobs of one call and their layouts, read together."""

    def __init__(self, hal: Hal, jobs: list[Job], layouts: list[Layout]) -> None:
        self.hal = hal
        self.jobs = jobs
        self.layouts = layouts

    @property
    def ids(self) -> list[str]:
        return [job.id for job in self.jobs]

    def statuses(self) -> list[str]:
        records = {r["id"]: r for r in self.hal.records(self.ids)}
        for job in self.jobs:
            job.record = records.get(job.id, job.record)
        return [job.record["status"] for job in self.jobs]

    def results(self, timeout: float | None) -> list[dict[str, Any]]:
        """The jobs' results (dicts as the API gives them), once all have ended;
        ``JobFailed`` if any did not complete."""
        return self.hal.result_dicts(self.jobs, timeout)

    def cancel(self) -> bool:
        """Cancel every job not settled yet; whether any was."""
        open_ = [job for job in self.jobs if job.record["status"] not in SETTLED]
        for job in open_:
            try:
                job.cancel()
            except Exception:  # noqa: BLE001 - it ended meanwhile (409): nothing to cancel
                pass
        return bool(open_)


class HalJob(JobV1):
    """``backend.run``'s job: a ``qiskit.result.Result`` with one experiment per circuit."""

    def __init__(self, backend: BackendV2 | None, calls: _Calls, backend_name: str) -> None:
        super().__init__(backend, ",".join(calls.ids))
        self.calls = calls
        self.backend_name = backend_name

    @property
    def jobs(self) -> list[Job]:
        """The HAL jobs, one per circuit."""
        return self.calls.jobs

    def submit(self) -> None:
        raise NotImplementedError("the jobs were submitted when backend.run returned")

    def status(self) -> JobStatus:
        return joined_status(self.calls.statuses())

    def cancel(self) -> bool:
        return self.calls.cancel()

    def result(self, timeout: float | None = None) -> Result:
        results = self.calls.results(timeout)
        experiments = [_experiment(result, layout) for result, layout in zip(results, self.calls.layouts)]
        return Result.from_dict(
            {
                "backend_name": self.backend_name,
                "backend_version": "hal",
                "job_id": self.job_id(),
                "qobj_id": self.job_id(),
                "success": True,
                "results": experiments,
            }
        )


def _experiment(result: dict[str, Any], layout: Layout) -> dict[str, Any]:
    shots = result.get("shots") or 0
    data: dict[str, Any] = {"counts": {_hex(k): v for k, v in (result.get("counts") or {}).items()}}
    if result.get("memory") is not None:
        data["memory"] = [_hex(s) for s in result["memory"]]
    metadata = {"hal_job_id": result["id"], **(result.get("metadata") or {})}
    return {"shots": shots, "success": True, "status": "DONE", "data": data, "header": layout.header(), "metadata": metadata}


def _hex(bits: str) -> str:
    return hex(int(bits, 2)) if bits else "0x0"


class HalPrimitiveJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """A sampler's or estimator's job: a ``PrimitiveResult`` with one result per PUB."""

    def __init__(self, calls: _Calls, kind: str, shots: list[int]) -> None:
        super().__init__(",".join(calls.ids))
        self.calls = calls
        self.kind = kind
        self._shots = shots

    @property
    def jobs(self) -> list[Job]:
        """The HAL jobs, one per PUB."""
        return self.calls.jobs

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        results = self.calls.results(timeout)
        read = _sampled if self.kind == "sampler" else _estimated
        pubs = [read(result, layout, shots) for result, layout, shots in zip(results, self.calls.layouts, self._shots)]
        return PrimitiveResult(pubs, metadata={"version": 2, "hal_job_ids": self.calls.ids})

    def status(self) -> JobStatus:
        return joined_status(self.calls.statuses())

    def done(self) -> bool:
        return self.status() == JobStatus.DONE

    def running(self) -> bool:
        return self.status() == JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR)

    def cancel(self) -> bool:
        return self.calls.cancel()


def _sampled(result: dict[str, Any], layout: Layout, shots: int) -> SamplerPubResult:
    samples = layout.samples(result, shots, seed=zlib.crc32(result["id"].encode()))
    data = DataBin(**layout.bit_arrays(samples), shape=layout.shape)
    return SamplerPubResult(data, metadata={"shots": shots, "circuit_metadata": layout.metadata, "hal_job_id": result["id"]})


def _estimated(result: dict[str, Any], layout: Layout, shots: int) -> PubResult:
    evs, stds = layout.estimates(result)
    data = DataBin(evs=evs, stds=stds, shape=layout.shape)
    metadata = {"target_precision": layout.precision, "shots": shots, "circuit_metadata": layout.metadata, "hal_job_id": result["id"]}
    return PubResult(data, metadata=metadata)


def attach(hal: Hal, job_id: str, backend: BackendV2 | None = None) -> HalJob | HalPrimitiveJob:
    """The job ``job_id()`` named, from the HAL jobs' records (their tags hold the layouts)."""
    from ..engine.errors import InvalidRequest, JobNotFound

    ids = [i for i in job_id.split(",") if i]
    if not ids:
        raise InvalidRequest("give the job id that job_id() returned (HAL job ids, comma-separated)")
    records = hal.records(ids)
    found = {r["id"]: r for r in records}
    missing = [i for i in ids if i not in found]
    if missing:
        raise JobNotFound(f"no job with id {missing[0]!r}")
    layouts = [Layout.from_tags(found[i].get("tags") or []) for i in ids]
    if any(layout is None for layout in layouts):
        raise InvalidRequest(f"job {ids[layouts.index(None)]!r} was not made by hal_jupyter.qiskit (its tags carry no Qiskit layout)")
    kinds = {layout.kind for layout in layouts if layout is not None}
    if len(kinds) != 1:
        raise InvalidRequest("these jobs were made by different Qiskit calls: give the ids of one job_id()")
    calls = _Calls(hal, [Job(hal, found[i]) for i in ids], [layout for layout in layouts if layout is not None])
    kind = kinds.pop()
    first = found[ids[0]]
    if kind == "run":
        return HalJob(backend, calls, backend.name if backend is not None else f"{first['provider']}/{first['backend']}")
    shots = [found[i]["shots"] // max(1, layout.repeats) if found[i]["shots"] else 0 for i, layout in zip(ids, calls.layouts)]
    return HalPrimitiveJob(calls, kind, shots)
