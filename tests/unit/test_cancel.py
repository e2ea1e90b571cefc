"""Cancel: in the queue, mid-submit, at the provider, and from another engine, where
the request never waits for the engine that drives the job."""

from __future__ import annotations

import threading

import pytest

from hal_jupyter.engine import errors

from .fakes import HttpError, until


async def test_a_queued_job_leaves_its_group_at_once(harness):
    provider = harness.provider()
    a, b = await harness.submit(2)
    record = await harness.engine.cancel(a["id"])
    assert record["status"] == "CANCELLED" and record["finished_at"] and record["cancel_requested"] is False
    assert harness.engine.scheduler_info()["queued"] == 1
    await harness.clock.advance(1.0)
    await until(lambda: provider.submitted, "the batch")
    assert [j.id for j in provider.submitted[0].jobs] == [b["id"]]


async def test_a_job_at_the_provider_is_cancelled_there(harness):
    provider = harness.provider()
    [job] = await harness.submit(priority="high")
    await harness.wait_for(job["id"], "SUBMITTED")
    record = await harness.engine.cancel(job["id"])
    assert record["status"] == "CANCELLED" and record["status_message"] == "cancelled by the user"
    assert provider.cancels == [(record["batch_id"], [job["id"]])]


async def test_a_failed_cancel_at_the_provider_is_said_on_the_job(harness):
    provider = harness.provider()
    provider.cancel_error = HttpError(500, "the device is busy")
    [job] = await harness.submit(priority="high")
    await harness.wait_for(job["id"], "SUBMITTED")
    record = await harness.engine.cancel(job["id"])
    assert record["status"] == "CANCELLED" and "the cancel request to scripted failed" in record["status_message"]


async def test_a_job_cancelled_while_its_batch_is_being_submitted_is_cancelled_at_the_provider_once_sent(harness):
    provider = harness.provider()
    provider.gate = threading.Event()  # the submit call is in flight until the test lets it answer
    [job] = await harness.submit(priority="high")
    await until(provider.entered.is_set, "the submit call")
    record = await harness.engine.cancel(job["id"])
    assert record["status"] == "CANCELLED" and provider.cancels == []
    provider.gate.set()
    await until(lambda: provider.cancels, "the cancel at the provider")
    assert provider.cancels == [(record["batch_id"], [job["id"]])]
    assert (await harness.record(job["id"]))["status"] == "CANCELLED"  # the late SENT changed nothing


async def test_a_batch_whose_jobs_were_all_cancelled_during_its_backoff_is_not_sent_again(harness):
    provider = harness.provider("tokened")
    provider.submits = [HttpError(503)]
    [job] = await harness.submit(provider="tokened", priority="high")
    await until(lambda: "attempt 2" in ((harness.engine.ledger.get(job["id"]) or {}).get("status_message") or ""), "the backoff")
    await harness.engine.cancel(job["id"])
    await harness.clock.advance(10)
    assert len(provider.submitted) == 1 and provider.cancels == []


async def test_a_finished_job_cannot_be_cancelled(harness):
    provider = harness.provider()
    provider.submits = [errors.InvalidRequest("no")]
    [job] = await harness.submit(priority="high")
    await harness.wait_for(job["id"], "FAILED")
    with pytest.raises(errors.JobAlreadyFinished, match="already FAILED"):
        await harness.engine.cancel(job["id"])
    with pytest.raises(errors.JobNotFound):
        await harness.engine.cancel("no-such-job")


async def test_a_cancel_on_a_server_that_does_not_drive_the_job_answers_at_once_and_the_driver_carries_it_out(harness):
    provider = harness.provider()
    [job] = await harness.submit(priority="high")
    await harness.wait_for(job["id"], "SUBMITTED")
    other = await harness.another_engine(dispatch=False)  # a server that only accepts and serves
    record = await other.cancel(job["id"])
    assert record["status"] == "SUBMITTED" and record["cancel_requested"] is True
    assert "the engine driving this job carries it out" in record["status_message"]
    assert provider.cancels == [] and harness.clock.t == 1000.0  # nothing waited
    await harness.clock.advance(1.0)  # the driving engine's next round (NOTIFY wakes it sooner on PostgreSQL)
    final = await harness.wait_for(job["id"], "CANCELLED")
    assert final["cancel_requested"] is False and provider.cancels == [(final["batch_id"], [job["id"]])]
    assert (await other.get_job(job["id"]))["status"] == "CANCELLED"


async def test_a_job_nobody_drives_is_claimed_and_cancelled_by_the_server_asked(harness):
    server = await harness.another_engine(dispatch=False)
    records, _, _ = await server.submit("quantum", {"provider": "scripted", "circuit": "OPENQASM 2.0; qreg q[1]; creg c[1]; measure q -> c;"})
    job = records[0]["id"]
    record = await server.cancel(job)
    assert record["status"] == "CANCELLED"


async def test_an_unknown_job_is_cancelled_at_the_provider_by_its_remote_id(harness):
    provider = harness.provider()
    [job] = await harness.submit(priority="high")
    await harness.wait_for(job["id"], "SUBMITTED")
    provider.polls = [HttpError(503)] * 3
    for _ in range(3):
        await harness.clock.advance(9.7)
        await until(lambda: not harness.engine.scheduler.poller.busy, "a poll")
    await harness.wait_for(job["id"], "UNKNOWN")
    record = await harness.engine.cancel(job["id"])
    assert record["status"] == "CANCELLED" and provider.cancels[-1][1] == [job["id"]]
