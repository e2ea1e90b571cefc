"""The job lifecycle: the statuses, and the named transitions between them.

A job's status changes only by one of the transitions declared here (the
table of docs/API.md, "Job lifecycle"). Each names the statuses it may leave,
the status it reaches (or none: the status stays), and the record fields it
may set. The store turns a transition into one conditional ``UPDATE`` whose
``WHERE`` carries ``status IN (sources)`` with the engine's id and fencing
token (:meth:`.store.JobStore.transition`), so an illegal or a stale
transition is refused by the database itself, whichever engine, SQLite or
PostgreSQL. No other module names a status to move a job to.

Providers never name statuses either: they report what they observed, and
:func:`.reports.transition_for` maps an observation, given the job's current
status, to one of these transitions, or to nothing when it does not fit (a
RUNNING after COMPLETED, a SUBMITTED after RUNNING).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class JobStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    HELD = "HELD"
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


S = JobStatus
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
#: a provider call is in flight or the provider holds the job
IN_FLIGHT = frozenset({S.SUBMITTING, S.SUBMITTED, S.RUNNING})
#: what an engine drives (claims, resumes, polls); HELD jobs wait for a release instead
DRIVEN = frozenset({S.QUEUED, *IN_FLIGHT})
#: what a cancel request may still reach
CANCELLABLE = frozenset({S.QUEUED, S.HELD, *IN_FLIGHT, S.UNKNOWN})


def names(statuses: frozenset[JobStatus]) -> tuple[str, ...]:
    """The statuses as the strings the store holds, in a stable order."""
    return tuple(sorted(s.value for s in statuses))


TERMINAL_NAMES = names(TERMINAL)
DRIVEN_NAMES = names(DRIVEN)
CANCELLABLE_NAMES = names(CANCELLABLE)


@dataclass(frozen=True)
class Transition:
    """One named change of a job. ``target`` None: the status stays (a new driver, a progress note)."""

    name: str
    sources: frozenset[JobStatus]
    target: JobStatus | None
    #: record fields the transition may set, besides ``status`` and ``updated_at``
    fields: frozenset[str] = frozenset()
    #: timestamp fields it sets to the transition's time (unless set already)
    stamps: tuple[str, ...] = ()
    #: fields it resets to null
    clears: tuple[str, ...] = ()
    #: whether it stores a result (or a failed job's output) with the change
    stores_result: bool = False
    #: whether it counts one more provider call carrying the job (``attempts``)
    counts_attempt: bool = False

    @property
    def source_names(self) -> tuple[str, ...]:
        return names(self.sources)

    @property
    def ends(self) -> bool:
        """Whether the job is finished after it."""
        return self.target is not None and self.target.terminal

    def allows(self, status: JobStatus | str) -> bool:
        return JobStatus(status) in self.sources

    def check(self, fields: dict[str, Any]) -> None:
        """Refuse (a programming error) fields this transition does not set."""
        extra = set(fields) - self.fields
        if extra:
            raise ValueError(f"transition {self.name!r} does not set {', '.join(sorted(extra))}")


def _t(name: str, sources: set[JobStatus], target: JobStatus | None, fields: set[str] = frozenset(), **kw: Any) -> Transition:
    finished = target is not None and target.terminal
    stamps = tuple(kw.pop("stamps", ())) + (("finished_at",) if finished else ())
    clears = tuple(kw.pop("clears", ()))
    return Transition(name, frozenset(sources), target, frozenset(fields), stamps, clears, **kw)


MESSAGE = {"status_message"}
#: accept: a new job is stored (its row is inserted QUEUED, or HELD)
ACCEPT = _t("accept", set(), S.QUEUED)
HOLD = _t("hold", {S.QUEUED}, S.HELD, MESSAGE)
RELEASE = _t("release", {S.HELD}, S.QUEUED, MESSAGE)
#: the provider call is about to be made: the intent is on disk first
INTEND = _t("intend", {S.QUEUED}, S.SUBMITTING, MESSAGE | {"batch_id"}, counts_attempt=True)
#: provably not sent (the provider surely did not take it, or free local work died with its engine)
REQUEUE = _t("requeue", {S.SUBMITTING}, S.QUEUED, MESSAGE, clears=("batch_id", "remote_id"))
#: free local work that was sent and died with its engine (a simulation in a process that is
#: gone): it is queued to run again, at least once; never paid or remote work
RERUN = _t("rerun", {S.SUBMITTED, S.RUNNING}, S.QUEUED, MESSAGE, clears=("batch_id", "remote_id", "submitted_at"))
SENT = _t("sent", {S.SUBMITTING}, S.SUBMITTED, MESSAGE | {"remote_id", "cost_estimate"}, stamps=("submitted_at",))
START = _t("start", {S.SUBMITTED}, S.RUNNING, MESSAGE)
#: the status stays; what the job is doing now (a retry's wait, a running batch's progress)
PROGRESS = _t("progress", set(IN_FLIGHT), None, MESSAGE)
COMPLETE = _t("complete", set(IN_FLIGHT), S.COMPLETED, MESSAGE | {"cost_actual"}, stores_result=True)
FAIL = _t("fail", set(IN_FLIGHT), S.FAILED, MESSAGE | {"error", "cost_actual"}, stores_result=True)
#: fail before sending: refused by the HAL itself (a dispatch that cannot proceed, a budget)
REFUSE = _t("refuse", {S.QUEUED, S.HELD, S.SUBMITTING}, S.FAILED, MESSAGE | {"error"})
LOSE_CONTACT = _t("lose_contact", set(IN_FLIGHT), S.UNKNOWN, MESSAGE | {"error"})
CANCEL = _t("cancel", set(CANCELLABLE), S.CANCELLED, MESSAGE | {"cost_actual"})
#: a new driver (engine and fencing token) for a job nobody drives; the status stays
CLAIM = _t("claim", {S.QUEUED}, None)
#: resume after takeover: an in-flight job of a gone engine, same status, new driver
RESUME = _t("resume", set(IN_FLIGHT), None)

TRANSITIONS: tuple[Transition, ...] = (
    ACCEPT, HOLD, RELEASE, INTEND, REQUEUE, RERUN, SENT, START, PROGRESS, COMPLETE, FAIL, REFUSE, LOSE_CONTACT, CANCEL, CLAIM, RESUME,
)
BY_NAME = {t.name: t for t in TRANSITIONS}


__all__ = [
    "ACCEPT", "CANCEL", "CANCELLABLE", "CLAIM", "COMPLETE", "DRIVEN", "FAIL", "HOLD", "INTEND", "IN_FLIGHT", "JobStatus",
    "LOSE_CONTACT", "PROGRESS", "REFUSE", "RELEASE", "REQUEUE", "RERUN", "RESUME", "SENT", "START", "TERMINAL", "TRANSITIONS",
    "Transition",
]
