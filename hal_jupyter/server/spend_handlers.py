"""The v1.2 REST handlers of spend control and sessions (docs/API.md, "Spend
control", "Execution modes"): parse, call the engine, write."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import PREFIX, HalHandler

NAME = r"(?P<name>[^/]+)"


class BudgetsHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"budgets": await self.engine.budgets(self.viewer)})


class BudgetHandler(HalHandler):
    """``PUT`` and ``DELETE /budgets/{name}``: for ``admin_users`` only (403 otherwise)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        found = [b for b in await self.engine.budgets(self.viewer) if b["name"] == name]
        if not found:
            from ..engine import errors

            raise errors.NotFound(f"no budget named {name!r}")
        self.reply(found[0])

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        self.reply(await self.engine.put_budget(name, self.json_body(), self.viewer))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.engine.delete_budget(name, self.viewer)
        self.set_status(204)
        self.finish()


class SpendHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(
            await self.engine.spend(
                self.get_query_argument("group_by", "provider"),
                self.get_query_argument("since", None),
                self.get_query_argument("until", None),
                self.viewer,
            )
        )


class SessionsHandler(HalHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"sessions": await self.engine.sessions(self.viewer)})


class SessionCloseHandler(HalHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.reply({"sessions": await self.engine.close_session(name, self.viewer)})


default_handlers = [
    (rf"{PREFIX}/budgets", BudgetsHandler),
    (rf"{PREFIX}/budgets/{NAME}", BudgetHandler),
    (rf"{PREFIX}/spend", SpendHandler),
    (rf"{PREFIX}/sessions", SessionsHandler),
    (rf"{PREFIX}/sessions/{NAME}/close", SessionCloseHandler),
]
