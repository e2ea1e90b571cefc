"""Every crash point of the submission path, for every provider, in-process.

The engine is stopped at each named point (``hal_jupyter/engine/faults.py``:
``arm`` makes the point raise a crash nothing catches, leaving on disk exactly
what a SIGKILL would), abandoned without a clean stop, and a new engine on the
same store takes over once the old lease is dead, as after a restart. The real
providers run against the offline stand-ins.

After the restart every job ends COMPLETED, carried by the provider exactly
once where the provider outlives the engine (Braket, Azure Quantum, IBM
Quantum's cloud path: counted by their stand-ins, remote ids unchanged), run
again exactly once where the work died with the engine (IBM's local mode, the
local simulator: free, at least once); a serverless invocation whose outcome
cannot be established is UNKNOWN, never invoked twice. A few of these cases
also run with a real SIGKILL of a real server: ``tests/test_crash_matrix.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from hal_jupyter.engine import faults
from hal_jupyter.engine.engine import Engine, EngineConfig
from hal_jupyter.engine.schema import batches, engines
from hal_jupyter.offline import stack as offline

from . import quantum_checks as checks

pytest.importorskip("braket")
pytest.importorskip("azure.quantum")
pytest.importorskip("qiskit_ibm_runtime")

REMOTE = checks.CRASH_REMOTE
LOCAL = {"ibm_quantum": "aer_simulator", "local_simulator": "aer_simulator"}  # IBM: local mode's noiseless simulator
ACCEPTED = re.compile(r"hal_jupyter: (\w+) accepted batch (b-[0-9a-f]+)")


@pytest.fixture(scope="module")
def clouds():
    return offline.start_all()


class Accepted(logging.Handler):
    """Each batch a provider accepted, from the engines' log."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = ACCEPTED.search(record.getMessage())
        if found:
            self.batches.append(found.group(2))


@pytest.fixture
def accepted():
    handler = Accepted()
    log = logging.getLogger("hal_jupyter")
    log.addHandler(handler)
    level, log.level = log.level, min(log.level or logging.INFO, logging.INFO)
    yield handler
    log.removeHandler(handler)
    log.setLevel(level)
    faults.disarm()


@pytest.fixture
def environment(clouds, monkeypatch):
    for name, value in clouds.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def engine_on(url: str) -> Engine:
    return Engine(EngineConfig(db_url=url, env_file=None, batch_window_s=0.2, claim_interval_s=0.2, label="crash test"))


async def abandon(engine: Engine) -> None:
    """What a killed process leaves: no release, no goodbye; its lease ends as a dead process's would."""
    await engine.scheduler.stop()  # first: nothing more is dispatched
    await engine.coordinator.stop(release=False)
    engine.registry.close()
    with engine.leases.db.write() as conn:
        conn.execute(engines.update().where(engines.c.id == engine.ledger.engine_id).values(expires_at=0.0))
    engine.ledger.close()


async def crash_and_restart(url: str, point: str, provider: str, body: dict[str, Any], key: str) -> tuple[Engine, list[str]]:
    """Submit with the point armed, abandon the engine once it crashed there, start another; the job ids."""
    first = engine_on(url)
    if point != "before_reply":
        faults.arm(point, provider)
    records, _, _ = await first.submit("quantum", body, idempotency_key=key)
    if point != "before_reply":  # before the reply: the jobs are stored, and the answer never reaches the client
        await _until(faults.crashed.is_set, f"the crash at {point}")
    await abandon(first)
    faults.disarm()
    second = engine_on(url)
    await second.start()
    if point == "before_reply":  # the client saw no answer: it sends the same request again
        replayed, _, created = await second.submit("quantum", body, idempotency_key=key)
        assert not created and [r["id"] for r in replayed] == [r["id"] for r in records]  # nothing new
    listing = await second.list_jobs(limit=500)
    ids = [r["id"] for r in records]
    assert sorted(j["id"] for j in listing["jobs"]) == sorted(ids)  # no job stored twice
    return second, ids


async def _until(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.02)


async def finished(engine: Engine, ids: list[str], timeout: float = 90) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = {i: await engine.get_job(i) for i in ids}
        if all(r["status"] in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN") for r in records.values()):
            return records
        assert time.monotonic() < deadline, records
        await asyncio.sleep(0.05)


async def check_counts(engine: Engine, ids: list[str]) -> None:
    for k, job_id in enumerate(ids):
        counts = (await engine.get_result(job_id))["counts"]
        assert max(counts, key=counts.get) == ["001", "010", "100"][k]


@pytest.mark.parametrize("point", faults.POINTS)
@pytest.mark.parametrize("provider", list(REMOTE))
async def test_a_cloud_job_is_created_once_whatever_the_crash_point(environment, accepted, tmp_path, provider, point):
    backend, creates_per_batch = REMOTE[provider]
    world = offline.worlds[provider]
    world.hold.clear()  # the provider keeps the work queued while the engine dies
    before = len(world.creates)
    body = {"jobs": [{"provider": provider, "backend": backend, "circuit": checks.flip(k), "shots": 200} for k in range(3)]}
    engine = None
    try:
        engine, ids = await crash_and_restart(f"sqlite:///{tmp_path / 'jobs.sqlite'}", point, provider, body, f"points-{provider}-{point}")
        world.hold.set()
        records = await finished(engine, ids)
        assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 3}, records
        created = world.creates[before:]
        assert len(created) == creates_per_batch, created  # the provider saw one create per job
        remote = [records[i]["remote_id"] for i in ids]
        assert len(set(remote)) == 3 and {r.partition("#")[0] for r in remote} == set(created)  # no remote id lost
        assert len({records[i]["batch_id"] for i in ids}) == 1  # a resubmission reuses the batch id: the idempotency token
        await check_counts(engine, ids)
    finally:
        world.hold.set()
        if engine is not None:
            await engine.stop()


@pytest.mark.parametrize("point", faults.POINTS)
@pytest.mark.parametrize("provider", list(LOCAL))
async def test_local_work_lost_in_a_crash_runs_again_exactly_once(environment, accepted, tmp_path, provider, point):
    environment.setenv("QISKIT_IBM_CHANNEL", "local")  # IBM Quantum's local mode, not the stand-in of its cloud
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    body = {"jobs": [{"provider": provider, "backend": LOCAL[provider], "circuit": checks.flip(k), "shots": 200} for k in range(3)]}
    engine, ids = await crash_and_restart(url, point, provider, body, f"points-{provider}-{point}")
    try:
        records = await finished(engine, ids)
        assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 3}, records
        with sa.create_engine(url).connect() as conn:
            carried = {row.id: row.job_ids for row in conn.execute(sa.select(batches.c.id, batches.c.job_ids))}
        runs = Counter(j for batch in accepted.batches for j in json.loads(carried[batch]))
        expected = 2 if point in checks.LOCAL_RAN_BEFORE_CRASH else 1  # free local work: at least once, and once after the restart
        assert runs == {i: expected for i in ids}
        await check_counts(engine, ids)
    finally:
        await engine.stop()


@pytest.mark.parametrize("point", ["after_intent", "after_accept", "after_remote_id"])
async def test_an_invocation_that_cannot_be_checked_is_unknown_and_never_repeated(environment, accepted, tmp_path, point):
    witness = tmp_path / "invoked.txt"
    code = "def main(path):\n    with open(path, 'a') as f:\n        f.write('ran\\n')\n    return 1\n"
    first = engine_on(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    faults.arm(point, "aws_lambda")
    body = {"provider": "aws_lambda", "code": code, "args": {"path": str(witness)}, "priority": "high"}
    [record], _, _ = await first.submit("classical", body)
    await _until(faults.crashed.is_set, f"the crash at {point}")
    await abandon(first)
    second = engine_on(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    await second.start()
    try:
        final = (await finished(second, [record["id"]], timeout=60))[record["id"]]
        assert final["status"] == "UNKNOWN" and "not resubmitted" in final["status_message"], final
        await asyncio.sleep(1.5)  # an invocation made before the crash has finished by now
        runs = witness.read_text().count("ran") if witness.exists() else 0
        # before the call: never invoked; after it: at most the one invocation made before the crash
        assert runs == 0 if point == "after_intent" else runs <= 1
    finally:
        await second.stop()
