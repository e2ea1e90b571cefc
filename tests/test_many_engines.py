"""Many engines, one PostgreSQL store: real `jupyter server`s and workers (API.md v1.1).

Each test starts its processes on a fresh database of the session's throwaway
PostgreSQL cluster (tests/postgres.py) and checks what a user and the store see.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from collections import Counter
from http.client import RemoteDisconnected

import pytest
import sqlalchemy as sa
import websocket

from hal_jupyter.engine.faults import ENV, POINTS

from . import quantum_checks as checks
from .conftest import BELL_QASM2
from .server_process import ServerProcess, WorkerProcess, start_together, stop_together, wait_records

LEASE = {"lease_s": 2}


def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def processes():
    started: list[ServerProcess | WorkerProcess] = []
    yield started
    stop_together(started)


def _server(processes, root, pg_url, **traits):
    proc = ServerProcess(root, db_url=pg_url, **{**LEASE, "batch_window_s": 0.5, **traits})
    processes.append(proc)
    return proc


def test_two_servers_and_a_worker_run_600_jobs_once_and_batch_one_group_together(pg_url, processes, tmp_path):
    # a window that outlasts the three rounds of sends, however loaded the machine
    window = {"batch_window_s": 4.0, "batch_max_size": 1000}
    a, b = start_together(_server(processes, tmp_path / "a", pg_url, **window), _server(processes, tmp_path / "b", pg_url, **window))
    worker = WorkerProcess(tmp_path / "w", pg_url)
    processes.append(worker)
    worker.start().wait_for_log("driving jobs")
    accepted: dict[str, str] = {}

    def send(server: ServerProcess, name: str, round_: int) -> None:
        jobs = [{"circuit": BELL_QASM2, "shots": 100, "tags": [f"r{round_}"]} for _ in range(100)]
        status, reply = server.request("POST", "/hal/api/quantum/jobs", {"jobs": jobs})
        assert status == 201, reply
        accepted.update((r["id"], name) for r in reply["jobs"])

    for round_ in range(3):
        if round_ == 1:  # both servers at the same moment
            threads = [threading.Thread(target=send, args=(server, name, round_)) for name, server in (("a", a), ("b", b))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        else:  # one after the other, within the first one's window: b leaves its jobs to a, which holds their group
            send(a, "a", round_)
            send(b, "b", round_)
    assert len(accepted) == 600
    records = wait_records(a, list(accepted), timeout=180)
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 600}
    attempts = dict(_rows(pg_url, "SELECT id, attempts FROM hal_jobs"))
    assert set(attempts.values()) == {1}  # each submitted once
    carried = Counter(j for (ids,) in _rows(pg_url, "SELECT job_ids FROM hal_batches") for j in json.loads(ids))
    assert set(carried) == set(accepted) and set(carried.values()) == {1}  # each in exactly one batch
    mixed = [ids for (ids,) in _rows(pg_url, "SELECT job_ids FROM hal_batches") if len({accepted[j] for j in json.loads(ids)}) == 2]
    assert mixed, "no batch held jobs accepted by both servers"
    counts = b.request("GET", f"/hal/api/jobs/{next(iter(accepted))}/result")[1]["counts"]
    assert checks.share(counts, {"00", "11"}) == 1.0 and 0.3 < counts.get("00", 0) / 100 < 0.7


REMOTE = {name: checks.CRASH_REMOTE[name] for name in ("aws_braket", "azure_quantum")}


@pytest.fixture(scope="module")
def clouds():
    from hal_jupyter.offline import stack as offline

    return offline.start_all()


#: the two points where the dead server's client or provider has the work: the reply lost (the client asks the
#: other server) and the provider's acceptance unrecorded (the survivor must find it, not send it again). Every
#: provider at every point: tests/test_crash_points.py, in-process; a real kill at after_intent and before_reply
#: with a restart: tests/test_crash_matrix.py
KILLS = [(point, "aws_braket") for point in POINTS if point in ("before_reply", "after_accept")]


@pytest.mark.parametrize("point, provider", KILLS)
def test_a_server_killed_at_a_crash_point_has_its_jobs_finished_by_another(clouds, pg_url, processes, tmp_path, provider, point):
    from hal_jupyter.offline import stack as offline

    backend, creates_per_batch = REMOTE[provider]
    world = offline.worlds[provider]
    before = len(world.creates)
    doomed = _server(processes, tmp_path / "a", pg_url).launch(env={**clouds, ENV: f"{point}@{provider}"})
    survivor = _server(processes, tmp_path / "b", pg_url).launch(env=clouds)
    doomed.ready(), survivor.ready()  # side by side
    body = {"jobs": [{"provider": provider, "backend": backend, "circuit": checks.flip(k), "shots": 200} for k in range(3)]}
    headers = {"Idempotency-Key": f"many-{provider}-{point}"}
    world.hold.clear()  # the provider keeps the work queued while the server dies
    try:
        try:
            status, reply = doomed.request("POST", "/hal/api/quantum/jobs", body, headers)
        except (RemoteDisconnected, ConnectionError, urllib.error.URLError):
            assert point == "before_reply"
            status, reply = survivor.request("POST", "/hal/api/quantum/jobs", body, headers)  # the client tries the other server
            assert status == 200, reply  # the stored submission, replayed
        assert doomed.proc is not None and doomed.proc.wait(timeout=60) == -9
        ids = [r["id"] for r in reply["jobs"]]
        world.hold.set()
        records = wait_records(survivor, ids, timeout=90)
    finally:
        world.hold.set()
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 3}, records
    created = world.creates[before:]
    assert len(created) == creates_per_batch, created  # one create per batch: never submitted twice
    remote = [records[i]["remote_id"] for i in ids]
    assert len(set(remote)) == 3 and {r.partition("#")[0] for r in remote} == set(created)  # no remote id lost
    for k, job_id in enumerate(ids):
        counts = survivor.request("GET", f"/hal/api/jobs/{job_id}/result")[1]["counts"]
        assert max(counts, key=counts.get) == ["001", "010", "100"][k]


def test_postgresql_restarted_mid_run_gives_503s_meanwhile_and_loses_nothing(pg_url, processes, tmp_path, pg_cluster):
    server = _server(processes, tmp_path / "a", pg_url, lease_s=30, batch_window_s=0.3).start()
    status, done = server.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2, "shots": 50, "priority": "high"})
    assert wait_records(server, [done["id"]], timeout=60)[done["id"]]["status"] == "COMPLETED"
    status, reply = server.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": BELL_QASM2, "shots": 50} for _ in range(50)]})
    assert status == 201
    ids = [done["id"]] + [r["id"] for r in reply["jobs"]]
    pg_cluster.stop()  # mid-run: the 50 are queued or in flight
    try:
        answers = Counter()
        # a finished job is read from the store (a job this engine drives would be answered from its memory)
        for path, body in (("/hal/api/jobs", None), (f"/hal/api/jobs/{done['id']}", None), ("/hal/api/quantum/jobs", {"circuit": BELL_QASM2})):
            status, error = server.request("POST" if body else "GET", path, body)
            answers[status] += 1
            assert status == 503 and error["type"] == "StoreUnavailable", (status, error)
        time.sleep(1.0)  # the engine's loops meet the outage too
    finally:
        pg_cluster.start()
    status, more = server.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": BELL_QASM2, "shots": 50} for _ in range(10)]})
    assert status == 201, more
    ids += [r["id"] for r in more["jobs"]]
    records = wait_records(server, ids, timeout=120)
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 61}
    assert "Uncaught exception" not in server.log_path.read_text()


def test_two_users_on_one_store_see_only_their_own_jobs(pg_url, processes, tmp_path):
    alice, bob, admin = start_together(
        _server(processes, tmp_path / "alice", pg_url, user="alice"),
        _server(processes, tmp_path / "bob", pg_url, user="bob"),
        _server(processes, tmp_path / "carol", pg_url, user="carol", admin_users="carol", dispatch=False),
    )
    seen: list[dict] = []
    socket = websocket.create_connection(f"ws://127.0.0.1:{bob.port}/hal/api/events", header=[f"Authorization: token {bob.token}"], timeout=10)
    reader = threading.Thread(target=_read_events, args=(socket, seen), daemon=True)
    reader.start()
    status, mine = alice.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2, "shots": 100, "priority": "high"})
    assert status == 201 and mine["owner"] == "alice"
    status, theirs = bob.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2, "shots": 100, "priority": "high"})
    assert status == 201 and theirs["owner"] == "bob"
    wait_records(alice, [mine["id"]], timeout=60)
    wait_records(bob, [theirs["id"]], timeout=60)
    for path in (f"/hal/api/jobs/{mine['id']}", f"/hal/api/jobs/{mine['id']}/result"):
        assert bob.request("GET", path)[0] == 404
    assert bob.request("POST", f"/hal/api/jobs/{mine['id']}/cancel")[0] == 404
    assert [j["id"] for j in bob.request("GET", "/hal/api/jobs")[1]["jobs"]] == [theirs["id"]]
    assert bob.request("GET", f"/hal/api/jobs?ids={mine['id']},{theirs['id']}")[1]["jobs"][0]["id"] == theirs["id"]
    assert {j["id"] for j in admin.request("GET", "/hal/api/jobs")[1]["jobs"]} == {mine["id"], theirs["id"]}
    time.sleep(0.5)
    socket.close()
    reader.join(timeout=5)
    assert theirs["id"] in {r["id"] for r in seen} and mine["id"] not in {r["id"] for r in seen}
    # the kernel's client and the magics go through the same scoped REST API
    from hal_jupyter import Hal
    from hal_jupyter.engine.errors import JobNotFound

    hal = Hal(bob.url, bob.token)
    try:
        with pytest.raises(JobNotFound):
            hal.job(mine["id"])
        assert [j.id for j in hal.jobs()] == [theirs["id"]]
    finally:
        hal.close()


def _read_events(socket, seen: list[dict]) -> None:
    while True:
        try:
            message = json.loads(socket.recv())
        except Exception:  # noqa: BLE001 - closed
            return
        seen.extend([message["job"]] if message["type"] == "job" else message["jobs"])


def test_a_mixed_fleet_runs_every_job_each_worker_claiming_only_the_providers_it_drives(pg_url, processes, tmp_path):
    """A server that does not dispatch, a local_python-only worker and a
    local_simulator-only worker (API.md v1.2 "Workers that drive some providers")."""
    server = _server(processes, tmp_path / "a", pg_url, dispatch=False).start()
    status, quantum = server.request("POST", "/hal/api/quantum/jobs", {"jobs": [{"circuit": BELL_QASM2, "shots": 100} for _ in range(20)]})
    assert status == 201
    status, classical = server.request("POST", "/hal/api/classical/jobs", {"jobs": [{"code": f"def main():\n    return {i} * 2\n"} for i in range(6)]})
    assert status == 201
    sim_ids, py_ids = [r["id"] for r in quantum["jobs"]], [r["id"] for r in classical["jobs"]]
    for record in [*quantum["jobs"], *classical["jobs"]]:  # nobody drives them yet, and they say so
        assert record["status"] == "QUEUED" and "no live engine drives provider" in record["status_message"], record
    status, scheduler = server.request("GET", "/hal/api/scheduler")
    assert status == 200 and [(e["dispatch"], e["this"]) for e in scheduler["engines"]] == [(False, True)]

    python = WorkerProcess(tmp_path / "py", pg_url, **{"allowed-providers": "local_python", "name": "python-only"})
    processes.append(python)
    python.start()
    done = wait_records(server, py_ids, timeout=90)
    assert Counter(r["status"] for r in done.values()) == {"COMPLETED": 6}
    status, listing = server.request("GET", "/hal/api/jobs?include=result&ids=" + ",".join(py_ids))
    assert sorted(r["result"]["value"] for r in listing["jobs"]) == [0, 2, 4, 6, 8, 10]
    waiting = wait_records(server, sim_ids, timeout=5, done=("QUEUED",))
    assert {r["status"] for r in waiting.values()} == {"QUEUED"}  # the python worker left them
    assert all("'local_simulator'" in r["status_message"] for r in waiting.values())

    sim = WorkerProcess(tmp_path / "sim", pg_url, **{"allowed-providers": "local_simulator", "name": "simulator-only"})
    processes.append(sim)
    sim.start()
    records = wait_records(server, sim_ids, timeout=120)
    assert Counter(r["status"] for r in records.values()) == {"COMPLETED": 20}
    status, scheduler = server.request("GET", "/hal/api/scheduler")
    drives = {e["label"]: e["providers"] for e in scheduler["engines"] if e["dispatch"]}
    assert drives == {"python-only": ["local_python"], "simulator-only": ["local_simulator"]}
    assert python.proc.poll() is None and sim.proc.poll() is None  # no worker exits
    assert "claimed 20 job(s)" in sim.log_path.read_text() and "ProviderNotFound" not in python.log_path.read_text()
    assert python.stop() == 0 and sim.stop() == 0
    assert "releasing its jobs" in sim.log_path.read_text()
    labels = [label for (label,) in _rows(pg_url, "SELECT label FROM hal_engines")]
    assert "python-only" not in labels and "simulator-only" not in labels  # their leases are gone with them


def test_a_server_started_while_postgresql_is_down_answers_503_then_works_once_it_is_up(pg_cluster, pg_url, processes, tmp_path):
    pg_cluster.stop()
    try:
        server = _server(processes, tmp_path / "a", pg_url.replace("postgresql+psycopg://", "postgresql://"))
        server.start()
        for method, path, body in (("GET", "/hal/api/jobs", None), ("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2})):
            status, error = server.request(method, path, body)
            assert status == 503 and error["type"] == "StoreUnavailable" and "cannot be reached" in error["message"], (status, error)
            assert pg_cluster.password not in error["message"]
    finally:
        pg_cluster.start()
    deadline = time.monotonic() + 30
    while True:  # the next request after a short pause builds the engine again
        status, record = server.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2, "shots": 100, "priority": "high"})
        if status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 201, record
    assert wait_records(server, [record["id"]], timeout=60)[record["id"]]["status"] == "COMPLETED"
    assert "Uncaught exception" not in server.log_path.read_text()


def test_two_servers_racing_against_a_budget_never_pass_it_together(clouds, pg_url, processes, tmp_path):
    """API.md v1.2 "Spend control": 40 submissions to two servers at once, a budget with room for 10.5."""
    backend = checks.CRASH_REMOTE["aws_braket"][0]
    window = {"batch_window_s": 60.0, "batch_max_size": 1000, "user": "alice", "admin_users": "alice"}
    a, b = start_together(_server(processes, tmp_path / "a", pg_url, **window), _server(processes, tmp_path / "b", pg_url, **window), env=clouds)
    job = {"provider": "aws_braket", "backend": backend, "circuit": BELL_QASM2, "shots": 100}
    status, priced = a.request("POST", "/hal/api/quantum/jobs?dry_run=true", job)
    assert status == 200 and priced["outcome"] == "accept" and priced["jobs"][0]["budgets"] == [], priced
    each = priced["jobs"][0]["reserved"]["amount"]
    assert each > 0
    status, made = a.request("PUT", "/hal/api/budgets/team-month", {"limit": 10.5 * each, "period": "month", "scope": {"provider": "aws_braket"}})
    assert status == 200 and made["remaining"] == pytest.approx(10.5 * each), made
    assert [x["name"] for x in b.request("GET", "/hal/api/budgets")[1]["budgets"]] == ["team-month"]  # b reads it (and forgets its cache)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send(server: ServerProcess) -> None:
        for _ in range(20):
            reply = server.request("POST", "/hal/api/quantum/jobs", job)
            with lock:
                answers.append(reply)

    threads = [threading.Thread(target=send, args=(s,)) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(status for status, _ in answers) == {201: 10, 402: 30}, Counter(status for status, _ in answers)
    refused = next(body for status, body in answers if status == 402)
    assert refused["type"] == "BudgetExceeded" and refused["budget"] == "team-month" and refused["requested"] == pytest.approx(each)
    [(reserved, count)] = _rows(pg_url, "SELECT SUM(amount), COUNT(*) FROM hal_charges WHERE budget = 'team-month'")
    assert count == 10 and reserved <= 10.5 * each
    [budget] = b.request("GET", "/hal/api/budgets")[1]["budgets"]
    assert budget["reserved"] + budget["spent"] <= budget["limit"] and budget["remaining"] == pytest.approx(0.5 * each, abs=1e-6)
    assert [s for s, _ in answers if s == 201] and _rows(pg_url, "SELECT COUNT(*) FROM hal_jobs") == [(10,)]  # refused: nothing stored
    status, over = b.request("POST", "/hal/api/quantum/jobs?dry_run=true", {"jobs": [job, job]})
    assert status == 200 and over["outcome"] == "refuse" and _rows(pg_url, "SELECT COUNT(*) FROM hal_jobs") == [(10,)]
    rows = {r["key"]: r for r in a.request("GET", "/hal/api/spend?group_by=provider")[1]["rows"]}
    assert rows["aws_braket"]["reserved"] == pytest.approx(10 * each)
