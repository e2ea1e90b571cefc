"""Real crashes: a real server is killed with SIGKILL at a named point of the
submission path (``hal_jupyter/engine/faults.py``), then restarted: a few
cases per provider family. Every point of every provider runs in-process in
``tests/test_crash_points.py``, which checks the same outcomes; these show
that a real SIGKILL leaves nothing those miss (an answer never sent, a
process gone mid-call, the store's own commits only).

After the restart every job must end COMPLETED, carried by the provider
exactly once where the provider outlives the server (Braket, Azure Quantum, IBM
Quantum's cloud path: counted by their emulators, remote ids unchanged; IBM's
runtime job, which has no idempotency token, found by its batch tag after a
crash before its id was stored), and run again exactly once
where the work died with the server (IBM local mode, the local simulator: free,
at least once). A provider whose outcome cannot be established (a serverless
invocation) leaves its jobs UNKNOWN, never invoked again.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
from collections import Counter
from http.client import RemoteDisconnected

import pytest

from hal_jupyter.engine.faults import ENV

from . import quantum_checks as checks
from hal_jupyter.offline import stack as offline
from .server_process import ServerProcess

pytest.importorskip("braket")
pytest.importorskip("azure.quantum")
pytest.importorskip("qiskit_ibm_runtime")

REMOTE = checks.CRASH_REMOTE
LOCAL = {"ibm_quantum": "fake_manila", "local_simulator": "aer_simulator"}
ACCEPTED = re.compile(r"hal_jupyter: (\w+) accepted batch (b-[0-9a-f]+)")


@pytest.fixture(scope="module")
def clouds():
    return offline.start_all()


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.2)
    yield proc
    proc.stop()


def crash_and_restart(server: ServerProcess, env: dict[str, str], point: str, provider: str, body: dict, key: str) -> list[str]:
    """Start with the crash point armed, submit, see the server die, start again; the job ids."""
    server.start(env={**env, ENV: f"{point}@{provider}"})
    headers = {"Idempotency-Key": key}
    try:
        status, reply = server.request("POST", "/hal/api/quantum/jobs", body, headers)
    except (RemoteDisconnected, ConnectionError, urllib.error.URLError):
        assert point == "before_reply"
        reply = None
    else:
        assert status == 201 and point != "before_reply", reply
    assert server.proc is not None and server.proc.wait(timeout=60) == -9  # it died at the point
    server.start(env=env)
    if reply is None:  # the client saw no answer: it sends the same request again
        status, reply = server.request("POST", "/hal/api/quantum/jobs", body, headers)
        assert status == 200, reply  # a replay of the stored submission, nothing new
    ids = [r["id"] for r in reply["jobs"]]
    status, listing = server.request("GET", "/hal/api/jobs?limit=500")
    assert sorted(j["id"] for j in listing["jobs"]) == sorted(ids)  # no job stored twice
    return ids


def accepted_per_job(server: ServerProcess, db: sqlite3.Connection) -> Counter[str]:
    """How many times a provider accepted each job, from the server's log and its batches."""
    carried = {batch: json.loads(ids) for batch, ids in db.execute("SELECT id, job_ids FROM hal_batches")}
    return Counter(j for _, batch in ACCEPTED.findall(server.log_path.read_text()) for j in carried[batch])


def check_counts(server: ServerProcess, ids: list[str]) -> None:
    for k, job_id in enumerate(ids):
        counts = server.request("GET", f"/hal/api/jobs/{job_id}/result")[1]["counts"]
        assert max(counts, key=counts.get) == ["001", "010", "100"][k]


#: real SIGKILLs: a lost reply the client sends again, and a crash between intent and create;
#: Braket's (and Azure's other points) in test_many_engines, every provider at every point in test_crash_points
@pytest.mark.parametrize("provider, point", [("azure_quantum", "before_reply"), ("ibm_quantum", "after_intent")])
def test_a_cloud_job_is_created_once_whatever_the_crash_point(clouds, server, tmp_path, provider, point):
    backend, creates_per_batch = REMOTE[provider]
    world = offline.worlds[provider]
    world.hold.clear()  # the provider keeps the work queued while the server dies
    before = len(world.creates)
    body = {"jobs": [{"provider": provider, "backend": backend, "circuit": checks.flip(k), "shots": 200} for k in range(3)]}
    try:
        ids = crash_and_restart(server, clouds, point, provider, body, f"matrix-{provider}-{point}")
        world.hold.set()
        records = server.wait_all(ids, timeout=90)
    finally:
        world.hold.set()
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 3}, records
    created = world.creates[before:]
    assert len(created) == creates_per_batch, created  # the provider saw one create per job
    remote = [records[i]["remote_id"] for i in ids]
    assert len(set(remote)) == 3 and {r.partition("#")[0] for r in remote} == set(created)  # no remote id lost
    assert len({records[i]["batch_id"] for i in ids}) == 1  # a resubmission reuses the batch id: the idempotency token
    check_counts(server, ids)


@pytest.mark.parametrize("provider, point", [("local_simulator", "after_remote_id")])
def test_local_work_lost_in_a_crash_runs_again_exactly_once(clouds, server, tmp_path, provider, point):
    body = {"jobs": [{"provider": provider, "backend": LOCAL[provider], "circuit": checks.flip(k), "shots": 200} for k in range(3)]}
    clouds = {**clouds, "QISKIT_IBM_CHANNEL": "local"}  # IBM Quantum's local mode, not the stand-in of its cloud
    ids = crash_and_restart(server, clouds, point, provider, body, f"matrix-{provider}-{point}")
    records = server.wait_all(ids, timeout=90)
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 3}, records
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    runs = 2 if point in checks.LOCAL_RAN_BEFORE_CRASH else 1  # free local work: at least once, and once after the restart
    assert accepted_per_job(server, db) == {i: runs for i in ids}
    check_counts(server, ids)


@pytest.mark.parametrize("point", ["after_accept"])
def test_an_invocation_that_cannot_be_checked_is_unknown_and_never_repeated(clouds, server, tmp_path, point):
    witness = tmp_path / "invoked.txt"
    code = "def main(path):\n    with open(path, 'a') as f:\n        f.write('ran\\n')\n    return 1\n"
    server.start(env={**clouds, ENV: f"{point}@aws_lambda"})
    status, record = server.request(
        "POST", "/hal/api/classical/jobs", {"provider": "aws_lambda", "code": code, "args": {"path": str(witness)}, "priority": "high"}
    )
    assert status == 201, record
    assert server.proc is not None and server.proc.wait(timeout=60) == -9
    server.start(env=clouds)
    final = server.wait_all([record["id"]], timeout=60)[record["id"]]
    assert final["status"] == "UNKNOWN" and "not resubmitted" in final["status_message"], final
    time.sleep(1.5)  # an invocation made before the crash has finished by now
    runs = witness.read_text().count("ran") if witness.exists() else 0
    # before the call: never invoked; after it: at most the one invocation made before the crash
    assert runs == 0 if point == "after_intent" else runs <= 1
