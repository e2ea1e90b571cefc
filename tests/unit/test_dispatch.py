"""Dispatch: batches out of the policy, submitted with retry, and what a provider's answer does.

An engine on a fake clock and a scripted provider: the provider's every answer is
written by the test, and time moves only when the test moves it.
"""

from __future__ import annotations

import pytest

from hal_jupyter.engine.contract import Submission
from hal_jupyter.engine.errors import InvalidRequest

from .fakes import HttpError, ReadTimeout, until


async def backing_off(harness, job_id: str, attempt: int) -> float:
    """Once attempt ``attempt`` failed and the dispatcher waits to try again: how long it waits."""
    def note() -> str:
        return (harness.engine.ledger.get(job_id) or {}).get("status_message") or ""

    await until(lambda: f"attempt {attempt + 1} of " in note(), f"the backoff after attempt {attempt}")
    return float(note().split(" in ")[1].removesuffix(" s")) + 0.05  # the note rounds the delay


async def test_a_high_priority_job_goes_out_at_once_alone(harness):
    provider = harness.provider()
    [job] = await harness.submit(priority="high")
    record = await harness.wait_for(job["id"], "SUBMITTED")
    assert len(provider.submitted) == 1 and [j.id for j in provider.submitted[0].jobs] == [job["id"]]
    assert record["remote_id"] == f"r-{job['id']}" and record["submitted_at"] and record["batch_id"] == provider.submitted[0].id


async def test_standard_jobs_wait_for_their_window_then_go_as_one_batch(harness):
    provider = harness.provider()
    jobs = await harness.submit(2)
    assert jobs[0]["status_message"] == "waiting for batch (2/3)"
    await harness.clock.advance(0.9)
    assert provider.submitted == []
    await harness.clock.advance(0.2)
    await until(lambda: provider.submitted, "the window's batch")
    assert sorted(j.id for j in provider.submitted[0].jobs) == sorted(j["id"] for j in jobs)


async def test_a_full_group_goes_out_without_waiting(harness):
    provider = harness.provider()
    await harness.submit(3)
    await until(lambda: provider.submitted, "the size trigger's batch")
    assert len(provider.submitted[0].jobs) == 3 and harness.clock.t == 1000.0


async def test_groups_differ_by_shots_and_options(harness):
    provider = harness.provider()
    await harness.submit(2, shots=10)
    await harness.submit(2, shots=20)
    await harness.clock.advance(1.0)
    await until(lambda: len(provider.submitted) == 2, "two batches")
    assert sorted(b.shots for b in provider.submitted) == [10, 20]


async def test_transient_faults_are_retried_with_growing_jittered_backoff(harness):
    provider = harness.provider("tokened")  # takes a batch twice as once: resent without a lookup
    provider.submits = [HttpError(503), HttpError(429), HttpError(500)]
    [job] = await harness.submit(provider="tokened", priority="high")
    delays = []
    for attempt in range(1, 4):
        delays.append(await backing_off(harness, job["id"], attempt))
        assert (await harness.record(job["id"]))["status"] == "SUBMITTING"
        await harness.clock.advance(delays[-1])
    await harness.wait_for(job["id"], "SUBMITTED")
    # about base * 2**(attempt-1), between half and all of it (the jitter is the clock's, seeded)
    assert 0.5 <= delays[0] <= 1.05 and 1.0 <= delays[1] <= 2.05 and 2.0 <= delays[2] <= 4.05, delays
    assert len(set(delays)) == 3 and len(provider.submitted) == 4
    assert provider.finds == []  # a provider with an idempotency token is never asked


async def test_the_last_attempt_gives_up_failed_when_no_attempt_was_taken(harness):
    provider = harness.provider()
    provider.submits = [HttpError(503)] * 4
    [job] = await harness.submit(priority="high")
    for attempt in range(1, 4):
        await harness.clock.advance(await backing_off(harness, job["id"], attempt))
    record = await harness.wait_for(job["id"], "FAILED")
    assert record["error"]["type"] == "ProviderError" and "gave up after 4 attempts" in record["error"]["message"]
    assert len(provider.submitted) == 4


async def test_the_last_attempt_gives_up_unknown_when_one_may_have_been_taken(harness):
    provider = harness.provider("tokened")
    provider.submits = [HttpError(500)] * 4  # a 500 may have been carried out
    [job] = await harness.submit(provider="tokened", priority="high")
    for attempt in range(1, 4):
        await harness.clock.advance(await backing_off(harness, job["id"], attempt))
    record = await harness.wait_for(job["id"], "UNKNOWN")
    assert "gave up after 4 attempts; the provider may have taken the last one" == record["status_message"]
    assert len(provider.submitted) == 4


async def test_a_throttled_call_was_not_taken_and_is_sent_again_without_asking(harness):
    provider = harness.provider()  # no idempotency token
    provider.submits = [HttpError(429)]
    [job] = await harness.submit(priority="high")
    await harness.clock.advance(await backing_off(harness, job["id"], 1))
    await harness.wait_for(job["id"], "SUBMITTED")
    assert len(provider.submitted) == 2 and provider.finds == []


async def test_a_fault_that_may_have_been_taken_asks_the_provider_before_sending_again(harness):
    provider = harness.provider()
    provider.submits = [ReadTimeout("no answer")]
    provider.found = lambda batch: Submission(remote_ids={j.id: f"found-{j.id}" for j in batch.jobs})
    [job] = await harness.submit(priority="high")
    record = await harness.wait_for(job["id"], "SUBMITTED")
    assert record["remote_id"] == f"found-{job['id']}" and provider.finds == [record["batch_id"]]
    assert len(provider.submitted) == 1  # never sent twice


async def test_a_provider_that_surely_has_nothing_gets_the_batch_again(harness):
    provider = harness.provider()
    provider.submits = [ReadTimeout("no answer")]
    provider.found = Submission()  # surely not taken
    [job] = await harness.submit(priority="high")
    await harness.clock.advance(await backing_off(harness, job["id"], 1))
    record = await harness.wait_for(job["id"], "SUBMITTED")
    assert len(provider.submitted) == 2 and provider.submitted[0].id == provider.submitted[1].id == record["batch_id"]


async def test_an_outcome_nobody_can_tell_is_unknown_and_never_sent_again(harness):
    provider = harness.provider()
    provider.submits = [HttpError(502)]
    provider.found = None  # cannot tell
    [job] = await harness.submit(priority="high")
    record = await harness.wait_for(job["id"], "UNKNOWN")
    assert "not resubmitted" in record["status_message"] and record["error"]["type"] == "ProviderError"
    await harness.clock.advance(100)
    assert len(provider.submitted) == 1


async def test_a_permanent_error_fails_at_once(harness):
    provider = harness.provider()
    provider.submits = [InvalidRequest("the device refuses these circuits")]
    [job] = await harness.submit(priority="high")
    record = await harness.wait_for(job["id"], "FAILED")
    assert record["error"] == {"type": "InvalidRequest", "message": "the device refuses these circuits"}
    assert len(provider.submitted) == 1


async def test_jobs_a_provider_could_not_send_fail_with_their_reason_in_the_store(harness):
    provider = harness.provider()

    def half(batch):
        first, *rest = batch.jobs
        return Submission(remote_ids={first.id: "r-1"}, not_sent={j.id: "it does not convert" for j in rest[:1]})

    provider.submits = [half]
    jobs = await harness.submit(3)
    await harness.wait_for(jobs[0]["id"], "SUBMITTED")
    refused = await harness.wait_for(jobs[1]["id"], "FAILED")
    assert refused["error"] == {"type": "InvalidCircuit", "message": "scripted: not sent: it does not convert"}
    forgotten = await harness.wait_for(jobs[2]["id"], "FAILED")  # left out of the answer: not sent either
    assert "returned no remote id" in forgotten["error"]["message"]
    stored = harness.engine.store.get_job(jobs[1]["id"])
    assert stored["error"]["message"].endswith("it does not convert")  # durable: the store has it


async def test_the_cost_a_provider_reports_at_submission_replaces_the_estimate(harness):
    from hal_jupyter.engine.models import CostEstimate

    harness.provider().submits = [lambda batch: Submission({j.id: "r" for j in batch.jobs}, cost={j.id: CostEstimate(amount=0.1, basis="share") for j in batch.jobs})]
    [job] = await harness.submit(priority="high")
    assert job["cost_estimate"]["amount"] == 0.5
    record = await harness.wait_for(job["id"], "SUBMITTED")
    assert record["cost_estimate"] == {"currency": "USD", "amount": 0.1, "basis": "share"}


async def test_a_bug_while_dispatching_fails_the_batch_instead_of_leaving_it_stuck(harness, monkeypatch):
    dispatcher = harness.engine.scheduler.dispatcher

    def broken(batch_id, rows):
        raise RuntimeError("a bug")

    monkeypatch.setattr(dispatcher, "spec", broken)
    [job] = await harness.submit(priority="high")
    record = await harness.wait_for(job["id"], "FAILED")
    assert record["error"]["type"] == "InternalError" and "a bug" in record["error"]["message"]


async def test_a_degraded_provider_is_listed_so_while_its_work_is_retried(harness):
    provider = harness.provider("tokened")
    provider.submits = [HttpError(503), HttpError(503)]
    [job] = await harness.submit(provider="tokened", priority="high")
    await harness.clock.advance(await backing_off(harness, job["id"], 1))
    delay = await backing_off(harness, job["id"], 2)
    listed = {p["name"]: p for p in await harness.engine.providers()}
    assert listed["tokened"]["status"] == "degraded" and "503" in listed["tokened"]["reason"]
    await harness.clock.advance(delay)
    await harness.wait_for(job["id"], "SUBMITTED")
    await until(lambda: harness.engine.scheduler.calls.health.degraded("tokened") is None, "recovery")


@pytest.mark.parametrize("trigger", ["window", "size"])
async def test_the_scheduler_reports_its_groups_and_batches(harness, trigger):
    await harness.submit(2 if trigger == "window" else 3)
    if trigger == "window":
        info = harness.engine.scheduler_info()
        assert info["queued"] == 2 and info["groups"][0]["queued"] == 2 and info["groups"][0]["flush_at_size"] == 3
        await harness.clock.advance(1.0)
    await until(lambda: harness.engine.scheduler_info()["batches_flushed"] == 1, "a flush")
    assert harness.engine.scheduler_info()["queued"] == 0
