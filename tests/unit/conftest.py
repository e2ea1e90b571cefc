"""The unit layer: the engine's parts on a real SQLite store, a scripted provider and a
fake clock. No Jupyter server, no subprocess, no real sleep: the whole folder runs
in seconds (``python -m pytest tests/unit``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hal_jupyter.engine.contract import Settings
from hal_jupyter.engine.database import Database
from hal_jupyter.engine.engine import Engine, EngineConfig
from hal_jupyter.engine.leases import Leases
from hal_jupyter.engine.registry import Registry
from hal_jupyter.engine.store import JobStore

from .fakes import FakeClock, LocalProvider, ScriptedClassical, ScriptedProvider, TokenProvider, settle, until

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
PROVIDERS = {cls.name: cls for cls in (ScriptedProvider, ScriptedClassical, TokenProvider, LocalProvider)}
SETTINGS = Settings(submit_attempts=4, retry_base_s=1.0, retry_max_s=8.0, max_poll_failures=3, degraded_after=2)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store, made once; each test gets a copy (migrations are slow)."""
    path = tmp_path_factory.mktemp("template") / "jobs.sqlite"
    Database(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db_url(migrated: Path, tmp_path: Path) -> str:
    path = tmp_path / "jobs.sqlite"
    shutil.copy(migrated, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_db_url(tmp_path: Path) -> str:
    """Where a store can be made (nothing there yet)."""
    return f"sqlite:///{tmp_path / 'empty.sqlite'}"


@dataclass
class Stores:
    """A store and its leases on one database (what an engine stands on)."""

    db: Database
    jobs: JobStore
    leases: Leases
    #: what tests listen to on the database (removed after the test where the database outlives it)
    listeners: list[tuple[str, Any]] = field(default_factory=list)

    def listen(self, event: str, fn: Any) -> None:
        import sqlalchemy as sa

        sa.event.listen(self.db.engine, event, fn)
        self.listeners.append((event, fn))


@pytest.fixture
def stores(db_url: str) -> Iterator[Stores]:
    db = Database(db_url)
    yield Stores(db, JobStore(db), Leases(db))
    db.close()


@dataclass
class Harness:
    """One engine on the fake clock, with the scripted providers registered."""

    engine: Engine
    clock: FakeClock
    db_url: str
    started: list[Engine] = field(default_factory=list)

    def provider(self, name: str = "scripted") -> Any:
        return self.engine.registry.get(name)

    async def submit(self, n: int = 1, kind: str = "quantum", **fields: Any) -> list[dict[str, Any]]:
        """``n`` jobs in one request; each a Bell circuit (quantum) or a small function."""
        base = {"provider": "scripted", "circuit": BELL, "shots": 100} if kind == "quantum" else {"provider": "scripted_classical", "code": "def main():\n    return 1\n"}
        body = {"jobs": [{**base, **fields} for _ in range(n)]}
        records, _, _ = await self.engine.submit(kind, body)
        return records

    async def record(self, job_id: str) -> dict[str, Any]:
        return await self.engine.get_job(job_id)

    async def status(self, job_id: str) -> str:
        return (await self.record(job_id))["status"]

    async def wait_for(self, job_id: str, *statuses: str) -> dict[str, Any]:
        """The job's record once its status is one of ``statuses`` (no time passes)."""
        row: dict[str, Any] = {}

        async def check() -> bool:
            row.update(await self.record(job_id))
            return row["status"] in statuses

        deadline_checks = 0
        while not await check():
            deadline_checks += 1
            if deadline_checks > 20_000:
                raise AssertionError(f"job {job_id} stayed {row.get('status')}, not {statuses}: {row}")
            await settle(2)
        return row

    async def another_engine(self, **config: Any) -> Engine:
        """A second engine on the same store (another server or worker)."""
        engine = new_engine(self.db_url, self.clock, **config)
        self.started.append(engine)
        await engine.start()
        return engine


def new_engine(db_url: str, clock: FakeClock, **config: Any) -> Engine:
    settings = config.pop("settings", SETTINGS)
    registry = Registry(settings, allowed=list(PROVIDERS), extra=dict(PROVIDERS))
    defaults = {"batch_window_s": 1.0, "batch_max_size": 3, "claim_interval_s": 1.0, "lease_s": 30.0, "env_file": None}
    return Engine(EngineConfig(db_url=db_url, settings=settings, **{**defaults, **config}), registry=registry, clock=clock)


@pytest.fixture
def harness(db_url: str, jp_asyncio_loop: Any) -> Iterator[Harness]:
    """An engine on the fake clock (pytest-jupyter runs async tests on ``jp_asyncio_loop``)."""
    clock = FakeClock()
    engine = new_engine(db_url, clock)
    jp_asyncio_loop.run_until_complete(engine.start())
    h = Harness(engine, clock, db_url)
    yield h
    for other in h.started:
        jp_asyncio_loop.run_until_complete(other.stop())
    jp_asyncio_loop.run_until_complete(engine.stop())


__all__ = ["BELL", "Harness", "Stores", "settle", "until"]
