"""ibm_quantum's execution modes and actual cost: the real ``QiskitRuntimeService``
against the local IBM Quantum Platform (``hal_jupyter/offline/ibm_quantum.py``, its
sessions in ``ibm_sessions.py``): a named session is one Runtime session across an
engine restart, the Open Plan's refusal fails the job with IBM's words, a group's
runtime job runs in a Batch by default, and a job's actual cost is the quantum time
IBM reports for it."""

from __future__ import annotations

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from hal_jupyter.engine.engine import Engine, EngineConfig  # noqa: E402
from hal_jupyter.offline import ibm_quantum as emulator  # noqa: E402
from hal_jupyter.providers.ibm_quantum import PRICE_PER_S  # noqa: E402

from . import quantum_checks as checks  # noqa: E402
from .conftest import Api  # noqa: E402

PROVIDER = "ibm_quantum"
BACKEND = "fake_manila"


@pytest.fixture(scope="module")
def ibm_world():
    server, world, url = emulator.start()
    yield world, url
    server.shutdown()


@pytest.fixture
def ibm(ibm_world, monkeypatch):
    world, url = ibm_world
    for name, value in emulator.env(url).items():
        monkeypatch.setenv(name, value)
    return world


def job(shots: int = 200, priority: str = "high", **fields) -> dict:
    """A Bell job; ``priority="standard"`` for jobs sent together (high ones go out at once, each alone)."""
    return {"provider": PROVIDER, "backend": BACKEND, "circuit": checks.BELL, "shots": shots, "priority": priority, **fields}


def runtime_job(world, record: dict) -> dict:
    return world.jobs[record["remote_id"].partition("#")[0]]


class EngineApi(Api):
    """The tests' one waiting helper (``Api.wait``) over an embedded engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def get(self, path: str, **params) -> tuple[int, dict]:
        return 200, await self.engine.get_job(path.split("/")[1])


async def test_a_named_session_is_one_runtime_session_across_an_engine_restart(ibm, tmp_path):
    """An iterative algorithm: each job waits for the one before; the engine that runs
    the third is a new one on the same store, and joins the session the first opened,
    then closes it (the engine's close, as ``POST /hal/api/sessions/{name}/close`` does)."""
    opened = ibm.stats()["sessions"]
    config = EngineConfig(db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.2, env_file="", warm_up=False)
    finals = []
    for engine_run, jobs in enumerate((2, 1)):
        engine = Engine(config)
        try:
            await engine.start()
            for _ in range(jobs):
                (record,), _, _ = await engine.submit("quantum", job(execution={"session": "vqe-1"}))
                finals.append(await EngineApi(engine).wait(record["id"], timeout=60))
            if engine_run == 1:  # closed by an engine that did not open it: from its id alone
                await engine.close_session("vqe-1")
        finally:
            await engine.stop()
    assert [f["status"] for f in finals] == ["COMPLETED"] * 3, finals
    sessions = {runtime_job(ibm, f)["session_id"] for f in finals}
    assert len(sessions) == 1 and None not in sessions, sessions
    assert ibm.stats()["sessions"] == opened + 1
    session = ibm.sessions.details(sessions.pop())
    assert session["mode"] == "dedicated" and len(session["jobs"]) == 3, session
    assert session["state"] == "closed" and session["accepting_jobs"] is False, session


async def test_a_session_on_the_open_plan_fails_with_ibms_reason(api, ibm, ibm_world, monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", emulator.OPEN_CRN)
    creates = len(ibm.creates)
    status, record = await api.post("quantum/jobs", job(execution={"session": "vqe-open"}))
    assert status == 201, record
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED", final
    assert "You are not authorized to run a session when using the open plan" in final["error"]["message"], final
    assert "code 1352" in final["error"]["message"] and len(ibm.creates) == creates  # no runtime job was created
    # the Open Plan runs batches: the default mode works there
    status, record = await api.post("quantum/jobs", job())
    assert (await api.wait(record["id"], timeout=60))["status"] == "COMPLETED"


async def test_by_default_a_groups_runtime_job_runs_in_a_batch_then_closed(api, ibm):
    batches = ibm.stats()["batches"]
    status, body = await api.post("quantum/jobs", {"jobs": [job(priority="standard"), job(priority="standard", circuit=checks.flip(0, width=2))]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals) and len({f["remote_id"].partition("#")[0] for f in finals}) == 1, finals
    batch = ibm.sessions.details(runtime_job(ibm, finals[0])["session_id"])
    assert batch["mode"] == "batch" and batch["jobs"] == [finals[0]["remote_id"].partition("#")[0]], batch
    assert batch["accepting_jobs"] is False and batch["state"] == "closed"  # it takes no more jobs
    assert ibm.stats()["batches"] == batches + 1
    # mode "job": the runtime job alone
    status, record = await api.post("quantum/jobs", job(execution={"mode": "job"}))
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED" and runtime_job(ibm, final)["session_id"] is None, final
    assert ibm.stats()["batches"] == batches + 1


async def test_the_actual_cost_is_the_quantum_time_ibm_reports(api, ibm):
    status, body = await api.post("quantum/jobs", {"jobs": [job(1000, "standard"), job(1000, "standard", circuit=checks.flip(1, width=2))]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    seconds = emulator.usage_seconds(2 * 1000)  # the runtime job ran both PUBs
    for final in finals:
        assert final["status"] == "COMPLETED", final
        actual = final["cost_actual"]
        assert actual["amount"] == pytest.approx(seconds * PRICE_PER_S / 2), actual
        assert f"IBM usage: {seconds:g} s of quantum time" in actual["basis"], actual
        assert actual["amount"] != final["cost_estimate"]["amount"]


async def test_local_mode_runs_sessions_and_batches_for_free(api, monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "local")
    status, body = await api.post("quantum/jobs", {"jobs": [job(execution={"session": "local-1"}), job()]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=60) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert all(f["cost_actual"]["amount"] == 0 and "local mode" in f["cost_actual"]["basis"] for f in finals), finals
