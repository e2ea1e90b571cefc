"""The kernel side against a real Jupyter server: REST, events, discovery, kernel restarts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hal_jupyter import Hal
from hal_jupyter.engine.errors import BudgetExceeded, NotFound

from . import priced_provider
from .conftest import BELL_QASM2
from .server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module; its user alice may set budgets, and it has the priced test device."""
    root = tmp_path_factory.mktemp("server")
    plugins = priced_provider.install(root / "plugins")
    path = os.pathsep.join([str(plugins), str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    proc = ServerProcess(
        root, token="secret-token-canary", db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=0.2, user="alice", admin_users="alice"
    )
    proc.start(env={"PYTHONPATH": path})
    yield proc
    proc.stop()


def test_hal_over_rest(server):
    hal = Hal(server.url + "/", server.token)
    assert not hal.embedded and "Jupyter server" in repr(hal)
    counts = hal.submit_quantum(BELL_QASM2, shots=1000).result(timeout=30).counts
    assert set(counts) == {"00", "11"}
    assert hal.submit_classical("def main(x):\n    return x * 21\n", args={"x": 2}).result(timeout=30).value == 42
    assert {p["name"] for p in hal.providers()} >= {"local_simulator", "local_python"}
    hal.close()


def test_monitor_is_fed_by_the_events_socket_and_holds_no_credential(server):
    hal = Hal(server.url + "/", server.token)
    jobs = [hal.submit_quantum(BELL_QASM2, shots=100) for _ in range(3)]
    monitor = hal.monitor(jobs)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(monitor.status_of(j.id) != "COMPLETED" for j in jobs):
        time.sleep(0.05)
    assert all(monitor.status_of(j.id) == "COMPLETED" for j in jobs)
    states = json.dumps([w.get_state() for w in _all_widgets(monitor)], default=str)
    assert server.token not in states and "token" not in states.lower()
    monitor.close()
    hal.close()


def _all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)


def test_discovery_by_environment(server, monkeypatch):
    monkeypatch.setenv("HAL_JUPYTER_URL", server.url + "/")
    monkeypatch.setenv("HAL_JUPYTER_TOKEN", server.token)
    hal = Hal()
    assert not hal.embedded
    hal.close()


def test_a_kernel_started_by_the_server_finds_it_and_keeps_jobs_across_a_restart(server):
    """A real kernel, started by the server: %load_ext, a %%hal cell, a kernel restart, %hal jobs."""
    from jupyter_client import BlockingKernelClient

    status, kernel = server.request("POST", "/api/kernels", {"name": "python3"})
    assert status == 201, kernel

    def client() -> BlockingKernelClient:
        for attempt in range(5):  # a kernel still starting (after a restart, on a busy machine) misses a heartbeat
            kc = BlockingKernelClient(connection_file=str(server.root / "runtime" / f"kernel-{kernel['id']}.json"))
            kc.load_connection_file()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                return kc
            except RuntimeError:
                kc.stop_channels()
                if attempt == 4:
                    raise
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def run(kc: BlockingKernelClient, code: str) -> str:
        outputs: list[str] = []

        def keep(msg: dict) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                outputs.append(content["text"])
            elif msg["msg_type"] in ("display_data", "execute_result"):
                outputs.append(content["data"].get("text/html", content["data"].get("text/plain", "")))
            elif msg["msg_type"] == "error":
                outputs.append(f"ERROR {content['ename']}: {content['evalue']}")

        kc.execute_interactive(code, output_hook=keep, timeout=60)
        return "".join(outputs)

    kc = client()
    try:
        out = run(kc, "%load_ext hal_jupyter\nfrom hal_jupyter.kernel.magics import HalMagics")
        out = run(kc, f"%%hal quantum --wait --out r\n{BELL_QASM2}")
        assert "hal-histogram" in out, out
        job_id = run(kc, "print(r.id)").strip()
        assert "Jupyter server" in run(kc, "print(HalMagics._hal)")
    finally:
        kc.stop_channels()
    status, _ = server.request("POST", f"/api/kernels/{kernel['id']}/restart")
    assert status == 200
    kc = client()
    try:
        out = run(kc, "%load_ext hal_jupyter\n%hal jobs")
        assert job_id in out and "COMPLETED" in out, out
    finally:
        kc.stop_channels()
        server.request("DELETE", f"/api/kernels/{kernel['id']}")


def test_qiskit_primitives_over_rest(server):
    """HalSampler and HalEstimator in a kernel under a Jupyter server: the same classes, over REST."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    from hal_jupyter.qiskit import HalEstimator, HalProvider, HalSampler

    hal = Hal(server.url + "/", server.token)
    backend = HalProvider(hal).get_backend("local_simulator/aer_simulator")
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    measured = bell.measure_all(inplace=False)
    sampled = HalSampler(backend).run([measured, measured], shots=200).result(timeout=60)
    assert set(sampled[0].data.meas.get_counts()) == {"00", "11"} and sampled[1].data.meas.num_shots == 200
    records = hal.records(sampled.metadata["hal_job_ids"])
    assert len({r["batch_id"] for r in records}) == 1 and all("memory" not in r for r in records)
    estimated = HalEstimator(backend).run([(bell, [SparsePauliOp("ZZ"), SparsePauliOp("XX")])]).result(timeout=60)
    assert abs(estimated[0].data.evs[0] - 1) < 0.1 and estimated[0].data.evs.shape == (2,)
    hal.close()


def test_spend_control_over_rest(server):
    """Dry runs, budgets and spend through the REST API; a refused submission is the same BudgetExceeded."""
    priced = {"provider": "priced_simulator", "shots": 100}
    hal = Hal(server.url + "/", server.token)
    assert hal.estimate(BELL_QASM2, **priced).total == {"USD": 0.5}
    assert hal.set_budget("remote-team", limit=0.75, scope={"provider": "priced_simulator"})["remaining"] == 0.75
    first = hal.submit_quantum(BELL_QASM2, **priced)
    assert hal.estimate(BELL_QASM2, **priced).outcome == "refuse"
    with pytest.raises(BudgetExceeded, match="Nothing was stored") as refused:
        hal.submit_quantum([BELL_QASM2] * 2, **priced)
    assert refused.value.figures["budget"] == "remote-team" and refused.value.figures["limit"] == 0.75 and refused.value.figures["requested"] == 0.5
    first.result(timeout=30)
    [row] = [r for r in hal.spend(group_by="provider")["rows"] if r["key"] == "priced_simulator"]
    assert row["estimated"] == 0.5 and row["actual"] == 0.5 and row["currency"] == "USD"
    assert hal.sessions() == []
    with pytest.raises(NotFound):
        hal.close_session("nothing-open")
    hal.delete_budget("remote-team")
    assert hal.budgets() == []
    hal.close()
