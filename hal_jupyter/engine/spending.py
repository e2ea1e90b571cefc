"""Spend control as the engine serves it: budgets (read, set, deleted), HELD jobs
released when they fit, what was spent, and priced dry runs (docs/API.md,
"Spend control"). The reservations themselves are made and settled in the
store's transactions (:mod:`.charges`); the rules are :mod:`.budgets`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError

from . import charges, errors, lifecycle
from .budgets import Budget, BudgetBody, decide
from .clock import Clock
from .config import Viewer
from .ledger import Ledger
from .models import Identifier
from .schema import budgets as budget_table
from .schema import jobs
from .tasks import Tasks, every

log = logging.getLogger("hal_jupyter")
GROUPS = ("owner", "provider", "tag", "day")
#: most jobs a spend report reads
SPEND_SCAN = 200_000
#: how often HELD jobs are looked at (a period may have reset); budget changes look at once
RELEASE_EVERY_S = 5.0


NAME = TypeAdapter(Identifier)


def parse_budget(name: Any, body: Any) -> Budget:
    """A budget from a request (or configuration) body; 400 that names the field."""
    try:
        NAME.validate_python(name)
    except ValidationError:
        raise errors.InvalidRequest(f"a budget's name is 1-200 letters, digits and _.:/@- ({name!r} is not)") from None
    if not isinstance(body, dict):
        raise errors.InvalidRequest("a budget is a JSON object: {limit, currency, period, scope, action}")
    try:
        return Budget.of(name, BudgetBody.model_validate(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "budget"
        raise errors.InvalidRequest(f"{where}: {first['msg']}") from None


class Spending:
    def __init__(self, ledger: Ledger, clock: Clock, wake_claims: Callable[[], None], configured: list[dict[str, Any]] | None = None) -> None:
        #: ``HalExtension.budgets``, checked now: a misconfigured budget stops the engine from starting (no job is
        #: accepted without the limit meant for it); the error names the budget and the field
        self.configured = []
        for index, body in enumerate(configured or []):
            try:
                body = dict(body)
                self.configured.append(parse_budget(body.pop("name", None), body))
            except (errors.InvalidRequest, TypeError, ValueError) as exc:
                raise ValueError(f"HalExtension.budgets[{index}] is not a budget: {getattr(exc, 'message', exc)}") from None
        self.ledger = ledger
        self.store = ledger.store
        self.db = ledger.store.db
        self.clock = clock
        self.wake_claims = wake_claims
        self._tasks = Tasks("spending")

    def start(self) -> None:
        self._tasks.spawn(every(self.clock, lambda: RELEASE_EVERY_S, self.release_held, "releasing held jobs"))

    async def stop(self) -> None:
        await self._tasks.cancel()

    # -- budgets ---------------------------------------------------------------------
    async def configure(self) -> None:
        """``HalExtension.budgets``: each set as given (configuration wins over an API change at start)."""
        for budget in self.configured:
            await self.ledger.db(self._put, budget, "config", self.clock.stamp())
        if self.configured:
            await self.release_held()

    async def budgets(self, viewer: Viewer | None) -> list[dict[str, Any]]:
        """The budgets that apply to the viewer (an admin: all), with their current figures."""
        self.store.forget_budgets()  # a listing reads them fresh: what it shows is what the next job meets
        stamp = self.clock.stamp()
        found, used = await self.ledger.db(self._with_usage, stamp)
        shown = [b for b in found if viewer is None or viewer.admin or b.applies_to(viewer.user)]
        return [b.public(used[b.name], stamp) for b in shown]

    async def put(self, name: str, body: Any) -> dict[str, Any]:
        budget = parse_budget(name, body)
        stamp = self.clock.stamp()
        await self.ledger.db(self._put, budget, "api", stamp)
        await self.release_held()  # a raised limit makes room
        found, used = await self.ledger.db(self._with_usage, stamp)
        return budget.public(used[budget.name], stamp)

    async def delete(self, name: str) -> None:
        if not await self.ledger.db(self._delete, name):
            raise errors.NotFound(f"no budget named {name!r}")
        await self.release_held()

    def _put(self, budget: Budget, source: str, stamp: str) -> None:
        row = budget.to_row(source, stamp)
        with self.db.write() as conn:
            done = conn.execute(budget_table.update().where(budget_table.c.name == budget.name).values(row))
            if done.rowcount == 0:
                conn.execute(budget_table.insert().values(row))
            self.db.notify(conn, self.ledger.engine_id, budgets=True)
        self.store.forget_budgets()

    def _delete(self, name: str) -> bool:
        with self.db.write() as conn:
            done = conn.execute(budget_table.delete().where(budget_table.c.name == name))
            self.db.notify(conn, self.ledger.engine_id, budgets=True)
        self.store.forget_budgets()
        return done.rowcount == 1

    def _with_usage(self, stamp: str) -> tuple[list[Budget], dict[str, Any]]:
        with self.db.read() as conn:
            return charges.current(conn, stamp)

    # -- HELD jobs -------------------------------------------------------------------
    async def release_held(self) -> int:
        """HELD jobs that fit now go back to QUEUED (reserved), for an engine to claim."""
        released = await self.ledger.db(self._release, self.clock.stamp())
        if released:
            log.info("hal_jupyter: %d held job(s) released: their budgets have room", len(released))
            self.wake_claims()
        return len(released)

    def _release(self, stamp: str) -> list[dict[str, Any]]:
        with self.db.write() as conn:
            released = charges.release(conn, stamp)
            if released:
                ids = [r["id"] for r in released]
                self.db.notify(conn, self.ledger.engine_id, jobs=ids, queued=ids)
        return released

    # -- what was spent ----------------------------------------------------------------
    async def spend(self, group_by: str, since: str | None, until: str | None, viewer: Viewer | None) -> dict[str, Any]:
        if group_by not in GROUPS:
            raise errors.InvalidRequest(f"group_by must be one of {', '.join(GROUPS)}, not {group_by!r}")
        for name, value in (("since", since), ("until", until)):
            if value is not None and not _iso(value):
                raise errors.InvalidRequest(f"{name} must be an ISO 8601 time (2026-12-01 or 2026-12-01T00:00:00Z), not {value!r}")
        rows = await self.ledger.db(self._spend_rows, since, until, viewer.scope if viewer is not None else None)
        table: dict[tuple[Any, str], dict[str, float]] = defaultdict(lambda: {"estimated": 0.0, "reserved": 0.0, "actual": 0.0})
        for row in rows:
            estimate = json.loads(row["cost_estimate"]) if row["cost_estimate"] else None
            actual = json.loads(row["cost_actual"]) if row["cost_actual"] else None
            keys: list[Any] = {"owner": [row["owner"]], "provider": [row["provider"]], "day": [row["created_at"][:10]]}.get(group_by) or (
                json.loads(row["tags"] or "[]") or [None]
            )
            for key in keys:
                if estimate:
                    cell = table[(key, estimate.get("currency", "USD"))]
                    cell["estimated"] += float(estimate.get("amount") or 0)
                    if row["status"] not in lifecycle.TERMINAL_NAMES and row["status"] != lifecycle.JobStatus.HELD.value:
                        cell["reserved"] += float(estimate.get("amount") or 0)
                if actual:
                    table[(key, actual.get("currency", "USD"))]["actual"] += float(actual.get("amount") or 0)
        out = [{"key": key, **{k: round(v, 6) for k, v in cell.items()}, "currency": currency} for (key, currency), cell in table.items()]
        out.sort(key=lambda r: (str(r["key"]), r["currency"]))
        return {"group_by": group_by, "rows": out}

    def _spend_rows(self, since: str | None, until: str | None, owner: str | None) -> list[dict[str, Any]]:
        cols = (jobs.c.owner, jobs.c.provider, jobs.c.tags, jobs.c.created_at, jobs.c.status, jobs.c.cost_estimate, jobs.c.cost_actual)
        query = sa.select(*cols).order_by(jobs.c.seq.desc()).limit(SPEND_SCAN)
        if since:
            query = query.where(jobs.c.created_at >= since)
        if until:
            query = query.where(jobs.c.created_at < until)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- dry runs ---------------------------------------------------------------------
    async def judge(self, rows: list[dict[str, Any]], shares: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """What accepting these new jobs (one request: all or none) would do, stored nowhere:
        each one's price (``shares``: with the batching discount), its outcome and the
        budgets it would touch."""
        stamp = self.clock.stamp()
        found, used = await self.ledger.db(self._with_usage, stamp)
        decision = decide(found, used, rows)
        refused = decision.refused is not None
        out = []
        for row, outcome, remaining in zip(rows, decision.outcomes, decision.remaining):
            out.append({
                "cost_estimate": shares.get(row["id"]) or row["cost_estimate"], "reserved": row["cost_estimate"],
                "outcome": "refuse" if refused else outcome,
                "budgets": [{"name": n, "remaining_after": r} for n, r in remaining],
                "provider": row["provider"], "backend": row["backend"], "shots": row["shots"],
            })
        return {"dry_run": True, "outcome": "refuse" if refused else ("hold" if "hold" in decision.outcomes else "accept"), "jobs": out}


def _iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


__all__ = ["GROUPS", "Spending", "parse_budget"]
