"""Polling: what providers report becomes transitions; backoff, pokes, lost contact,
and reports that come late or out of order."""

from __future__ import annotations

import logging

import pytest

from hal_jupyter.engine.contract import Cancelled, Failed, Finished, Running, Waiting
from hal_jupyter.engine.errors import ErrorType
from hal_jupyter.engine.models import ErrorInfo

from .fakes import HttpError, until


async def sent(harness, n: int = 1, **fields) -> list[str]:
    """``n`` high-priority jobs the scripted provider accepted; their ids."""
    records = await harness.submit(n, priority="high", **fields) if n == 1 else await harness.submit(n, **fields)
    if n > 1:
        await harness.clock.advance(1.0)
    for record in records:
        await harness.wait_for(record["id"], "SUBMITTED")
    return [r["id"] for r in records]


async def polled(harness, count: int) -> None:
    provider = harness.provider()
    await until(lambda: len(provider.polled) >= count, f"poll {count}")
    await until(lambda: not harness.engine.scheduler.poller.busy, "the poll's answer")


async def test_reports_move_a_job_through_its_life(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [{job: Waiting("queued at the device")}, {job: Running("2 of 5 circuits")}, {job: Finished({"counts": {"00": 100}})}]
    await harness.clock.advance(1.0)
    record = await harness.wait_for(job, "SUBMITTED")
    await until(lambda: (harness.engine.ledger.get(job) or {}).get("status_message") == "queued at the device", "the note")
    await harness.clock.advance(2.5)
    record = await harness.wait_for(job, "RUNNING")
    assert record["status_message"] == "2 of 5 circuits"
    await harness.clock.advance(4.9)
    record = await harness.wait_for(job, "COMPLETED")
    assert record["finished_at"] and record["status_message"] is None
    assert await harness.engine.get_result(job) == {"type": "sampling", "id": job, "counts": {"00": 100}}


async def test_polls_back_off_to_the_longest_interval_with_jitter(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    batch_id = harness.engine.ledger.get(job)["batch_id"]
    provider.polls = [{job: Waiting()} for _ in range(8)]
    poller = harness.engine.scheduler.poller
    intervals, gaps = [], []
    for k in range(1, 7):
        due, delay = poller.next_poll(batch_id)
        intervals.append(delay)
        gaps.append(due - harness.clock.t)
        await harness.clock.advance(due - harness.clock.t)
        await polled(harness, k)
    assert intervals == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling from the provider's shortest to its longest
    assert gaps[0] == 1.0 and all(0.8 <= gap / interval <= 1.2 for gap, interval in zip(gaps[1:], intervals[1:]))
    assert len({round(g, 6) for g in gaps[3:]}) == 3  # jittered: the same interval, not the same wait


async def test_a_provider_that_says_a_batch_changed_is_polled_at_once(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [{job: Finished({"counts": {"1": 1}})}]
    harness.engine.scheduler.poller.poke(harness.engine.ledger.get(job)["batch_id"])
    await harness.wait_for(job, "COMPLETED")
    assert harness.clock.t == 1000.0  # no time passed


async def test_a_job_failed_at_the_provider_keeps_its_output(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    error = ErrorInfo(type=ErrorType.USER_CODE_ERROR, message="ValueError: bad", exception="ValueError")
    provider.polls = [{job: Failed(error, {"stdout": "so far", "stderr": "", "duration_s": 0.1})}]
    await harness.clock.advance(1.0)
    record = await harness.wait_for(job, "FAILED")
    assert record["error"] == {"type": "UserCodeError", "message": "ValueError: bad", "exception": "ValueError"}
    assert harness.engine.store.get_result(job) == {"stdout": "so far", "stderr": "", "duration_s": 0.1}


async def test_a_job_cancelled_at_the_provider_is_cancelled(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [{job: Cancelled("cancelled in the provider's console")}]
    await harness.clock.advance(1.0)
    record = await harness.wait_for(job, "CANCELLED")
    assert record["status_message"] == "cancelled in the provider's console"


@pytest.mark.parametrize("late", [Running("again"), Waiting("queued again"), Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="late"))])
async def test_a_report_after_completion_changes_nothing(harness, late):
    provider = harness.provider()
    [a, b] = await sent(harness, 2)
    provider.polls = [{a: Finished({"counts": {"0": 1}}), b: Running()}, {a: late, b: Running("still")}]
    await harness.clock.advance(1.0)
    await harness.wait_for(a, "COMPLETED")
    await harness.clock.advance(2.5)
    await polled(harness, 2)
    assert (await harness.record(a))["status"] == "COMPLETED" and await harness.engine.get_result(a) == {"type": "sampling", "id": a, "counts": {"0": 1}}


async def test_a_waiting_report_after_running_is_ignored_and_logged_once(harness):
    seen: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("hal_jupyter")  # (a server extension stops it propagating: no caplog)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [{job: Running("on")}, {job: Waiting("queued?")}, {job: Waiting("queued?")}]
    for k, step in enumerate((1.0, 2.5, 4.9), start=1):
        await harness.clock.advance(step)
        await polled(harness, k)
    logger.removeHandler(handler)
    logger.setLevel(level)
    record = await harness.record(job)
    assert record["status"] == "RUNNING" and record["status_message"] == "on"
    assert sum("ignoring the provider's late report Waiting" in message for message in seen) == 1


async def test_a_provider_that_stops_answering_loses_contact_after_the_limit(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [HttpError(503), HttpError(503), HttpError(503), {job: Finished({"counts": {}})}]
    for k in range(1, 4):
        await harness.clock.advance(9.7)
        await polled(harness, k)
    record = await harness.wait_for(job, "UNKNOWN")
    assert "lost contact: 3 status checks" in record["status_message"] and "may still run" in record["status_message"]
    await harness.clock.advance(20)
    assert len(provider.polled) == 3  # no longer polled: UNKNOWN needs a person


async def test_one_failed_status_check_is_retried_and_forgotten_on_success(harness):
    provider = harness.provider()
    [job] = await sent(harness)
    provider.polls = [HttpError(500), HttpError(500), {job: Finished({"counts": {}})}]
    for k in range(1, 3):
        await harness.clock.advance(9.7)
        await polled(harness, k)
    await harness.clock.advance(9.7)
    await harness.wait_for(job, "COMPLETED")


async def test_reports_of_jobs_outside_the_batch_are_ignored(harness):
    provider = harness.provider()
    [a] = await sent(harness)
    b = (await harness.submit(2))[0]["id"]  # another batch's
    provider.polls = [{a: Finished({"counts": {}}), b: Finished({"counts": {"1": 1}})}]
    await harness.clock.advance(1.0)
    await harness.wait_for(a, "COMPLETED")
    assert (await harness.record(b))["status"] in ("QUEUED", "SUBMITTING", "SUBMITTED")
    assert harness.engine.store.get_result(b) is None


async def test_a_batch_is_no_longer_polled_once_its_jobs_ended(harness):
    provider = harness.provider()
    [a, b] = await sent(harness, 2)
    provider.polls = [{a: Finished({"counts": {}}), b: Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="x"))}]
    await harness.clock.advance(1.0)
    await harness.wait_for(b, "FAILED")
    await until(lambda: len(harness.engine.scheduler.poller) == 0, "the batch dropped")
    await harness.clock.advance(30)
    assert len(provider.polled) == 1


async def test_an_answer_the_store_did_not_take_is_applied_at_the_next_poll(harness, monkeypatch):
    """A provider may answer a finished run once (the local simulator forgets it):
    what a store outage kept from being written is written after it, not asked again."""
    from hal_jupyter.engine.errors import StoreUnavailable

    provider = harness.provider()
    [job] = await sent(harness)
    lost = Failed(ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="the run was lost"))
    provider.polls = [{job: Finished({"counts": {"11": 7}})}, {job: lost}]
    store = harness.engine.ledger.store
    real, writes = store.transitions, []

    def down_once(*args, **kwargs):
        writes.append(args)
        if len(writes) == 1:
            raise StoreUnavailable("the job store cannot be reached")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "transitions", down_once)
    await harness.clock.advance(1.0)
    await polled(harness, 1)
    assert harness.engine.ledger.get(job)["status"] == "SUBMITTED" and len(writes) == 1
    await harness.clock.advance(5.0)
    await harness.wait_for(job, "COMPLETED")
    assert await harness.engine.get_result(job) == {"type": "sampling", "id": job, "counts": {"11": 7}}
    assert len(provider.polled) == 1  # its answer was kept, not asked for again
