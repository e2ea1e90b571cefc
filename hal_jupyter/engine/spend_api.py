"""The engine's v1.2 endpoints for spend control and sessions (docs/API.md, "Spend
control", "Execution modes"): a part of :class:`.engine.Engine`, kept apart so each
reads in one sitting."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from . import errors
from .boundary import provider_calls
from .config import Viewer
from .contract import JobSpec


def _admin(viewer: Viewer | None, what: str) -> None:
    if viewer is not None and not viewer.admin:
        raise errors.Forbidden(f"{what} is for the server's admin_users (HalExtension.admin_users)")


class SpendApi:
    """Budgets, spend, dry runs and sessions, as engine methods (every one waits for the engine's start).
    A mixin of :class:`.engine.Engine`, whose parts it uses: ``spending``, ``intake``, ``registry``, ``scheduler``."""

    spending: Any
    intake: Any
    registry: Any
    scheduler: Any
    _cpu: Any

    async def start(self) -> None:  # (the engine's)
        raise NotImplementedError

    async def budgets(self, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        await self.start()
        return await self.spending.budgets(viewer)

    async def put_budget(self, name: str, body: Any, viewer: Viewer | None = None) -> dict[str, Any]:
        await self.start()
        _admin(viewer, "setting a budget")
        return await self.spending.put(name, body)

    async def delete_budget(self, name: str, viewer: Viewer | None = None) -> None:
        await self.start()
        _admin(viewer, "deleting a budget")
        await self.spending.delete(name)

    async def spend(
        self, group_by: str = "provider", since: str | None = None, until: str | None = None, viewer: Viewer | None = None
    ) -> dict[str, Any]:
        await self.start()
        return await self.spending.spend(group_by, since, until, viewer)

    async def dry_run(self, kind: str, body: Any, owner: str | None = None) -> dict[str, Any]:
        """Price a request as :meth:`submit` would take it (batching discount included), say
        which budgets it touches and whether it would be accepted, held or refused; stores nothing."""
        await self.start()
        parsed = self.intake.parse(kind, body)
        loop = asyncio.get_running_loop()
        new = await loop.run_in_executor(self._cpu, self.intake.prepare, parsed, owner)
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in new.rows:
            groups[row["group_key"]].append(row)
        shares: dict[str, dict[str, Any]] = {}
        for rows in groups.values():
            provider = self.registry.require(rows[0]["provider"])
            specs = [JobSpec(r["id"], r["kind"], r["backend"], r["shots"], r["payload"], new.parsed.get(r["id"])) for r in rows]
            with provider_calls(provider.name, "price the jobs", about_job=True):
                priced = await loop.run_in_executor(self._cpu, provider.estimate_batch, specs)
            shares.update({job_id: cost.model_dump() for job_id, cost in priced.items()})
        return await self.spending.judge(new.rows, shares)

    async def sessions(self, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        await self.start()
        return await self.scheduler.sessions.list(viewer)

    async def close_session(self, name: str, viewer: Viewer | None = None) -> list[dict[str, Any]]:
        await self.start()
        return await self.scheduler.sessions.close(name, viewer)


__all__ = ["SpendApi"]
