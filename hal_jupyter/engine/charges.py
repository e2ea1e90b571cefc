"""Budgets in the store: reservations made with the transaction that accepts jobs,
settled with the transition that ends them, released HELD jobs.

Every function takes the open write transaction of its caller
(:mod:`.store`): a job is accepted with its reservations or not at all, and
ends with its charge settled or not at all. On PostgreSQL the budgets a
transaction reserves against are locked first (``SELECT ... FOR UPDATE``, in
name order, so two transactions never wait on each other in a circle): two
servers that accept jobs against one budget at once take turns, and the
second sees what the first reserved. SQLite's write transactions
(``BEGIN IMMEDIATE``) are one at a time already.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from . import errors, lifecycle
from .budgets import Budget, Decision, Usage, decide, period_key
from .schema import budgets as budget_table
from .schema import charges, jobs

Row = dict[str, Any]
#: most HELD jobs one release pass looks at (oldest first)
RELEASE_SCAN = 500
HELD = lifecycle.JobStatus.HELD.value


def load(conn: sa.Connection) -> list[Budget]:
    return [Budget.from_row(r) for r in conn.execute(sa.select(budget_table).order_by(budget_table.c.name))]


def locked(conn: sa.Connection, found: list[Budget]) -> list[Budget]:
    """These budgets as they are now, their rows locked until the transaction ends
    (PostgreSQL; a budget deleted meanwhile is left out)."""
    names = sorted(b.name for b in found)
    query = sa.select(budget_table).where(budget_table.c.name.in_(names)).order_by(budget_table.c.name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return [Budget.from_row(r) for r in conn.execute(query)]


def usage(conn: sa.Connection, found: list[Budget], stamp: str) -> dict[str, Usage]:
    """What each budget has spent and reserved in its current period."""
    if not found:
        return {}
    used = {b.name: Usage() for b in found}
    keys = [(b.name, period_key(b.period, stamp)) for b in found]
    query = (
        sa.select(charges.c.budget, charges.c.spent, sa.func.sum(charges.c.amount))
        .where(sa.tuple_(charges.c.budget, charges.c.period).in_(keys))
        .group_by(charges.c.budget, charges.c.spent)
    )
    for name, spent, total in conn.execute(query):
        if spent:
            used[name].spent += float(total or 0.0)
        else:
            used[name].reserved += float(total or 0.0)
    return used


def matching(found: list[Budget], rows: Sequence[Row]) -> list[Budget]:
    return [b for b in found if any(b.matches(r.get("owner"), r["provider"], r.get("tags") or []) for r in rows)]


def reserve(conn: sa.Connection, parts: Sequence[Sequence[Row]], stamp: str, known: list[Budget]) -> list[errors.HalError | None]:
    """Budgets for new jobs, each part (one submission: all or none) in turn: a part past a
    ``refuse`` budget gets its :class:`errors.BudgetExceeded` (and nothing of it is stored),
    jobs past only ``hold`` budgets become HELD, the others reserve their estimate. Rows are
    updated in place (``status``, ``status_message``, ``budgets``); their charges are written.
    ``known``: the budgets the caller knows of (its cache); those that match are read again, locked."""
    outcome: list[errors.HalError | None] = [None] * len(parts)
    relevant = matching(known, [r for part in parts for r in part]) if known else []
    if relevant:
        relevant = matching(locked(conn, relevant), [r for part in parts for r in part])
    if not relevant:
        return outcome
    used = usage(conn, relevant, stamp)
    rows_out: list[Row] = []
    for index, part in enumerate(parts):
        trial = {name: Usage(u.spent, u.reserved) for name, u in used.items()}
        decision = decide(relevant, trial, list(part))
        if decision.refused is not None:
            budget, before, requested = decision.refused
            outcome[index] = errors.BudgetExceeded(
                f"budget {budget.name!r} would be exceeded: {before.spent:.4g} spent and {before.reserved:.4g} reserved of "
                f"{budget.limit:g} {budget.currency} this {budget.period}; this request needs {requested:.4g} more. Nothing was stored.",
                budget=budget.name, limit=budget.limit, spent=before.spent, reserved=before.reserved, requested=requested,
            )
            continue
        used = trial
        by_name = {b.name: b for b in relevant}
        for row, result, names, reason in zip(part, decision.outcomes, decision.reserved, decision.reasons):
            if result == "hold":
                row["status"], row["status_message"] = HELD, reason
            if names:
                row["budgets"] = names
                rows_out += [_charge(row["id"], by_name[n], stamp, row.get("cost_estimate")) for n in names]
    if rows_out:
        conn.execute(charges.insert(), rows_out)
    return outcome


def _charge(job_id: str, budget: Budget, stamp: str, cost: dict[str, Any] | None) -> Row:
    return {"job_id": job_id, "budget": budget.name, "period": period_key(budget.period, stamp), "amount": budget.amount_of(cost), "spent": False}


def settle(conn: sa.Connection, t: lifecycle.Transition, moved: list[Row]) -> None:
    """After ``t`` moved jobs (their rows as the store has them now): a new estimate (the
    batch's share, at SENT) becomes the reservation; an ending turns it into what the job
    cost (its ``cost_actual``, else its estimate), or releases it if the job was never sent."""
    charged = [r for r in moved if r.get("budgets")]
    if not charged:
        return
    if not t.ends:
        for row in charged:
            if "cost_estimate" in t.fields and row.get("cost_estimate") is not None:
                _set_amounts(conn, row, row["cost_estimate"], spent=False)
        return
    for row in charged:
        if row.get("submitted_at") is None:  # never sent: nothing can be billed
            conn.execute(charges.delete().where(charges.c.job_id == row["id"]))
        else:
            _set_amounts(conn, row, row.get("cost_actual") or row.get("cost_estimate"), spent=True)


def _set_amounts(conn: sa.Connection, row: Row, cost: Any, spent: bool) -> None:
    cost = json.loads(cost) if isinstance(cost, str) else cost
    names = json.loads(row["budgets"]) if isinstance(row["budgets"], str) else row["budgets"]
    found = {b.name: b for b in map(Budget.from_row, conn.execute(sa.select(budget_table).where(budget_table.c.name.in_(names))))}
    for name in names:
        budget = found.get(name)  # a budget deleted since: its charge is settled all the same
        amount = budget.amount_of(cost) if budget is not None else max(0.0, float((cost or {}).get("amount") or 0.0))
        conn.execute(charges.update().where(charges.c.job_id == row["id"], charges.c.budget == name).values(amount=amount, spent=spent))


def release(conn: sa.Connection, stamp: str) -> list[Row]:
    """HELD jobs that fit their budgets now (oldest first), reserved and moved by
    :data:`.lifecycle.RELEASE` for any engine to claim (nobody drives a HELD job);
    returns them. One query when none is held."""
    query = (
        sa.select(jobs.c.id, jobs.c.owner, jobs.c.provider, jobs.c.tags, jobs.c.cost_estimate)
        .where(jobs.c.status == HELD).order_by(jobs.c.seq).limit(RELEASE_SCAN)
    )
    held = [dict(r._mapping) for r in conn.execute(query)]
    if not held:
        return []
    for row in held:
        row["tags"] = json.loads(row["tags"] or "[]")
        row["cost_estimate"] = json.loads(row["cost_estimate"]) if row["cost_estimate"] else None
    relevant = matching(locked(conn, matching(load(conn), held)), held)
    used = usage(conn, relevant, stamp)
    decision: Decision = decide(relevant, used, held) if relevant else Decision(["accept"] * len(held), [[]] * len(held), [None] * len(held))
    by_name = {b.name: b for b in relevant}
    released, rows_out = [], []
    for row, result, names in zip(held, decision.outcomes, decision.reserved):
        if result != "accept":
            continue  # a later job may still fit: each is judged on its own
        done = conn.execute(
            jobs.update()
            .where(jobs.c.id == row["id"], jobs.c.status.in_(lifecycle.RELEASE.source_names))
            .values(
                status=lifecycle.RELEASE.target.value, status_message=None, engine_id=None, updated_at=stamp,  # type: ignore[union-attr]
                budgets=json.dumps(names) if names else None,
            )
        )
        if done.rowcount == 1:
            released.append(row)
            rows_out += [_charge(row["id"], by_name[n], stamp, row["cost_estimate"]) for n in names]
    if rows_out:
        conn.execute(charges.insert(), rows_out)
    return released


__all__ = ["load", "locked", "release", "reserve", "settle", "usage"]
