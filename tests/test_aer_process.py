"""The local simulator's worker process (``providers/local_simulator.py``
``AerProcess``): one per server process, shared by the providers of its
engines, outliving any one of them; a cancel or a closing provider stops only
its own run, and the next request starts a new worker."""

from __future__ import annotations

import threading
import time

import pytest

from hal_jupyter.providers.local_simulator import AerProcess, LocalSimulatorProvider

pytest.importorskip("qiskit_aer")

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'


def _long_circuit(qubits: int = 22, layers: int = 60) -> str:
    """A statevector run that lasts seconds: long enough to be stopped mid-way."""
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];", f"creg c[{qubits}];"]
    for layer in range(layers):
        lines += [f"h q[{k}];" for k in range(qubits)]
        lines += [f"cx q[{k}],q[{(k + 1 + layer) % qubits}];" for k in range(0, qubits - 1, 2)]
    lines.append("measure q -> c;")
    return "\n".join(lines) + "\n"


def _pid(aer: AerProcess) -> int:
    proc = aer._proc
    assert proc is not None and proc.poll() is None
    return proc.pid


def _run_in_thread(aer: AerProcess, owner: object, request: tuple) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = aer.run(owner, request)
        except RuntimeError as exc:
            outcome["error"] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_until_running(aer: AerProcess, owner: object) -> None:
    deadline = time.monotonic() + 30
    while aer._owner is not owner:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.01)


def test_the_providers_of_one_process_share_one_worker_that_outlives_each():
    first, second = LocalSimulatorProvider(), LocalSimulatorProvider()
    assert first._aer is second._aer is AerProcess.of_this_process()
    counts = first._simulate("automatic", [(BELL, None)], 200, 1)[0]["counts"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200
    pid = _pid(first._aer)
    first.close()  # its feeder thread is gone; the worker serves the others
    time.sleep(0.2)
    counts = second._simulate("automatic", [(BELL, None)], 100, 2)[0]["counts"]
    assert set(counts) <= {"00", "11"} and _pid(second._aer) == pid
    second.close()


def test_a_stop_ends_only_its_owners_run_and_the_next_request_starts_a_new_worker():
    aer = AerProcess()  # a worker of its own: the shared one is left alone
    mine, theirs = object(), object()
    aer.run(mine, ("automatic", [(BELL, None)], 10, 1))
    pid = _pid(aer)
    thread, outcome = _run_in_thread(aer, mine, ("statevector", [(_long_circuit(), None)], 1, 1))
    _wait_until_running(aer, mine)
    aer.stop(theirs)  # not their run: nothing happens
    assert _pid(aer) == pid
    aer.stop(mine)
    thread.join(timeout=60)
    assert "the simulator process stopped" in outcome.get("error", ""), outcome
    counts = aer.run(theirs, ("automatic", [(BELL, None)], 50, 3))[0]["counts"]
    assert sum(counts.values()) == 50 and _pid(aer) != pid  # started again
    aer.stop(None)  # nobody's run: the idle worker stays
    assert aer._proc is not None and aer._proc.poll() is None
    aer._proc.kill()
