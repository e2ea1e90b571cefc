"""The batching policy: which standard jobs travel together, and when.

A pure object with no I/O and no clock of its own: every call takes ``now``.
The scheduler drives it; the tests drive it with a fake clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Strategy = Literal["time", "cost", "time_or_cost"]
Trigger = Literal["size", "window", "max_wait", "priority", "recovery"]
STRATEGIES: tuple[Strategy, ...] = ("time", "cost", "time_or_cost")


@dataclass(frozen=True, order=True)
class GroupKey:
    """Jobs that can share one provider call: same provider, backend, shots, options,
    the same primitive (``estimate`` jobs go to an Estimator, the others to a Sampler),
    and the same execution (v1.2: mode, session and its owner, reservation)."""

    provider: str
    backend: str
    shots: int | None = None
    options: str = "{}"
    estimate: bool = False
    execution: str = ""

    @classmethod
    def of(
        cls, provider: str, backend: str | None, shots: int | None, options: dict[str, Any] | None, estimate: bool,
        execution: dict[str, Any] | None = None, owner: str | None = None,
    ) -> GroupKey:
        """The group of a job: what must be equal for two jobs to share a provider call.
        A session is one owner's: two users' sessions of one name never share a call."""
        how = ""
        if execution:
            how = json.dumps({**execution, "owner": owner} if execution.get("session") else execution, sort_keys=True)
        return cls(provider, backend or "", shots, json.dumps(options, sort_keys=True) if options else "{}", estimate, how)

    def label(self) -> str:
        shots = "" if self.shots is None else f" x{self.shots}"
        how = ""
        if self.execution:
            execution = json.loads(self.execution)
            how = "".join(f" {k}={execution[k]}" for k in ("session", "reservation_arn") if execution.get(k)) or f" {execution.get('mode')}"
        return f"{self.provider}/{self.backend}{shots}{' estimate' if self.estimate else ''}{how}"

    def digest(self) -> str:
        """The key as the store keeps it (``hal_jobs.group_key``): engines that share a
        store batch a group's jobs together by it."""
        return _digest(self.provider, self.backend, self.shots, self.options, self.estimate, self.execution)


@functools.lru_cache(maxsize=4096)  # a bulk request's jobs share a few groups
def _digest(provider: str, backend: str, shots: int | None, options: str, estimate: bool, execution: str = "") -> str:
    parts: list[Any] = [provider, backend, shots, json.loads(options)]
    if estimate:
        parts.append("estimate")
    if execution:  # (only then: the digests of jobs without one stay as they were)
        parts.append(json.loads(execution))
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class Flush:
    """A batch the policy releases: ``job_ids`` go to the provider as one call."""

    key: GroupKey
    job_ids: list[str]
    trigger: Trigger


@dataclass
class _Group:
    cap: int
    jobs: dict[str, float] = field(default_factory=dict)  # job id -> enqueued at (insertion order)

    @property
    def oldest(self) -> float:
        return next(iter(self.jobs.values()))


class BatchPolicy:
    """Groups standard jobs and decides when each group flushes.

    - ``cost`` trigger: a group flushes as soon as it holds ``max_size`` jobs.
    - ``time`` trigger: a group flushes once its oldest job waited ``window_s``.
    - ``time_or_cost`` (default): whichever comes first.
    Under ``cost`` alone a group that never fills still flushes after
    ``max_wait_s``, so no job waits forever. A provider's own cap on programs per
    call (``cap`` in :meth:`add`) always splits a group, whatever the strategy.
    """

    def __init__(
        self,
        *,
        window_s: float = 1.0,
        max_size: int = 50,
        strategy: Strategy = "time_or_cost",
        max_wait_s: float = 300.0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"batch strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        if window_s < 0 or max_size < 1 or max_wait_s <= 0:
            raise ValueError("batch window must be >= 0, max size >= 1 and max wait > 0")
        self.window_s = window_s
        self.max_size = max_size
        self.strategy = strategy
        self.max_wait_s = max_wait_s
        self._groups: dict[GroupKey, _Group] = {}
        self._where: dict[str, GroupKey] = {}

    # -- the triggers ------------------------------------------------------
    def _size_limit(self, cap: int) -> int:
        return cap if self.strategy == "time" else min(self.max_size, cap)

    def _wait_limit(self) -> float:
        return self.max_wait_s if self.strategy == "cost" else self.window_s

    def add(self, key: GroupKey, job_id: str, now: float, cap: int | None = None) -> list[Flush]:
        """Queue one job; returns the batch it completes, if any (size trigger)."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(cap=max(1, cap or 10**9))
        group.jobs[job_id] = now
        self._where[job_id] = key
        if len(group.jobs) >= self._size_limit(group.cap):
            return [self._release(key, "size")]
        return []

    def due(self, now: float) -> list[Flush]:
        """Batches whose oldest job has waited long enough (time trigger)."""
        limit = self._wait_limit()
        trigger: Trigger = "max_wait" if self.strategy == "cost" else "window"
        ready = [k for k, g in self._groups.items() if now - g.oldest >= limit]
        return [self._release(k, trigger) for k in ready]

    def next_deadline(self) -> float | None:
        """When :meth:`due` will next release something, if nothing else changes."""
        if not self._groups:
            return None
        return min(g.oldest for g in self._groups.values()) + self._wait_limit()

    def remove(self, job_id: str) -> bool:
        """Take a waiting job out (cancel); False if it is not waiting here."""
        key = self._where.pop(job_id, None)
        if key is None:
            return False
        group = self._groups[key]
        del group.jobs[job_id]
        if not group.jobs:
            del self._groups[key]
        return True

    def _release(self, key: GroupKey, trigger: Trigger) -> Flush:
        group = self._groups[key]
        limit = self._size_limit(group.cap)
        ids = list(group.jobs)[:limit]
        for job_id in ids:
            del group.jobs[job_id]
            del self._where[job_id]
        if not group.jobs:
            del self._groups[key]
        return Flush(key=key, job_ids=ids, trigger=trigger)

    # -- what the API shows ------------------------------------------------
    def position(self, job_id: str) -> tuple[int, int] | None:
        """``(jobs in this job's group, size that flushes it)``, for status messages."""
        key = self._where.get(job_id)
        if key is None:
            return None
        group = self._groups[key]
        return len(group.jobs), self._size_limit(group.cap)

    def groups(self, now: float) -> list[dict[str, object]]:
        return [
            {
                "provider": k.provider,
                "backend": k.backend,
                "shots": k.shots,
                "queued": len(g.jobs),
                "flush_at_size": self._size_limit(g.cap),
                "oldest_wait_s": round(now - g.oldest, 3),
            }
            for k, g in sorted(self._groups.items())
        ]

    def __len__(self) -> int:
        return len(self._where)
