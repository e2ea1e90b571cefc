"""A transition as SQL: one conditional ``UPDATE ... RETURNING`` per chunk of jobs
(:meth:`.store.JobStore.transition`), with each job's result, and the budget
charges the transition settles (:func:`.charges.settle`), in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from . import charges
from .lifecycle import Transition
from .schema import JSON_COLUMNS, dump_result, jobs, results

#: jobs per statement: a transition of more jobs is one statement per this many
CHUNK = 500
#: what a transition that may settle a budget's charge reads back of each job it moved
SETTLE_COLUMNS = (jobs.c.budgets, jobs.c.submitted_at, jobs.c.cost_actual, jobs.c.cost_estimate)
#: ``(job_id, fence, fields, result)``: one job's part of a transition
Change = tuple[str, int, dict[str, Any], "dict[str, Any] | None"]


_UNSET = object()


def transition(conn: sa.Connection, t: Transition, engine_id: str, stamp: str, changes: Sequence[Change]) -> set[str]:
    """``t`` for ``changes`` as one ``UPDATE ... RETURNING`` per :data:`CHUNK` jobs: fields
    the same for every job are plain values, fields that differ a ``CASE`` on the id."""
    applied: set[str] = set()
    for chunk in chunks(list(changes), CHUNK):
        for _, _, fields, _ in chunk:
            t.check(fields)
        values: dict[str, Any] = {"updated_at": stamp}
        if t.target is not None:
            values["status"] = t.target.value
        for name in t.stamps:
            values[name] = sa.func.coalesce(jobs.c[name], stamp)
        for name in t.clears:
            values[name] = None
        if t.ends:
            values["cancel_requested"] = False
        if t.counts_attempt:
            values["attempts"] = jobs.c.attempts + 1
        for name in sorted({name for _, _, fields, _ in chunk for name in fields}):
            values[name] = _column_value(name, [(job_id, fields.get(name, _UNSET)) for job_id, _, fields, _ in chunk])
        statement = (
            jobs.update()
            .where(
                sa.tuple_(jobs.c.id, jobs.c.fence).in_([(job_id, fence) for job_id, fence, _, _ in chunk]),
                jobs.c.engine_id == engine_id,
                jobs.c.status.in_(t.source_names),
            )
            .values(values)
        )
        settles = t.ends or "cost_estimate" in t.fields
        if settles:
            found = [dict(r._mapping) for r in conn.execute(statement.returning(jobs.c.id, *SETTLE_COLUMNS))]
            charges.settle(conn, t, found)
            moved = {r["id"] for r in found}
        else:
            moved = {job_id for (job_id,) in conn.execute(statement.returning(jobs.c.id))}
        applied |= moved
        if t.stores_result:
            rows = [{"job_id": job_id, "data": dump_result(result)} for job_id, _, _, result in chunk if result is not None and job_id in moved]
            if rows:
                conn.execute(results.insert(), rows)
    return applied


def _column_value(name: str, values: list[tuple[str, Any]]) -> Any:
    """One column's new value for a chunk of jobs: the value itself when every job gets
    the same one, else a ``CASE`` on the job id (a job that sets nothing keeps its own)."""
    encoded = [(job_id, json.dumps(v) if name in JSON_COLUMNS and v is not None and v is not _UNSET else v) for job_id, v in values]
    distinct = {json.dumps(v, sort_keys=True, default=str) for _, v in encoded if v is not _UNSET}
    if len(distinct) == 1 and all(v is not _UNSET for _, v in encoded):
        return encoded[0][1]
    column = jobs.c[name]
    whens = [(jobs.c.id == job_id, sa.literal(v, column.type) if v is not None else sa.null()) for job_id, v in encoded if v is not _UNSET]
    return sa.case(*whens, else_=column)


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


__all__ = ["CHUNK", "Change", "chunks", "transition"]
