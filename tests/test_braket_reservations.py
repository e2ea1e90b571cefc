"""Execution modes and what jobs cost at the clouds (API v1.2), through the real SDKs
against the stand-ins: Braket reservations reach each task create and keep jobs of
different reservations apart; an SV1 job's actual cost is what Braket bills for its
execution time; Azure batches of one session name share one Azure session, which
closes on request."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytest.importorskip("braket.devices")
pytest.importorskip("azure.quantum")

from hal_jupyter.offline import braket as braket_emulator  # noqa: E402
from hal_jupyter.offline.http import STATS_PATH  # noqa: E402

from . import quantum_checks as checks  # noqa: E402
from .test_aws_braket import braket, braket_world  # noqa: E402,F401 - the Braket stand-in's fixtures
from .test_azure_quantum import azure, azure_world  # noqa: E402,F401 - the Azure Quantum stand-in's fixtures

SV1 = braket_emulator.SV1
RESERVATION = "arn:aws:braket:us-east-1:123456789012:reservation/{}"
ASSOCIATION = "RESERVATION_TIME_WINDOW_ARN"


def _associations(braket_world) -> dict[str, list[dict[str, str]]]:
    """Each task's associations, as the stand-in's stats endpoint lists them."""
    _, url, _ = braket_world
    with urllib.request.urlopen(url + STATS_PATH) as answer:
        return json.loads(answer.read())["associations"]


async def test_a_job_in_a_reservation_carries_it_on_its_task_create_and_costs_nothing_per_task(api, braket, braket_world):
    arn = RESERVATION.format("r-one")
    final, result = await checks.run(api, {"provider": "aws_braket", "backend": SV1, "circuit": checks.BELL, "execution": {"reservation_arn": arn}})
    task = final["remote_id"].partition("#")[0]
    assert _associations(braket_world)[task] == [{"arn": arn, "type": ASSOCIATION}]
    assert final["execution"] == {"reservation_arn": arn}, final
    assert final["cost_estimate"]["amount"] == 0 and "no per-task or per-shot fees" in final["cost_estimate"]["basis"]
    assert sum(result["counts"].values()) == 1000


async def test_jobs_of_two_reservations_are_two_batches_each_created_in_its_own(api, braket, braket_world):
    arns = [RESERVATION.format("r-a"), RESERVATION.format("r-b")]
    jobs = [{"provider": "aws_braket", "backend": SV1, "circuit": checks.flip(k % 3), "shots": 100, "execution": {"reservation_arn": arns[k % 2]}} for k in range(4)]
    before = len(braket.creates)
    status, body = await api.post("quantum/jobs", {"jobs": jobs})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert len(braket.creates) == before + 2 and len({f["batch_id"] for f in finals}) == 2
    associations = _associations(braket_world)
    for k, final in enumerate(finals):
        assert associations[final["remote_id"].partition("#")[0]] == [{"arn": arns[k % 2], "type": ASSOCIATION}]


async def test_a_reservation_on_a_local_simulator_is_a_400(api):
    status, error = await api.post("quantum/jobs", {"provider": "aws_braket", "backend": "braket_sv", "circuit": checks.BELL, "execution": {"reservation_arn": RESERVATION.format("r")}})
    assert status == 400 and "nothing to reserve" in error["message"], error


async def test_an_sv1_job_costs_its_billed_execution_time(api, braket, monkeypatch):
    """Braket bills SV1 per millisecond it ran, at least 3 s a task: the stand-in reports
    4.5 s (as SV1 reports it, in the task's results), so the job cost 4.5 s at $0.075/min."""
    monkeypatch.setattr(braket, "execution_ms", 4500)
    final, _ = await checks.run(api, {"provider": "aws_braket", "backend": SV1, "circuit": checks.BELL})
    assert final["cost_estimate"]["amount"] == pytest.approx(0.075 * 3 / 60)  # the least a task is billed
    actual = final["cost_actual"]
    assert actual["amount"] == pytest.approx(0.075 * 4.5 / 60) and "4.5 s" in actual["basis"], actual


def test_a_batch_estimate_shares_one_program_set_task_fee(braket):
    """What a priced dry run shows: the jobs' shares of the one SV1 task they would fill,
    less than each sent alone; in a reservation nothing per task or shot; locally free."""
    from hal_jupyter.engine.contract import JobSpec
    from hal_jupyter.providers.aws_braket import AwsBraketProvider

    provider = AwsBraketProvider()
    jobs = [JobSpec(f"e{k}", "quantum", SV1, 100, {"circuit": checks.flip(k % 3)}) for k in range(10)]
    shares = provider.estimate_batch(jobs)
    alone = provider.estimate_cost(jobs[0]).amount
    assert set(shares) == {j.id for j in jobs} and all("batching saves" in s.basis and s.amount < alone for s in shares.values()), shares
    reserved = [JobSpec(j.id, j.kind, SV1, 100, {**j.payload, "execution": {"reservation_arn": RESERVATION.format("r")}}) for j in jobs[:2]]
    assert {s.amount for s in provider.estimate_batch(reserved).values()} == {0.0}
    local = [JobSpec(j.id, j.kind, "braket_sv", 100, j.payload) for j in jobs[:2]]
    assert {s.amount for s in provider.estimate_batch(local).values()} == {0.0}
    provider.close()


# -- Azure Quantum sessions ---------------------------------------------------------------
def _batch(batch_id: str, execution: dict | None, k: int = 0):
    from hal_jupyter.engine.contract import BatchSpec, JobSpec

    job = JobSpec(f"{batch_id}-j", "quantum", "ionq.simulator", 50, {"circuit": checks.flip(k)})
    return BatchSpec(batch_id, "azure_quantum", "ionq.simulator", 50, {}, [job], execution=execution)


def test_batches_of_one_session_name_join_one_azure_session_until_it_is_closed(azure):
    """What the engine does with a session name: the first batch opens the session, the
    next ones get its id (``execution.session_id``) and join it; closed, it takes no more."""
    from hal_jupyter.providers.azure_jobs import azure_ids
    from hal_jupyter.providers.azure_quantum import AzureQuantumProvider

    provider = AzureQuantumProvider()
    named = {"mode": "session", "session": "vqe"}
    first = provider.submit(_batch("s-first", named))
    assert first.session_id in azure.sessions and azure.sessions[first.session_id]["name"] == "hal vqe"
    second = provider.submit(_batch("s-second", {**named, "session_id": first.session_id}, 1))
    assert second.session_id == first.session_id
    jobs = [azure_ids(s.remote_ids[j])[0] for s, j in ((first, "s-first-j"), (second, "s-second-j"))]
    assert {azure.jobs[j]["sessionId"] for j in jobs} == {first.session_id}
    assert azure.stats()["sessions"][first.session_id]["jobs"] == jobs

    provider.close_session("ionq.simulator", first.session_id)
    assert azure.sessions[first.session_id]["status"] in ("Succeeded", "Failed")
    third = provider.submit(_batch("s-third", {**named, "session_id": first.session_id}, 2))
    assert third.session_id not in (None, first.session_id)  # an ended session is not joined: a new one opens
    provider.close_session("ionq.simulator", "never-opened")  # nothing to close: no error


def test_mode_job_runs_without_a_session_and_the_default_is_the_batchs_own(azure):
    from hal_jupyter.providers.azure_jobs import azure_ids
    from hal_jupyter.providers.azure_quantum import AzureQuantumProvider

    provider = AzureQuantumProvider()
    alone = provider.submit(_batch("j-alone", {"mode": "job"}))
    assert alone.session_id is None and azure.jobs[azure_ids(alone.remote_ids["j-alone-j"])[0]].get("sessionId") is None
    own = provider.submit(_batch("j-own", None, 1))
    assert own.session_id is None and azure.jobs[azure_ids(own.remote_ids["j-own-j"])[0]]["sessionId"] in azure.sessions


async def test_an_ionq_qpu_job_costs_what_azure_reports(api, azure):
    final, _ = await checks.run(api, {"provider": "azure_quantum", "backend": "ionq.qpu.aria-1", "circuit": checks.BELL, "shots": 100})
    actual = final["cost_actual"]
    assert actual["currency"] == "USD" and actual["amount"] == pytest.approx(12.4166) and "costEstimate" in actual["basis"], actual
    assert final["cost_estimate"]["amount"] > actual["amount"]  # the estimate adds the per-job minimum: an upper bound


async def test_jobs_of_one_session_name_sent_apart_share_one_azure_session(api, azure):
    """Through the engine: the name's first batch opens the session, the store keeps its id,
    the next batch joins it; closing the name closes it at Azure."""
    body = {"provider": "azure_quantum", "backend": "ionq.simulator", "shots": 50, "execution": {"session": "api-vqe"}}
    first, _ = await checks.run(api, {**body, "circuit": checks.flip(0)})
    second, _ = await checks.run(api, {**body, "circuit": checks.flip(1)})
    assert first["batch_id"] != second["batch_id"]
    sessions = {azure.jobs[f["remote_id"]]["sessionId"] for f in (first, second)}
    assert len(sessions) == 1 and azure.sessions[sessions.pop()]["name"] == "hal api-vqe"
    session_id = azure.jobs[first["remote_id"]]["sessionId"]
    status, listed = await api.get("sessions")
    assert status == 200 and [x["session_id"] for x in listed["sessions"]] == [session_id]
    assert set(listed["sessions"][0]["jobs"]) == {first["id"], second["id"]}
    status, closed = await api.post("sessions/api-vqe/close")
    assert status == 200 and closed["sessions"][0]["state"] == "closed"
    assert (await api.get("sessions"))[1]["sessions"] == []
    assert azure.sessions[session_id]["status"] == "Succeeded"
