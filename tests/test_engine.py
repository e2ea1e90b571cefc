"""The engine on its own (no server): what the kernel embeds."""

from __future__ import annotations

import asyncio
import os

import pytest

from hal_jupyter.engine.engine import Engine, EngineConfig
from hal_jupyter.engine.database import Database
from hal_jupyter.engine.store import JobStore

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL


def _stored_running_job(url: str) -> None:
    stamp = "2026-01-01T00:00:00.000000Z"
    store = JobStore(Database(url))
    store.insert_jobs(
        [
            {
                "id": "lost-run", "kind": "classical", "provider": "local_python", "backend": "python3",
                "name": None, "tags": [], "priority": "high", "status": "RUNNING", "status_message": None,
                "created_at": stamp, "updated_at": stamp, "batch_id": "b-before-the-crash", "remote_id": "x",
                "shots": None, "payload": {"code": "def main():\n    return 5\n", "entrypoint": "main", "args": {}, "function": None, "timeout_s": 10},
                "attempts": 1,
            }
        ]
    )
    store.close()


async def test_nothing_is_answered_from_the_store_before_the_restart_is_taken_up(db_url):
    url = db_url
    _stored_running_job(url)
    engine = Engine(EngineConfig(db_url=url))
    try:
        # A request that arrives while the engine is still starting waits for it.
        _, record = await asyncio.gather(engine.start(), engine.get_job("lost-run"))
        assert record["batch_id"] != "b-before-the-crash"
        assert record["status"] in ("QUEUED", "SUBMITTING", "SUBMITTED", "RUNNING")
        for _ in range(200):
            record = await engine.get_job("lost-run")
            if record["status"] == "COMPLETED":
                break
            await asyncio.sleep(0.05)
        assert record["status"] == "COMPLETED"
        assert (await engine.get_result("lost-run"))["value"] == 5
    finally:
        await engine.stop()


async def test_a_dotenv_file_fills_in_credentials_without_overriding_or_showing_them(tmp_path, monkeypatch, db_url):
    env = tmp_path / ".env"
    env.write_text("AZURE_FUNCTIONS_URL=http://127.0.0.1:9\nAZURE_FUNCTIONS_KEY=canary-dotenv-key-123\nHAL_TEST_ALREADY_SET=from-file\n")
    for name in ("AZURE_FUNCTIONS_URL", "AZURE_FUNCTIONS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAL_TEST_ALREADY_SET", "from-environment")
    engine = Engine(EngineConfig(db_url=db_url, env_file=str(env)))
    try:
        await engine.start()
        providers = {p["name"]: p for p in await engine.providers()}
        assert providers["azure_functions"]["available"] is True
        assert "canary-dotenv-key-123" not in repr(providers)
        assert os.environ["HAL_TEST_ALREADY_SET"] == "from-environment"  # the environment wins
    finally:
        await engine.stop()
        for name in ("AZURE_FUNCTIONS_URL", "AZURE_FUNCTIONS_KEY"):
            os.environ.pop(name, None)
