"""Results in bulk (API.md v1.1): a list of circuits is one request, and
``hal.results`` reads many jobs 500 at a time, never one request per job.

Every test runs against a real Jupyter server process (REST) and against an
embedded engine. Requests are counted where they leave the client: the HTTP
session's response hook, or the embedded engine's methods.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hal_jupyter import Hal, JobFailed

from .conftest import BELL_QASM2
from .server_process import ServerProcess

QUBITS = 4
SLEEPER = "import time\ndef main():\n    time.sleep(30)\n"


@dataclass
class Call:
    """One request the client made: the engine method it reaches, and how many ids it names."""

    name: str
    ids: int = 0


class Calls(list[Call]):
    def named(self, name: str) -> list[Call]:
        return [c for c in self if c.name == name]

    def names(self) -> set[str]:
        return {c.name for c in self}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("bulk-server")
    proc = ServerProcess(root, db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=0.1, batch_max_size=200, env_file="")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(params=["remote", "embedded"])
def hal(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Hal, Calls]]:
    calls = Calls()
    if request.param == "remote":
        server = request.getfixturevalue("server")
        client = Hal(server.url + "/", server.token)
        client.transport._session.hooks["response"].append(lambda response, *a, **k: calls.append(_http_call(response)))
    else:
        client = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.1, batch_max_size=200, env_file="")
        count_engine_calls(client.transport.engine, calls)
    yield client, calls
    client.close()


def _http_call(response: Any) -> Call:
    url = urlsplit(response.request.url)
    path = url.path.split("/hal/api/", 1)[1]
    ids = parse_qs(url.query).get("ids", [""])[0]
    if response.request.method == "POST":
        name = "cancel" if path.endswith("/cancel") else "submit"
    elif path == "jobs":
        name = "list_jobs"
    elif path.startswith("jobs/"):
        name = "get_result" if path.endswith("/result") else "get_job"
    else:
        name = path
    return Call(name, len(ids.split(",")) if ids else 0)


def count_engine_calls(engine: Any, calls: Calls) -> None:
    for name in ("submit", "get_job", "list_jobs", "get_result", "cancel"):
        original = getattr(engine, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            calls.append(Call(_name, len(kwargs.get("ids") or ())))
            return _original(*args, **kwargs)

        setattr(engine, name, counted)


def _x_on(qubit: int, flavour: int) -> Any:
    """X on one qubit of four, as QASM text, a Qiskit circuit or a Braket circuit."""
    if flavour == 0:
        return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{QUBITS}];\ncreg c[{QUBITS}];\nx q[{qubit}];\nmeasure q -> c;\n'
    if flavour == 1:
        from qiskit import QuantumCircuit

        circuit = QuantumCircuit(QUBITS, QUBITS)
        circuit.x(qubit)
        circuit.measure(range(QUBITS), range(QUBITS))
        return circuit
    braket = pytest.importorskip("braket.circuits")
    circuit = braket.Circuit()
    for q in range(QUBITS):
        circuit = circuit.x(q) if q == qubit else circuit.i(q)
    return circuit


def _expected(qubit: int) -> str:
    """Qiskit order: the rightmost character is bit 0."""
    return "".join("1" if q == qubit else "0" for q in reversed(range(QUBITS)))


def _rounds_bound(elapsed: float) -> int:
    """Most polling rounds ``elapsed`` seconds allow: pauses grow from 20 ms by 1.5x
    to 1 s, so the first eleven take about 2 s, each later one about a second."""
    return 11 + int(elapsed) + 1


def test_a_list_of_circuits_is_one_request_and_results_come_in_order(hal):
    client, calls = hal
    circuits = [BELL_QASM2 if i % 4 == 3 else _x_on(i % QUBITS, i % 3) for i in range(30)]
    jobs = client.submit_quantum(circuits, shots=400)
    assert [c.name for c in calls] == ["submit"]
    assert isinstance(jobs, list) and len({j.id for j in jobs}) == 30
    single = client.submit_quantum(BELL_QASM2, shots=400)
    assert not isinstance(single, list)
    calls.clear()
    started = time.monotonic()
    results = client.results([*jobs, single], timeout=30)
    assert calls.names() == {"list_jobs"}, calls  # no per-job reads
    assert all(0 < c.ids <= 500 for c in calls) and len(calls) <= _rounds_bound(time.monotonic() - started)
    assert [r.id for r in results] == [j.id for j in [*jobs, single]]
    for i, result in enumerate(results[:30]):
        if i % 4 == 3:
            assert set(result.counts) == {"00", "11"} and 0.35 < result.counts["00"] / 400 < 0.65
        else:
            assert result.counts == {_expected(i % QUBITS): 400}, (i, result.counts)
    assert set(results[30].counts) == {"00", "11"}
    assert all(j.record["status"] == "COMPLETED" and "result" not in j.record for j in jobs)


def test_job_result_takes_the_same_bulk_path(hal):
    client, calls = hal
    job = client.submit_quantum(_x_on(2, 0), shots=50, priority="high")
    calls.clear()
    assert job.result(timeout=30).counts == {_expected(2): 50}
    assert calls.names() == {"list_jobs"} and all(c.ids == 1 for c in calls)


def test_a_job_that_did_not_complete_raises_job_failed_naming_it(hal):
    client, _ = hal
    good = client.submit_quantum(BELL_QASM2, shots=100, priority="high")
    bad = client.submit_classical("def main():\n    raise ValueError('bad')\n", priority="high")
    stopped = client.submit_classical(SLEEPER, priority="high").cancel()
    with pytest.raises(JobFailed) as error:
        client.results([good, bad, stopped], timeout=30)
    message = error.value.message
    assert message.startswith("2 of 3 jobs did not complete: ")
    assert f"job {bad.id} is FAILED" in message and "ValueError: bad" in message
    assert f"job {stopped.id} is CANCELLED" in message and good.id not in message
    assert [(d["id"], d["status"]) for d in error.value.details] == [(bad.id, "FAILED"), (stopped.id, "CANCELLED")]
    assert good.record["status"] == "COMPLETED"  # every job was waited for
    with pytest.raises(JobFailed, match=f"^job {bad.id} is FAILED: ValueError: bad"):
        bad.result(timeout=30)


def test_a_timeout_says_how_many_are_unfinished(hal):
    client, _ = hal
    quick = client.submit_quantum(BELL_QASM2, shots=100, priority="high")
    quick.result(timeout=30)
    slow = client.submit_classical(SLEEPER, priority="high")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=f"1 of 2 jobs are unfinished \\(first: {slow.id}\\) after 0.5 s"):
        client.results([quick, slow], timeout=0.5)
    assert time.monotonic() - started < 5
    slow.cancel()


def test_600_results_cost_a_request_per_500_jobs_a_round(hal):
    client, calls = hal
    circuits = [_x_on(i % QUBITS, 0) for i in range(600)]
    jobs = client.submit_quantum(circuits, shots=20)
    assert len(calls.named("submit")) == 1
    calls.clear()
    started = time.monotonic()
    results = client.results(jobs, timeout=50)
    elapsed = time.monotonic() - started
    assert calls.names() == {"list_jobs"}
    assert all(0 < c.ids <= 500 for c in calls)
    assert len(calls) <= 2 * _rounds_bound(elapsed) < 600, (len(calls), elapsed)
    assert all(r.counts == {_expected(i % QUBITS): 20} for i, r in enumerate(results))
    calls.clear()
    assert [r.id for r in client.results(jobs, timeout=10)] == [j.id for j in jobs]
    assert [c.ids for c in calls] == [500, 100]  # all finished: one round, two chunks


def test_the_monitor_reads_the_results_of_ended_jobs_in_bulk(hal):
    client, calls = hal
    jobs = client.submit_quantum([_x_on(i % QUBITS, 0) for i in range(20)], shots=30)
    monitor = client.monitor(jobs)
    rows = monitor._rows

    def drawn() -> bool:  # the outcomes are drawn after the statuses
        return all(f">{_expected(i % QUBITS)}<" in rows[j.id].detail.value for i, j in enumerate(jobs))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not drawn():
        time.sleep(0.05)
    assert drawn()
    assert not calls.named("get_result") and not calls.named("get_job")
    # one listing to resync, then at most one per batch of events delivered
    assert len(calls.named("list_jobs")) <= 1 + client.hub.delivered
    monitor.close()
    delivered = client.hub.delivered
    calls.clear()
    again = client.monitor(jobs)  # every job ended: their results in one request
    assert {c.name for c in calls} == {"list_jobs"} and calls[0].ids == 20
    # (an event of the run delivered late, under load, may make the new monitor read a result once more)
    assert len(calls) <= 1 + client.hub.delivered - delivered
    assert all("hal-histogram" in again._rows[j.id].detail.value for j in jobs)
    again.close()
