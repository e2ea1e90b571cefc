"""Budgets in the store: reservations made with the transaction that accepts jobs,
settled with the transition that ends them, released HELD jobs.

Every function takes the open write transaction of its caller
(:mod:`.store`): a job is accepted with its reservations or not at all, and
ends with its charge settled or not at all. Each budget keeps its totals per
period (``hal_budget_usage``: spent, reserved), updated with every charge, so a
reservation reads one row per budget however many jobs the period holds. On
PostgreSQL a reservation locks the totals it reads (``SELECT ... FOR UPDATE``,
in name order, so two transactions never wait on each other in a circle): two
servers that accept jobs against one budget at once take turns, and the second
sees what the first reserved. SQLite's write transactions (``BEGIN
IMMEDIATE``) are one at a time already.
"""

from __future__ import annotations

import json
import re
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


_CURRENT = (
    "SELECT b.name, b.limit_amount, b.currency, b.period, b.scope, b.action, u.period AS key, u.spent, u.reserved "
    "FROM hal_budgets b JOIN hal_budget_usage u ON u.budget = b.name "
    "WHERE u.period IN (:day, :month, 'total') ORDER BY b.name, u.period"
)
#: the budgets with their totals of the current periods; on PostgreSQL the totals' rows locked, in name order
#: (sorted before they are locked: two transactions never wait on each other in a circle)
CURRENT, CURRENT_LOCKED = sa.text(_CURRENT), sa.text(_CURRENT + " FOR UPDATE OF u")
ENSURE = sa.text("INSERT INTO hal_budget_usage (budget, period, spent, reserved) VALUES (:budget, :period, 0, 0) ON CONFLICT DO NOTHING")
_ADD = "UPDATE hal_budget_usage SET spent = spent + :spent, reserved = reserved + :reserved WHERE budget = :budget AND period = :period"
_CHARGE = "INSERT INTO hal_charges (job_id, budget, period, amount, spent) VALUES (:job_id, :budget, :period, :amount, :spent)"
ADD, CHARGE = sa.text(_ADD), sa.text(_CHARGE)
#: the same for psycopg's own pipeline (:meth:`.database.Database.insert`)
PG_ADD, PG_CHARGE = (re.sub(r":(\w+)", r"%(\1)s", sql) for sql in (_ADD, _CHARGE))
#: ``(statement, psycopg SQL, rows)``: writes a reservation leaves for the accepting insert to send
Writes = list[tuple[sa.TextClause, str, list[dict[str, Any]]]]


def current(conn: sa.Connection, stamp: str, needed: set[str] | None = None) -> tuple[list[Budget], dict[str, Usage]]:
    """The budgets as they are now and what each has spent and reserved in its current period.

    ``needed``: the budgets a reservation is about to touch: their totals' rows are made if
    the period has none yet (its first job), and locked (PostgreSQL) until the transaction
    ends, so that servers reserving against one budget take turns. None: a read, nothing locked."""
    params = {"day": stamp[:10], "month": stamp[:7]}
    lock = needed is not None and conn.dialect.name == "postgresql"
    found, used = _current(conn, CURRENT_LOCKED if lock else CURRENT, params, stamp)
    if needed is None:
        every = load(conn)
        return every, {b.name: used.get(b.name, Usage()) for b in every}
    missing = needed - set(found)
    if missing:  # a period's first reservation: its totals' row, then read again (locked)
        fresh = {b.name: b for b in load(conn) if b.name in missing}
        if fresh:
            conn.execute(ENSURE, [{"budget": n, "period": period_key(b.period, stamp)} for n, b in sorted(fresh.items())])
            found, used = _current(conn, CURRENT_LOCKED if lock else CURRENT, params, stamp)
    return [b for b in found.values() if b.name in needed], used


def _current(conn: sa.Connection, query: Any, params: dict[str, str], stamp: str) -> tuple[dict[str, Budget], dict[str, Usage]]:
    found: dict[str, Budget] = {}
    used: dict[str, Usage] = {}
    for row in conn.execute(query, params):
        budget = Budget.from_row(row)
        if row.key == period_key(budget.period, stamp):  # (a budget whose period changed keeps its old totals apart)
            found[budget.name], used[budget.name] = budget, Usage(float(row.spent), float(row.reserved))
    return found, used


def _add(conn: sa.Connection, deltas: dict[tuple[str, str], list[float]]) -> None:
    """Add ``[spent, reserved]`` to each (budget, period)'s totals."""
    rows = [{"budget": b, "period": p, "spent": s, "reserved": r} for (b, p), (s, r) in sorted(deltas.items()) if s or r]
    if rows:
        conn.execute(ADD, rows)


def matching(found: list[Budget], rows: Sequence[Row]) -> list[Budget]:
    return [b for b in found if any(b.matches(r.get("owner"), r["provider"], r.get("tags") or []) for r in rows)]


def reserve(
    conn: sa.Connection, parts: Sequence[Sequence[Row]], stamp: str, known: list[Budget], writes: Writes | None = None
) -> list[errors.HalError | None]:
    """Budgets for new jobs, each part (one submission: all or none) in turn: a part past a
    ``refuse`` budget gets its :class:`errors.BudgetExceeded` (and nothing of it is stored),
    jobs past only ``hold`` budgets become HELD, the others reserve their estimate. Rows are
    updated in place (``status``, ``status_message``, ``budgets``); their charges are written.
    ``known``: the budgets the caller knows of (its cache); those that match are read again, locked.
    ``writes``: given, the charges and totals are added there, for the caller to send with its
    insert (one round trip on PostgreSQL), instead of written here."""
    outcome: list[errors.HalError | None] = [None] * len(parts)
    everything = [r for part in parts for r in part]
    relevant = matching(known, everything) if known else []
    if not relevant:
        return outcome
    fresh, used = current(conn, stamp, {b.name for b in relevant})
    relevant = matching(fresh, everything)
    if not relevant:
        return outcome
    rows_out: list[Row] = []
    by_name = {b.name: b for b in relevant}
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
        for row, result, names, reason in zip(part, decision.outcomes, decision.reserved, decision.reasons):
            if result == "hold":
                row["status"], row["status_message"] = HELD, reason
            if names:
                row["budgets"] = names
                rows_out += [_charge(row["id"], by_name[n], stamp, row.get("cost_estimate")) for n in names]
    if writes is not None:
        writes += _charge_writes(rows_out)
    else:
        _write_charges(conn, rows_out)
    return outcome


def _charge_writes(rows: list[Row]) -> Writes:
    """New reservations: their charges, and what they add to their budgets' totals."""
    if not rows:
        return []
    totals: dict[tuple[str, str], float] = {}
    for row in rows:
        totals[(row["budget"], row["period"])] = totals.get((row["budget"], row["period"]), 0.0) + row["amount"]
    added = [{"budget": b, "period": p, "spent": 0.0, "reserved": r} for (b, p), r in sorted(totals.items())]
    return [(CHARGE, PG_CHARGE, rows), (ADD, PG_ADD, added)]


def _write_charges(conn: sa.Connection, rows: list[Row]) -> None:
    for statement, _, params in _charge_writes(rows):
        conn.execute(statement, params)


def _charge(job_id: str, budget: Budget, stamp: str, cost: dict[str, Any] | None) -> Row:
    return {"job_id": job_id, "budget": budget.name, "period": period_key(budget.period, stamp), "amount": budget.amount_of(cost), "spent": False}


def settle(conn: sa.Connection, t: lifecycle.Transition, moved: list[Row]) -> None:
    """After ``t`` moved jobs (their rows as the store has them now): a new estimate (the
    batch's share, at SENT) becomes the reservation; an ending turns it into what the job
    cost (its ``cost_actual``, else its estimate), or releases it if the job was never sent.
    The budgets' totals follow each charge."""
    charged = {r["id"]: r for r in moved if r.get("budgets")}
    if not charged or not (t.ends or "cost_estimate" in t.fields):
        return
    found = {b.name: b for b in load(conn)}
    held = conn.execute(sa.select(charges).where(charges.c.job_id.in_(list(charged)), charges.c.spent.is_(False))).all()
    deltas: dict[tuple[str, str], list[float]] = {}
    for charge in held:
        row = charged[charge.job_id]
        delta = deltas.setdefault((charge.budget, charge.period), [0.0, 0.0])
        delta[1] -= charge.amount  # the reservation goes, whatever follows
        where = (charges.c.job_id == charge.job_id, charges.c.budget == charge.budget)
        if t.ends and row.get("submitted_at") is None:  # never sent: nothing can be billed
            conn.execute(charges.delete().where(*where))
            continue
        cost = _json(row.get("cost_actual") or row.get("cost_estimate")) if t.ends else _json(row.get("cost_estimate"))
        budget = found.get(charge.budget)  # a budget deleted since: its charge is settled all the same
        amount = budget.amount_of(cost) if budget is not None else max(0.0, float((cost or {}).get("amount") or 0.0))
        delta[0 if t.ends else 1] += amount
        conn.execute(charges.update().where(*where).values(amount=amount, spent=t.ends))
    _add(conn, deltas)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


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
    relevant = matching(load(conn), held)
    if relevant:
        fresh, used = current(conn, stamp, {b.name for b in relevant})
        relevant = matching(fresh, held)
    else:
        used = {}
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
    _write_charges(conn, rows_out)
    return released


__all__ = ["current", "load", "release", "reserve", "settle"]
