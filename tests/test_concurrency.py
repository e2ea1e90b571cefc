"""50 clients at once, 20 jobs each, every job with an Idempotency-Key; some
requests are sent again after they succeeded, some twice at the same moment.
All 1,000 jobs must be accounted for exactly once: one job per key, the job
each key asked for, each carried to the provider once and completed."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import BELL_QASM2
from .server_process import ServerProcess

CLIENTS, JOBS = 50, 20


def body(client: int, job: int) -> dict[str, Any]:
    return {"circuit": BELL_QASM2, "shots": 20, "tags": [f"c{client}", f"j{job}"]}


@pytest.mark.timeout(600)
def test_1000_jobs_from_50_concurrent_clients_are_each_stored_and_run_once(tmp_path):
    server = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.5, batch_max_size=500)
    answers: dict[str, list[tuple[int, str]]] = {}
    lock = threading.Lock()

    def send(client: int, job: int) -> None:
        key = f"client-{client}-job-{job}"
        status, record = server.request("POST", "/hal/api/quantum/jobs", body(client, job), {"Idempotency-Key": key})
        assert status in (200, 201), record
        assert record["tags"] == [f"c{client}", f"j{job}"]  # the job this key asked for
        with lock:
            answers.setdefault(key, []).append((status, record["id"]))

    def client(number: int, racer: ThreadPoolExecutor) -> None:
        for job in range(JOBS):
            if job % 10 == 0:  # the same request twice at the same moment (a client that retried too soon)
                twin = racer.submit(send, number, job)
                send(number, job)
                twin.result()
            else:
                send(number, job)
            if job % 10 == 3:  # the reply was "lost": the client sends the request again
                send(number, job)

    try:
        server.start()
        with ThreadPoolExecutor(CLIENTS) as clients, ThreadPoolExecutor(CLIENTS) as racer:
            for future in [clients.submit(client, n, racer) for n in range(CLIENTS)]:
                future.result()

        assert len(answers) == CLIENTS * JOBS
        for key, replies in answers.items():
            assert len({job_id for _, job_id in replies}) == 1, (key, replies)  # one job per key
            assert sorted(status for status, _ in replies)[-1] == 201 and Counter(s for s, _ in replies)[201] == 1, (key, replies)
        retried = sum(len(replies) > 1 for replies in answers.values())
        assert retried == CLIENTS * (2 + 2)  # 2 resent and 2 raced per client

        deadline = time.monotonic() + 300
        while True:
            pending = [s for s in ("QUEUED", "SUBMITTING", "SUBMITTED", "RUNNING") if server.request("GET", f"/hal/api/jobs?status={s}&limit=1")[1]["jobs"]]
            if not pending:
                break
            assert time.monotonic() < deadline, f"jobs still {pending}"
            time.sleep(1)
    finally:
        server.stop()

    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    ids = {job_id for replies in answers.values() for _, job_id in replies}
    stored = dict(db.execute("SELECT status, COUNT(*) FROM hal_jobs GROUP BY status").fetchall())
    assert stored == {"COMPLETED": CLIENTS * JOBS}
    assert {row[0] for row in db.execute("SELECT id FROM hal_jobs")} == ids
    assert db.execute("SELECT COUNT(*) FROM hal_idempotency").fetchone()[0] == CLIENTS * JOBS
    carried = Counter(j for (job_ids,) in db.execute("SELECT job_ids FROM hal_batches") for j in json.loads(job_ids))
    assert set(carried) == ids and set(carried.values()) == {1}  # each carried to the provider once
