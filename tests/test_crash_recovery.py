"""kill -9 of a real server with queued jobs, then a restart: nothing lost, nothing run twice."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter

import pytest

from .conftest import BELL_QASM2
from .server_process import ServerProcess


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    yield proc
    proc.stop()


def test_kill_9_with_100_queued_jobs_then_restart_completes_each_exactly_once(server, tmp_path):
    witness = tmp_path / "ran.txt"
    code = (
        "def main(i, path):\n"
        "    with open(path, 'a') as f:\n"
        "        f.write(str(i) + '\\n')\n"
        "    return i\n"
    )
    # A window far longer than the test: every job is still QUEUED when the server dies.
    server.start(batch_window_s=600, batch_max_size=1000)
    quantum = [{"circuit": BELL_QASM2, "shots": 100, "tags": [f"q{i}"]} for i in range(60)]
    classical = [{"code": code, "args": {"i": i, "path": str(witness)}} for i in range(40)]
    status, q = server.request("POST", "/hal/api/quantum/jobs", {"jobs": quantum})
    assert status == 201
    status, c = server.request("POST", "/hal/api/classical/jobs", {"jobs": classical})
    assert status == 201
    ids = [r["id"] for r in q["jobs"] + c["jobs"]]
    status, info = server.request("GET", "/hal/api/scheduler")
    assert info["queued"] == 100

    server.kill()
    server.start(batch_window_s=0.5)
    records = server.wait_all(ids, timeout=120)

    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 100}
    assert sorted(int(line) for line in witness.read_text().split()) == list(range(40))
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    carried = Counter(j for (job_ids,) in db.execute("SELECT job_ids FROM hal_batches") for j in json.loads(job_ids))
    assert set(carried) == set(ids) and set(carried.values()) == {1}
    status, result = server.request("GET", f"/hal/api/jobs/{ids[0]}/result")
    assert set(result["counts"]) == {"00", "11"}


def test_restart_requeues_free_local_work_that_died_in_flight(server, tmp_path):
    """A local run lost with the server is run again (at least once; it is free)."""
    server.start(batch_window_s=0.1)
    status, record = server.request(
        "POST", "/hal/api/classical/jobs", {"code": "import time\ndef main():\n    time.sleep(60)\n", "priority": "high"}
    )
    for _ in range(100):
        status, current = server.request("GET", f"/hal/api/jobs/{record['id']}")
        if current["status"] == "RUNNING":
            break
        time.sleep(0.1)
    assert current["status"] == "RUNNING"
    first_batch = current["batch_id"]
    server.kill()
    server.start()
    for _ in range(100):
        status, current = server.request("GET", f"/hal/api/jobs/{record['id']}")
        if current["status"] == "RUNNING":
            break
        time.sleep(0.1)
    assert current["status"] == "RUNNING" and current["batch_id"] != first_batch
    status, cancelled = server.request("POST", f"/hal/api/jobs/{record['id']}/cancel")
    assert status == 200 and cancelled["status"] == "CANCELLED"
