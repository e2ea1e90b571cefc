"""Budgets: spending limits on jobs' estimated and actual costs (docs/API.md, "Spend control").

A budget has a limit in one currency over a period (a UTC day, a UTC month,
or in total) and a scope (an owner, a provider and/or a tag; each left out
matches every job). A job's estimate is reserved against every budget whose
scope matches it, in the store transaction that accepts it
(:mod:`.charges`), so that servers sharing a store never pass a limit
together. Past a limit, ``refuse`` answers 402 and stores nothing; ``hold``
accepts the job as HELD until there is room again (the period resets, the
limit is raised, a reservation is released).

This module is pure: the budget's shape, what it matches, its period, and the
decision for a run of jobs given what is used already. It reads no clock: the
caller passes the time as an ISO stamp.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints
from typing_extensions import Annotated

from .models import Identifier, Tag

Period = Literal["day", "month", "total"]
Action = Literal["refuse", "hold"]
#: what a limit may be off by before a reservation counts as past it (float sums)
EPSILON = 1e-9


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    owner: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    provider: Identifier | None = None
    tag: Tag | None = None


class BudgetBody(BaseModel):
    """What ``PUT /hal/api/budgets/{name}`` takes (and ``HalExtension.budgets`` lists, with a ``name``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    limit: StrictFloat | StrictInt = Field(ge=0, allow_inf_nan=False)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3,8}$")] = "USD"
    period: Period = "month"
    scope: Scope = Field(default_factory=Scope)
    action: Action = "refuse"


@dataclass(frozen=True)
class Budget:
    name: str
    limit: float
    currency: str
    period: Period
    scope: dict[str, str] = field(default_factory=dict)
    action: Action = "refuse"

    @classmethod
    def of(cls, name: str, body: BudgetBody) -> Budget:
        return cls(name, float(body.limit), body.currency, body.period, body.scope.model_dump(exclude_none=True), body.action)

    @classmethod
    def from_row(cls, row: Any) -> Budget:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(m["name"], float(m["limit_amount"]), m["currency"], m["period"], json.loads(m["scope"]), m["action"])

    def to_row(self, source: str, stamp: str) -> dict[str, Any]:
        return {
            "name": self.name, "limit_amount": self.limit, "currency": self.currency, "period": self.period,
            "scope": json.dumps(self.scope, sort_keys=True), "action": self.action, "source": source, "updated_at": stamp,
        }

    def matches(self, owner: str | None, provider: str, tags: list[str]) -> bool:
        scope = self.scope
        return (
            ("owner" not in scope or scope["owner"] == owner)
            and ("provider" not in scope or scope["provider"] == provider)
            and ("tag" not in scope or scope["tag"] in tags)
        )

    def applies_to(self, user: str | None) -> bool:
        """Whether a user sees it: budgets of their own, or of everyone."""
        return "owner" not in self.scope or self.scope["owner"] == user

    def amount_of(self, cost: dict[str, Any] | None) -> float:
        """What a cost counts against this budget (nothing in another currency)."""
        if not cost or cost.get("currency", "USD") != self.currency:
            return 0.0
        return max(0.0, float(cost.get("amount") or 0.0))

    def public(self, used: Usage, stamp: str) -> dict[str, Any]:
        """The budget of docs/API.md, with what is spent and reserved in the current period."""
        return {
            "name": self.name, "limit": self.limit, "currency": self.currency, "period": self.period,
            "scope": dict(self.scope), "action": self.action,
            "spent": round(used.spent, 6), "reserved": round(used.reserved, 6),
            "remaining": round(max(0.0, self.limit - used.spent - used.reserved), 6),
            "resets_at": resets_at(self.period, stamp),
        }


@dataclass
class Usage:
    spent: float = 0.0
    reserved: float = 0.0

    @property
    def total(self) -> float:
        return self.spent + self.reserved


def period_key(period: str, stamp: str) -> str:
    """The period a charge made at ``stamp`` (ISO, UTC) falls in: ``2026-12-03``, ``2026-12`` or ``total``."""
    if period == "day":
        return stamp[:10]
    if period == "month":
        return stamp[:7]
    return "total"


def resets_at(period: str, stamp: str) -> str | None:
    """When the period that holds ``stamp`` ends (None: a total never resets)."""
    if period == "total":
        return None
    now = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if period == "day":
        start = datetime(now.year, now.month, now.day, tzinfo=timezone.utc).timestamp() + 86400
        return datetime.fromtimestamp(start, timezone.utc).isoformat()
    days = calendar.monthrange(now.year, now.month)[1]
    first = datetime(now.year, now.month, 1, tzinfo=timezone.utc).timestamp() + days * 86400
    return datetime.fromtimestamp(first, timezone.utc).isoformat()


@dataclass
class Decision:
    """What a run of jobs meets: each job's outcome ("accept", "hold", "refuse"), the
    budgets it reserves against, and why (the budget past its limit)."""

    outcomes: list[str]
    reserved: list[list[str]]
    reasons: list[str | None]
    #: the first refusal: (budget, its usage before the job, the job's amount)
    refused: tuple[Budget, Usage, float] | None = None
    #: each job's budgets with what remains after it: [(name, remaining_after)]
    remaining: list[list[tuple[str, float]]] = field(default_factory=list)


def decide(budgets: list[Budget], used: dict[str, Usage], jobs: list[dict[str, Any]]) -> Decision:
    """Each job in order against the budgets that match it, reserving as it goes (``used``
    is updated for the jobs accepted). A job past a ``refuse`` budget is refused, past
    only ``hold`` budgets held (nothing reserved: it reserves when released)."""
    out = Decision([], [], [])
    for job in jobs:
        matched = [b for b in budgets if b.matches(job.get("owner"), job["provider"], job.get("tags") or [])]
        over = [b for b in matched if used[b.name].total + b.amount_of(job.get("cost_estimate")) > b.limit + EPSILON]
        refusing = [b for b in over if b.action == "refuse"]
        remaining = [(b.name, round(b.limit - used[b.name].total - b.amount_of(job.get("cost_estimate")), 6)) for b in matched]
        out.remaining.append(remaining)
        if refusing:
            b = refusing[0]
            if out.refused is None:
                out.refused = (b, Usage(used[b.name].spent, used[b.name].reserved), b.amount_of(job.get("cost_estimate")))
            out.outcomes.append("refuse")
            out.reserved.append([])
            out.reasons.append(f"budget {b.name!r} has {max(0.0, b.limit - used[b.name].total):.4g} {b.currency} left")
        elif over:
            b = over[0]
            out.outcomes.append("hold")
            out.reserved.append([])
            out.reasons.append(
                f"held by budget {b.name!r}: {used[b.name].total:.4g} of {b.limit:g} {b.currency} used this {b.period}; "
                f"released when there is room (the period resets or the limit is raised)"
            )
        else:
            for b in matched:
                used[b.name].reserved += b.amount_of(job.get("cost_estimate"))
            out.outcomes.append("accept")
            out.reserved.append([b.name for b in matched])
            out.reasons.append(None)
    return out


__all__ = ["Budget", "BudgetBody", "Decision", "Scope", "Usage", "decide", "period_key", "resets_at"]
