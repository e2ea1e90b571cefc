"""Batching and priority through the REST API (API.md "Scheduling")."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import BELL_QASM2

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL


@pytest.fixture
def hal_config():
    # A long window, so only the size trigger (10) can flush in these tests.
    return {"batch_window_s": 30.0, "batch_max_size": 10}


async def test_twenty_standard_jobs_reach_the_provider_as_two_calls_of_ten(api):
    ids = []
    for _ in range(20):
        code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 256})
        assert code == 201
        ids.append(record["id"])
    finals = [await api.wait(i) for i in ids]
    assert all(f["status"] == "COMPLETED" for f in finals)
    batches: dict[str, list[str]] = {}
    for final in finals:
        batches.setdefault(final["batch_id"], []).append(final["id"])
    assert sorted(len(v) for v in batches.values()) == [10, 10]
    for job_id in ids:
        code, result = await api.get(f"jobs/{job_id}/result")
        # the provider ran each batch as ONE Aer run of 10 circuits
        assert result["metadata"]["batch_size"] == 10
    code, info = await api.get("scheduler")
    assert info["batches_flushed"] == 2


async def test_a_high_priority_job_overtakes_waiting_standard_jobs(api):
    standard = []
    for _ in range(5):
        code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 100})
        standard.append(record["id"])
    code, info = await api.get("scheduler")
    assert info["queued"] == 5 and info["groups"][0]["queued"] == 5
    code, high = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 100, "priority": "high"})
    done = await api.wait(high["id"])
    assert done["status"] == "COMPLETED"
    for job_id in standard:
        code, record = await api.get(f"jobs/{job_id}")
        assert record["status"] == "QUEUED"
        assert record["status_message"] == "waiting for batch (5/10)"


async def test_cancel_of_a_queued_job(api):
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 100})
    code, cancelled = await api.post(f"jobs/{record['id']}/cancel")
    assert code == 200 and cancelled["status"] == "CANCELLED" and cancelled["finished_at"]
    code, info = await api.get("scheduler")
    assert info["queued"] == 0
    code, body = await api.get(f"jobs/{record['id']}/result")
    assert code == 409


async def test_cancel_of_a_running_classical_job_kills_it(api):
    code, record = await api.post(
        "classical/jobs", {"code": "import time\ndef main():\n    time.sleep(30)\n", "priority": "high"}
    )
    for _ in range(200):
        code, current = await api.get(f"jobs/{record['id']}")
        if current["status"] == "RUNNING":
            break
        await asyncio.sleep(0.05)
    assert current["status"] == "RUNNING"
    code, cancelled = await api.post(f"jobs/{record['id']}/cancel")
    assert code == 200 and cancelled["status"] == "CANCELLED"
