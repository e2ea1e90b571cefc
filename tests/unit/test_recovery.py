"""Recovery: the jobs of an engine that is gone (this server before a restart, or another
engine whose lease expired) are taken up with the guarantees of a restart."""

from __future__ import annotations

import socket
from typing import Any


from hal_jupyter.engine.contract import Submission
from hal_jupyter.engine.schema import engines

from .conftest import BELL
from .fakes import until

STAMP = "2025-12-31T23:59:00.000000Z"


def left_behind(harness, *rows: dict[str, Any], engine: str = "e-dead", host: str = "elsewhere", pid: int = 1) -> None:
    """Jobs as an engine that died left them, its lease expired."""
    leases = harness.engine.leases
    leases.register(engine, label=engine, host=host, pid=pid, dispatch=True, lease_s=30)
    harness.engine.store.insert_jobs(list(rows), engine_id=engine)
    expire(harness, engine)


def expire(harness, engine: str) -> None:
    with harness.engine.leases.db.write() as conn:
        conn.execute(engines.update().where(engines.c.id == engine).values(expires_at=0.0))


def job(job_id: str, status: str = "QUEUED", provider: str = "scripted", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id, "kind": "quantum", "provider": provider, "backend": "fake", "name": None, "tags": [],
        "priority": "standard", "status": status, "status_message": None, "created_at": STAMP, "updated_at": STAMP,
        "shots": 100, "payload": {"circuit": BELL, "options": {}}, "attempts": 1 if status != "QUEUED" else 0,
        "group_key": "g", **extra,
    }


async def claim(harness) -> int:
    return await harness.engine.scheduler.recovery.claim()


async def test_queued_jobs_of_a_gone_engine_are_queued_here(harness):
    provider = harness.provider()
    left_behind(harness, job("q1"), job("q2"))
    assert await claim(harness) == 2
    await harness.clock.advance(1.0)
    await until(lambda: provider.submitted, "the batch")
    assert sorted(j.id for j in provider.submitted[0].jobs) == ["q1", "q2"]


async def test_remote_work_with_known_ids_is_reattached_not_sent_again(harness):
    provider = harness.provider()
    left_behind(harness, job("s1", "SUBMITTED", batch_id="b-old", remote_id="r-s1"), job("s2", "RUNNING", batch_id="b-old", remote_id="r-s2"))
    await claim(harness)
    await harness.clock.advance(1.0)
    await until(lambda: provider.polled, "a poll")
    assert provider.polled[0] == ("b-old", {"s1": "r-s1", "s2": "r-s2"}) and provider.submitted == []


async def test_a_batch_the_provider_takes_twice_as_once_is_sent_again_under_its_id(harness):
    provider = harness.provider("tokened")
    left_behind(harness, job("t1", "SUBMITTING", provider="tokened", batch_id="b-token"))
    await claim(harness)
    record = await harness.wait_for("t1", "SUBMITTED")
    assert [b.id for b in provider.submitted] == ["b-token"] and record["batch_id"] == "b-token" and provider.finds == []


async def test_a_batch_found_at_the_provider_gets_its_remote_ids_without_a_second_submission(harness):
    provider = harness.provider()
    provider.found = lambda batch: Submission({j.id: f"found-{j.id}" for j in batch.jobs})
    left_behind(harness, job("f1", "SUBMITTING", batch_id="b-maybe"))
    await claim(harness)
    record = await harness.wait_for("f1", "SUBMITTED")
    assert record["remote_id"] == "found-f1" and provider.finds == ["b-maybe"] and provider.submitted == []


async def test_a_batch_the_provider_surely_never_took_is_queued_and_sent_again(harness):
    provider = harness.provider()
    provider.found = Submission()
    left_behind(harness, job("n1", "SUBMITTING", batch_id="b-never"))
    await claim(harness)
    await harness.clock.advance(1.0)
    record = await harness.wait_for("n1", "SUBMITTED")
    assert provider.finds == ["b-never"] and record["batch_id"] != "b-never" and len(provider.submitted) == 1


async def test_a_batch_whose_fate_cannot_be_told_is_unknown_and_never_sent(harness):
    provider = harness.provider()
    provider.found = None
    left_behind(harness, job("u1", "SUBMITTING", batch_id="b-who-knows"))
    await claim(harness)
    record = await harness.wait_for("u1", "UNKNOWN")
    assert "not resubmitted" in record["status_message"] and provider.submitted == []
    await harness.clock.advance(30)
    assert provider.submitted == []


async def test_free_local_work_that_died_with_its_engine_runs_again(harness):
    provider = harness.provider("localish")
    left_behind(
        harness,
        job("l1", "RUNNING", provider="localish", batch_id="b-lost", remote_id="x"),
        job("l2", "SUBMITTING", provider="localish", batch_id="b-lost", remote_id=None),
    )
    await claim(harness)
    await harness.clock.advance(1.0)
    await until(lambda: provider.submitted, "the run again")
    assert sorted(j.id for j in provider.submitted[0].jobs) == ["l1", "l2"] and provider.submitted[0].id != "b-lost"
    record = await harness.wait_for("l1", "SUBMITTED")
    assert record["remote_id"] == "r-l1" and harness.engine.store.get_job("l1")["attempts"] == 2


async def test_an_engine_gone_from_this_host_is_taken_over_without_waiting_for_its_lease(db_url, jp_asyncio_loop):
    """A restart: the previous process of this server is gone, its lease not yet expired."""
    from .conftest import new_engine
    from .fakes import FakeClock

    clock = FakeClock()
    first = new_engine(db_url, clock)
    first.leases.register("e-before", label="before", host=socket.gethostname(), pid=2**22 + 7, dispatch=True, lease_s=3600)
    first.store.insert_jobs([job("r1")], engine_id="e-before")
    await first.start()
    try:
        assert first.ledger.drives("r1")
    finally:
        await first.stop()


async def test_the_old_engine_is_fenced_off_after_a_takeover(harness):
    left_behind(harness, job("z1", "SUBMITTED", batch_id="b-z", remote_id="r"))
    await claim(harness)
    from hal_jupyter.engine import lifecycle

    late = harness.engine.store.transition(lifecycle.COMPLETE, "e-dead", STAMP, [("z1", 1, {}, {"counts": {}})])
    assert late == set() and harness.engine.store.get_job("z1")["status"] == "SUBMITTED"


async def test_a_lapsed_lease_drops_every_job_and_comes_back_under_a_new_id(harness):
    provider = harness.provider()
    await harness.submit(2)
    old = harness.engine.ledger.engine_id
    expire(harness, old)
    await harness.clock.advance(10.0)  # the heartbeat finds the lease lapsed
    await until(lambda: harness.engine.ledger.engine_id != old, "a new engine id")
    await harness.clock.advance(1.0)  # the next claim takes back what nobody took meanwhile
    await until(lambda: len(harness.engine.ledger.driven()) == 2, "the jobs claimed again")
    await harness.clock.advance(1.0)
    await until(lambda: provider.submitted, "the batch")


async def test_jobs_the_store_says_this_engine_drives_but_memory_lost_are_resumed(harness):
    provider = harness.provider()
    [record] = await harness.submit(priority="high")
    await harness.wait_for(record["id"], "SUBMITTED")
    harness.engine.ledger.forget([record["id"]])  # as a write that failed while the store was down
    recovery = harness.engine.scheduler.recovery
    await recovery.reconcile()
    assert not harness.engine.ledger.drives(record["id"])  # missing once: maybe a write still on its way
    await recovery.reconcile()
    assert harness.engine.ledger.drives(record["id"])
    await harness.clock.advance(1.0)
    await until(lambda: provider.polled, "the re-attached batch polled")
