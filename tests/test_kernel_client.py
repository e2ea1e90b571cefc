"""The Python API (``hal_jupyter.Hal``) on an embedded engine: no server needed."""

from __future__ import annotations

import time

import pytest

from hal_jupyter import Hal, JobFailed
from hal_jupyter.engine.errors import InvalidCircuit, ProviderNotFound

from .conftest import BELL_QASM2


@pytest.fixture
def hal(tmp_path):
    client = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.1)
    yield client
    client.close()


def _bell_ok(counts: dict[str, int], shots: int) -> None:
    assert set(counts) == {"00", "11"} and sum(counts.values()) == shots
    assert 0.4 < counts["00"] / shots < 0.6


def test_quantum_and_classical_jobs(hal):
    assert hal.embedded and "embedded engine" in repr(hal)
    job = hal.submit_quantum(BELL_QASM2, shots=2000)
    assert job.id and job.record["status"] == "QUEUED"
    result = job.result(timeout=30)
    _bell_ok(result.counts, 2000)
    assert job.status() == "COMPLETED"
    classical = hal.submit_classical("def main(x):\n    return x * 21\n", args={"x": 2})
    assert classical.result(timeout=30).value == 42
    # v1.2: the embedded engine types its results as the REST API does
    assert result.type == "sampling" and hal.transport.result(job.id)["type"] == "sampling"
    assert hal.records([classical.id], include_result=True)[0]["result"]["type"] == "classical"


def test_circuit_objects_from_qiskit_and_braket_give_the_same_distribution(hal):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    _bell_ok(hal.submit_quantum(qc, shots=1000, priority="high").result(timeout=30).counts, 1000)
    braket = pytest.importorskip("braket.circuits")
    circuit = braket.Circuit().h(0).cnot(0, 1)
    _bell_ok(hal.submit_quantum(circuit, shots=1000, priority="high").result(timeout=30).counts, 1000)
    # Bit order: X on qubit 0 only reads '01' in Qiskit's order (bit 0 rightmost) on both.
    one = braket.Circuit().x(0).i(1)
    assert hal.submit_quantum(one, shots=10, priority="high").result(timeout=30).counts == {"01": 10}


def test_a_failed_job_raises_with_its_type_and_message(hal):
    job = hal.submit_classical("def main():\n    raise ValueError('bad')\n", priority="high")
    with pytest.raises(JobFailed, match="ValueError: bad"):
        job.result(timeout=30)


def test_errors_are_the_engine_error_tree(hal):
    with pytest.raises(ProviderNotFound):
        hal.submit_quantum(BELL_QASM2, provider="nope")
    with pytest.raises(InvalidCircuit) as error:
        hal.submit_quantum("OPENQASM 2.0;\nqreg q[1];\nbogus q[0];\n")
    assert error.value.details[0]["line"] == 3


def test_wait_with_a_timeout_and_cancel(hal):
    job = hal.submit_classical("import time\ndef main():\n    time.sleep(30)\n", priority="high")
    with pytest.raises(TimeoutError):
        job.wait(timeout=0.3)
    assert job.cancel().record["status"] == "CANCELLED"
    assert [j.id for j in hal.jobs(status="CANCELLED")] == [job.id]


def test_monitor_follows_jobs_to_completion_and_stops_when_closed(hal):
    quantum = hal.submit_quantum(BELL_QASM2, shots=500, name="bell")
    classical = hal.submit_classical("def main():\n    print('hi')\n    return 7\n")
    monitor = hal.monitor([quantum, classical])
    assert hal.hub.running
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and {monitor.status_of(quantum.id), monitor.status_of(classical.id)} != {"COMPLETED"}:
        time.sleep(0.05)
    assert monitor.status_of(quantum.id) == "COMPLETED" and monitor.status_of(classical.id) == "COMPLETED"
    time.sleep(0.3)
    rows = {row.id: row for row in monitor._rows.values()}
    assert "hal-histogram" in rows[quantum.id].detail.value and ">00<" in rows[quantum.id].detail.value
    assert "7" in rows[classical.id].detail.value and "hi" in rows[classical.id].detail.value
    assert "COMPLETED" in rows[quantum.id].status.value and rows[quantum.id].cancel.disabled
    assert "bell" in rows[quantum.id].name.value
    monitor.close()
    assert not hal.hub.running


def test_the_monitor_cancel_button_cancels(hal):
    job = hal.submit_classical("import time\ndef main():\n    time.sleep(30)\n", priority="high")
    monitor = job.monitor()
    row = monitor._rows[job.id]
    row.cancel.click()
    assert job.status() == "CANCELLED"
    assert row.cancel.disabled
    monitor.close()


def test_jobs_survive_a_restart_of_the_client(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    first = Hal(embedded=True, db_url=url)
    job = first.submit_quantum(BELL_QASM2, shots=100, priority="high")
    job.result(timeout=30)
    first.close()
    second = Hal(embedded=True, db_url=url)
    try:
        assert [(j.id, j.record["status"]) for j in second.jobs()] == [(job.id, "COMPLETED")]
    finally:
        second.close()


def test_a_second_embedded_client_gets_a_private_store():
    first = Hal(embedded=True)
    second = Hal(embedded=True)
    try:
        assert first.transport.db_url != second.transport.db_url
        assert "embedded.sqlite" in first.transport.db_url
    finally:
        second.close()
        first.close()
