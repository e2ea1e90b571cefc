"""Spend control and sessions on one engine: budgets reserve at acceptance, refuse or
hold past their limit, settle at the end; dry runs store nothing; a session name keeps
one provider session, across engines. The scripted provider estimates 0.5 USD a job."""

from __future__ import annotations

import asyncio

import pytest

from hal_jupyter.engine import errors
from hal_jupyter.engine.contract import Finished, Submission
from hal_jupyter.engine.models import CostEstimate

from .conftest import BELL
from .fakes import until

JOB = {"provider": "scripted", "circuit": BELL, "shots": 100}


async def submit_one(harness, **fields):
    records, _, _ = await harness.engine.submit("quantum", {**JOB, **fields}, owner="alice")
    return records[0]


async def budget(harness, name="team", **body):
    return await harness.engine.put_budget(name, {"limit": 5.25, "period": "month", **body})


async def test_racing_submissions_never_pass_a_refuse_budget(harness):
    await budget(harness)  # room for 10.5 jobs
    outcomes = await asyncio.gather(*(submit_one(harness) for _ in range(40)), return_exceptions=True)
    accepted = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, errors.BudgetExceeded)]
    assert len(accepted) == 10 and len(refused) == 30
    assert refused[0].http_status == 402 and refused[0].to_dict()["limit"] == 5.25 and refused[0].to_dict()["requested"] == 0.5
    [team] = await harness.engine.budgets()
    assert team["reserved"] == 5.0 and team["spent"] == 0.0 and team["remaining"] == 0.25 and team["resets_at"]


async def test_a_bulk_request_past_a_budget_is_refused_whole_and_stores_nothing(harness):
    await budget(harness, limit=1.0)
    with pytest.raises(errors.BudgetExceeded) as refused:
        await harness.engine.submit("quantum", {"jobs": [JOB] * 3}, owner="alice")
    assert "Nothing was stored" in refused.value.message
    assert (await harness.engine.list_jobs())["jobs"] == []
    assert (await harness.engine.budgets())[0]["reserved"] == 0.0


async def test_a_budget_counts_only_the_jobs_of_its_scope(harness):
    await budget(harness, limit=0.5, scope={"owner": "bob"})
    for _ in range(3):
        await submit_one(harness)  # alice's: not bob's budget
    assert (await harness.engine.budgets())[0]["reserved"] == 0.0


async def test_jobs_past_a_hold_budget_are_held_then_released_when_the_limit_is_raised(harness):
    provider = harness.provider()
    await budget(harness, limit=1.0, action="hold")
    jobs = [await submit_one(harness, priority="high") for _ in range(4)]
    assert [j["status"] for j in jobs] == ["QUEUED", "QUEUED", "HELD", "HELD"]
    assert "held by budget 'team'" in jobs[2]["status_message"]
    await until(lambda: len(provider.submitted) == 2, "the two accepted jobs sent")
    await budget(harness, limit=2.0, action="hold")
    for job in jobs[2:]:
        await harness.wait_for(job["id"], "SUBMITTED")
    provider.polls = [lambda batch, ids: {j: Finished({"counts": {"00": 100}}, cost=CostEstimate(amount=0.2, basis="billed")) for j in ids}] * 8
    await harness.clock.advance(2.0)
    for job in jobs:
        done = await harness.wait_for(job["id"], "COMPLETED")
        assert done["cost_actual"] == {"currency": "USD", "amount": 0.2, "basis": "billed"}
    [team] = await harness.engine.budgets()
    assert team["spent"] == pytest.approx(0.8) and team["reserved"] == 0.0


async def test_a_job_cancelled_before_it_is_sent_releases_its_reservation(harness):
    await budget(harness)
    job = await submit_one(harness)
    assert (await harness.engine.budgets())[0]["reserved"] == 0.5
    await harness.engine.cancel(job["id"])
    assert (await harness.engine.budgets())[0]["reserved"] == 0.0


async def test_a_completed_job_without_a_reported_cost_costs_its_estimate_and_says_so(harness):
    provider = harness.provider()
    job = await submit_one(harness, priority="high")
    await harness.wait_for(job["id"], "SUBMITTED")
    provider.polls = [{job["id"]: Finished({"counts": {"00": 100}})}]
    await harness.clock.advance(2.0)
    done = await harness.wait_for(job["id"], "COMPLETED")
    assert done["cost_actual"]["amount"] == 0.5 and done["cost_actual"]["basis"].startswith("estimate (scripted reports no cost)")


async def test_a_dry_run_prices_judges_and_stores_nothing(harness):
    await budget(harness, limit=1.2)
    answer = await harness.engine.dry_run("quantum", {"jobs": [JOB] * 2}, owner="alice")
    assert answer["outcome"] == "accept" and [j["outcome"] for j in answer["jobs"]] == ["accept", "accept"]
    assert answer["jobs"][1]["budgets"] == [{"name": "team", "remaining_after": pytest.approx(0.2)}]
    assert answer["jobs"][0]["cost_estimate"]["amount"] == 0.5
    over = await harness.engine.dry_run("quantum", {"jobs": [JOB] * 3}, owner="alice")
    assert over["outcome"] == "refuse"
    assert (await harness.engine.list_jobs())["jobs"] == [] and (await harness.engine.budgets())[0]["reserved"] == 0.0


async def test_spend_is_grouped_by_provider_owner_tag_and_day(harness):
    await submit_one(harness, tags=["exp-1"])
    await submit_one(harness, tags=["exp-1", "exp-2"])
    by_tag = {r["key"]: r for r in (await harness.engine.spend("tag"))["rows"]}
    assert by_tag["exp-1"]["estimated"] == 1.0 and by_tag["exp-2"]["reserved"] == 0.5 and by_tag["exp-1"]["actual"] == 0.0
    [row] = (await harness.engine.spend("owner"))["rows"]
    assert row["key"] == "alice" and row["currency"] == "USD"
    with pytest.raises(errors.InvalidRequest):
        await harness.engine.spend("color")


async def test_bad_budgets_and_non_admins_are_refused(harness):
    from hal_jupyter.engine.config import Viewer

    for body in ({"limit": -1}, {"limit": "5"}, {"limit": 5, "period": "week"}, {"limit": 5, "scope": {"team": "x"}}, [], {"limit": 5, "action": "warn"}):
        with pytest.raises(errors.InvalidRequest):
            await harness.engine.put_budget("b", body)
    with pytest.raises(errors.Forbidden):
        await harness.engine.put_budget("b", {"limit": 5}, Viewer("alice"))
    with pytest.raises(errors.NotFound):
        await harness.engine.delete_budget("nothing")


async def test_one_session_name_keeps_one_provider_session_across_engines(harness):
    provider = harness.provider()
    provider.execution_modes = frozenset({"session"})
    opened = iter(["s-1", "s-2"])

    def accept(batch):
        given = batch.execution.get("session_id")
        return Submission(remote_ids={j.id: f"r-{j.id}" for j in batch.jobs}, session_id=given or next(opened))

    provider.submits = [accept] * 3
    first = await submit_one(harness, priority="high", execution={"session": "vqe"})
    await harness.wait_for(first["id"], "SUBMITTED")
    await harness.engine.stop()  # a restart: the next engine on the store finds the session
    other = await harness.another_engine()
    harness.engine = other  # (the fixture stops it)
    harness.started.remove(other)
    provider = other.registry.get("scripted")
    provider.execution_modes = frozenset({"session"})
    provider.submits = [accept] * 2
    second = await submit_one(harness, priority="high", execution={"session": "vqe"})
    await harness.wait_for(second["id"], "SUBMITTED")
    assert provider.submitted[-1].execution["session_id"] == "s-1"
    [session] = await other.sessions()
    assert session["session_id"] == "s-1" and {first["id"], second["id"]} <= set(session["jobs"])
    await other.close_session("vqe")
    assert await other.sessions() == []


async def test_an_execution_its_provider_does_not_honour_is_a_400(harness):
    with pytest.raises(errors.InvalidRequest, match="no execution mode 'session'"):
        await submit_one(harness, execution={"session": "vqe"})
    with pytest.raises(errors.InvalidRequest, match="runs no reservations"):
        await submit_one(harness, execution={"reservation_arn": "arn:aws:braket:us-east-1:123:reservation/x"})
    with pytest.raises(errors.InvalidRequest):
        await submit_one(harness, execution={"mode": "session"})  # no name


async def test_a_held_job_can_be_cancelled_and_a_deleted_budget_releases_the_rest(harness):
    await budget(harness, limit=0.5, action="hold")
    kept, held, cancelled = [await submit_one(harness) for _ in range(3)]
    assert (held["status"], cancelled["status"]) == ("HELD", "HELD")
    assert (await harness.engine.cancel(cancelled["id"]))["status"] == "CANCELLED"
    await harness.engine.delete_budget("team")
    assert (await harness.engine.get_job(held["id"]))["status"] == "QUEUED"
    assert (await harness.engine.get_job(cancelled["id"]))["status"] == "CANCELLED"


async def test_a_misconfigured_budget_stops_the_engine_with_a_message_that_names_it(db_url):
    from .conftest import new_engine
    from .fakes import FakeClock

    with pytest.raises(ValueError, match=r"HalExtension.budgets\[0\] is not a budget: limit"):
        new_engine(db_url, FakeClock(), budgets=[{"name": "x", "limit": "lots"}])
