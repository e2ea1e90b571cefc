"""Spend control and sessions from Python (docs/API.md, "Spend control", "Execution
modes"): what a request would cost before it is sent, the budgets that limit it,
what was spent, and the provider sessions jobs share. A part of
:class:`~hal_jupyter.Hal`, kept apart as the engine keeps its ``spend_api``.
"""

from __future__ import annotations

from typing import Any

from . import display
from .transport import Transport


class Estimate(dict[str, Any]):
    """A dry run's answer (``POST .../jobs?dry_run=true``): the JSON object itself, so
    ``est["outcome"]`` and ``est["jobs"][0]["cost_estimate"]`` read as documented,
    plus ``outcome``, ``jobs`` and ``total`` for convenience, and a table in a notebook.
    Nothing was submitted or stored."""

    @property
    def outcome(self) -> str:
        """``accept``, ``hold`` (a ``hold`` budget would keep the jobs HELD) or ``refuse``."""
        return self["outcome"]

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Per job: ``cost_estimate`` (with the batching discount), ``reserved``, ``outcome``,
        ``budgets`` (``name``, ``remaining_after``), ``provider``, ``backend``, ``shots``."""
        return self["jobs"]

    @property
    def total(self) -> dict[str, float]:
        """The estimates summed per currency (``{"USD": 1.5}``); empty when none was priced."""
        out: dict[str, float] = {}
        for job in self.jobs:
            cost = job.get("cost_estimate")
            if cost:
                out[cost.get("currency", "USD")] = round(out.get(cost.get("currency", "USD"), 0.0) + float(cost.get("amount") or 0), 6)
        return out

    def _repr_html_(self) -> str:
        return display.estimate(self)


class SpendControl:
    """``Hal``'s budgets, spend report, dry runs and sessions (each one call to the engine)."""

    transport: Transport

    def estimate_many(self, kind: str, requests: list[dict[str, Any]]) -> Estimate:
        """What submitting these requests (as :meth:`Hal.submit_many` would: one bulk
        request, all or none) would cost, and whether the budgets would accept, hold
        or refuse them. Nothing is stored."""
        return Estimate(self.transport.dry_run(kind, {"jobs": requests}))

    def budgets(self) -> list[dict[str, Any]]:
        """The budgets that apply to this user (an admin: all), with ``spent``, ``reserved``,
        ``remaining`` and ``resets_at`` for the current period."""
        return self.transport.budgets()

    def set_budget(self, name: str, **body: Any) -> dict[str, Any]:
        """Create or replace a budget: ``limit`` (required), ``currency`` ("USD"), ``period``
        ("day", "month", "total"), ``scope`` ({"owner", "provider", "tag"}), ``action``
        ("refuse", "hold"). On a server, for its ``admin_users`` only (``Forbidden`` else)."""
        return self.transport.put_budget(name, body)

    def delete_budget(self, name: str) -> None:
        """Remove a budget (``NotFound`` if there is none of that name); HELD jobs it kept are released."""
        self.transport.delete_budget(name)

    def spend(self, group_by: str = "provider", since: str | None = None, until: str | None = None) -> dict[str, Any]:
        """What was estimated, is reserved and was actually spent, per ``owner``, ``provider``,
        ``tag`` or ``day``, for jobs made in ``[since, until)`` (ISO 8601 times)."""
        return self.transport.spend(group_by, since, until)

    def sessions(self) -> list[dict[str, Any]]:
        """Open provider sessions (``execution={"mode": "session", "session": name}``) and their jobs."""
        return self.transport.sessions()

    def close_session(self, name: str) -> list[dict[str, Any]]:
        """Close the provider session(s) of this name now rather than when idle; those closed."""
        return self.transport.close_session(name)


__all__ = ["Estimate", "SpendControl"]
