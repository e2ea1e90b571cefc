"""Flaky providers, end to end: a provider that keeps failing is listed as degraded
while the others keep serving, and no job is left stuck. (Backoff, give-up and
lookups before a resubmission, step by step: ``tests/unit/test_dispatch.py``.)

The cloud tests inject faults into the Braket, Azure Quantum and IBM Quantum
Platform emulators (``hal_jupyter/offline/http.py``: throttling, 503, 500 after
the work was done, answers later than the client waits, slow answers) and run
the real SDKs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest


from . import quantum_checks as checks
from hal_jupyter.offline import stack as offline
from .server_process import ServerProcess

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"


# -- the cloud emulators, flaky ----------------------------------------------------------


@pytest.fixture(scope="module")
def clouds():
    return offline.start_all()


#: botocore waits 1 s for an answer (the emulator's "timeout" answers after 1.5 s); quick backoff
FAST_RETRIES = {
    "batch_window_s": 0.3, "batch_max_size": 50, "env_file": "", "provider_timeout_s": 1.0,
    "submit_attempts": 6, "retry_base_s": 0.1, "retry_max_s": 2.0, "degraded_after": 3, "warm_up": False,
}


@pytest.fixture
def hal_config():
    return dict(FAST_RETRIES)


@pytest.fixture
def flaky(clouds, monkeypatch):
    for name, value in clouds.items():  # IBM Quantum on its cloud path, through its stand-in
        monkeypatch.setenv(name, value)
    worlds = offline.worlds["aws_braket"], offline.worlds["azure_quantum"], offline.worlds["ibm_quantum"]
    yield worlds
    for world in worlds:
        world.faults.set(0)


def _finished_with_tag(server: ServerProcess, tag: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Every job with ``tag``, once all ``count`` are terminal (fails after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        status, page = server.request("GET", f"/hal/api/jobs?tag={tag}&limit=500")
        jobs = page["jobs"]
        done = [j for j in jobs if j["status"] in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN")]
        if len(done) == count:
            return jobs
        assert time.monotonic() < deadline, f"{count - len(done)} of {count} jobs not finished: {Counter(j['status'] for j in jobs)}"
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_67_jobs_with_30_percent_faults_all_complete_each_created_once(flaky, tmp_path):
    """A real server (its own process) against the flaky emulators in this one."""
    braket, azure, ibm = flaky
    server = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", **{k: v for k, v in FAST_RETRIES.items() if k != "env_file"})
    # (the jobs that make many requests, each a fault's chance, are DM1's 12 tasks and Azure's 13 jobs; SV1's and
    # IBM's jobs travel as one program set and one runtime job)
    plan = [("aws_braket", SV1, 30), ("aws_braket", DM1, 12), ("azure_quantum", "ionq.simulator", 13), ("ibm_quantum", "fake_manila", 12)]
    try:
        server.start()
        # the IBM backend's listing and target, which intake checks circuits against, read before the faults start
        status, warm = server.request("POST", "/hal/api/quantum/jobs", {"provider": "ibm_quantum", "backend": "fake_manila", "circuit": checks.BELL, "priority": "high"})
        assert status == 201 and server.wait_all([warm["id"]], timeout=60)[warm["id"]]["status"] == "COMPLETED", warm
        braket.faults.set(0.3, timeout_s=1.5, seed=1)
        azure.faults.set(0.3, timeout_s=0.3, seed=2)  # azure-quantum's client waits minutes: a "timeout" is just slow
        ibm.faults.set(0.3, timeout_s=0.3, seed=3)  # so does qiskit-ibm-runtime's (no read timeout)
        before = len(braket.creates), len(azure.creates), len(ibm.creates)
        for provider, backend, count in plan:
            jobs = [{"provider": provider, "backend": backend, "circuit": checks.flip(i % 3), "shots": 100, "tags": ["flaky", f"k{i % 3}"]} for i in range(count)]
            status, body = server.request("POST", "/hal/api/quantum/jobs", {"jobs": jobs})
            assert status == 201, body
        # meanwhile another provider keeps being served
        status, local = server.request("POST", "/hal/api/quantum/jobs", {"circuit": checks.BELL, "priority": "high"})
        assert server.wait_all([local["id"]], timeout=60)[local["id"]]["status"] == "COMPLETED"

        jobs = _finished_with_tag(server, "flaky", 67, timeout=400)
        assert Counter(j["status"] for j in jobs) == {"COMPLETED": 67}, Counter((j["status"], str(j["error"])) for j in jobs)
        for job in [j for j in jobs if "k1" in j["tags"]][::10]:
            status, result = server.request("GET", f"/hal/api/jobs/{job['id']}/result")
            assert max(result["counts"], key=result["counts"].get) == "010"
    finally:
        server.stop()
    # each job reached its provider exactly once: 1 program set of 30 + 12 tasks at Braket, 13 jobs at Azure,
    # 1 runtime job of 12 PUBs at IBM
    assert len(braket.creates) - before[0] == 1 + 12 and len(azure.creates) - before[1] == 13
    assert len(ibm.creates) - before[2] == 1, ibm.creates[before[2]:]
    assert len({j["remote_id"] for j in jobs}) == 67
    for world in (braket, azure):  # every kind of fault was injected, many times
        assert set(world.faults.injected) == set(world.faults.kinds) and sum(world.faults.injected.values()) >= 10, world.faults.injected
    assert sum(ibm.faults.injected.values()) >= 1, ibm.faults.injected  # IBM: 1 runtime job, few requests


@pytest.mark.parametrize("hal_config", [{**FAST_RETRIES, "submit_attempts": 3}])
async def test_a_provider_that_keeps_failing_is_degraded_and_the_others_keep_serving(api, flaky):
    braket, _, _ = flaky
    bell = {"provider": "aws_braket", "backend": DM1, "circuit": checks.BELL, "priority": "high"}
    status, job = await api.post("quantum/jobs", bell)  # reads the device, which the provider keeps
    assert (await api.wait(job["id"], timeout=60))["status"] == "COMPLETED"
    braket.faults.set(1.0, kinds=("unavailable",))
    status, job = await api.post("quantum/jobs", bell)
    assert status == 201, job
    degraded = None
    for _ in range(600):
        status, body = await api.get("providers")
        info = {p["name"]: p for p in body["providers"]}
        if info["aws_braket"]["status"] == "degraded":
            degraded = info
            break
        await asyncio.sleep(0.1)
    assert degraded is not None, "aws_braket was never listed as degraded"
    assert "503" in degraded["aws_braket"]["reason"] and degraded["aws_braket"]["available"] is True
    assert degraded["local_simulator"]["status"] == "available"
    status, local = await api.post("quantum/jobs", {"circuit": checks.BELL, "priority": "high"})
    assert (await api.wait(local["id"], timeout=60))["status"] == "COMPLETED"

    final = await api.wait(job["id"], timeout=120)  # not stuck: it gives up
    assert final["status"] == "FAILED" and "gave up after 3 attempts" in final["error"]["message"], final

    braket.faults.set(0)  # the provider recovers: the next job completes and it is listed as available again
    status, job = await api.post("quantum/jobs", bell)
    assert (await api.wait(job["id"], timeout=60))["status"] == "COMPLETED"
    status, body = await api.get("providers")
    assert {p["name"]: p for p in body["providers"]}["aws_braket"]["status"] == "available"
