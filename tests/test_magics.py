"""``%hal`` / ``%%hal`` in an IPython shell with no Jupyter server (embedded engine)."""

from __future__ import annotations

import time

import ipywidgets
import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from hal_jupyter import Hal
from hal_jupyter.kernel.magics import HalMagics

from .conftest import BELL_QASM2


@pytest.fixture
def ip(tmp_path):
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    # as in a notebook front end, not a terminal: rich outputs are kept
    shell.display_formatter.active_types = ["text/plain", "text/html", "application/vnd.jupyter.widget-view+json"]
    shell.run_line_magic("load_ext", "hal_jupyter")
    HalMagics._hal = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.1)
    yield shell
    HalMagics._hal.close()
    HalMagics._hal = None


def _widget(captured):
    for output in captured.outputs:
        view = output.data.get("application/vnd.jupyter.widget-view+json")
        if view:
            return ipywidgets.Widget.widgets[view["model_id"]]
    raise AssertionError("no widget was displayed")


def test_quantum_cell_with_wait_shows_a_histogram_of_00_and_11(ip):
    with capture_output() as captured:
        ip.run_cell_magic("hal", "quantum --wait --shots 1000 --out result", BELL_QASM2)
    counts = ip.user_ns["result"].counts
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000
    html = captured.outputs[-1].data["text/html"]
    assert "hal-histogram" in html and ">00<" in html and ">11<" in html


def test_quantum_cell_without_wait_returns_at_once_and_its_row_completes(ip):
    started = time.monotonic()
    with capture_output() as captured:
        ip.run_cell_magic("hal", "quantum --name bell --out job", BELL_QASM2)
    assert time.monotonic() - started < 1.0
    monitor = _widget(captured)
    job = ip.user_ns["job"]
    deadline = time.monotonic() + 30
    while monitor.status_of(job.id) != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert monitor.status_of(job.id) == "COMPLETED"
    monitor.close()


def test_classical_cell_with_args_shows_42(ip):
    with capture_output() as captured:
        ip.run_cell_magic("hal", "classical --wait --args '{\"x\": 2}'", "def main(x):\n    return x * 21\n")
    assert "42" in captured.outputs[-1].data["text/html"]
    ip.user_ns["params"] = {"x": 3}
    ip.run_cell_magic("hal", "classical --wait --args $params --out value", "def main(x):\n    print('x is', x)\n    return x * 21\n")
    assert ip.user_ns["value"].value == 63 and ip.user_ns["value"].stdout == "x is 3\n"


def test_submit_a_circuit_variable(ip):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    ip.user_ns["qc"] = qc
    ip.run_line_magic("hal", "submit qc --wait --priority high --out r")
    assert set(ip.user_ns["r"].counts) == {"00", "11"}


@pytest.mark.parametrize(
    "line,cell,expected",
    [
        ("quantum --provider nope", BELL_QASM2, "unknown provider 'nope'"),
        ("quantum --shots 0", BELL_QASM2, "--shots must be a positive integer"),
        ("quantum --shots x", BELL_QASM2, "invalid int value"),
        ("quantum", "   \n", "the cell is empty"),
        ("classical", "", "empty"),
        ("classical --args '{not json'", "def main():\n    return 1\n", "--args is not valid JSON"),
        ("classical --args $missing", "def main():\n    return 1\n", "no variable named 'missing'"),
        ("quantum", "OPENQASM 2.0;\nqreg q[1];\nbogus q[0];\n", "line 3"),
        ("teleport", "x", "unknown subcommand 'teleport'"),
    ],
)
def test_wrong_use_of_the_cell_magic_is_a_one_line_usage_error(ip, line, cell, expected):
    with pytest.raises(UsageError) as error:
        ip.run_cell_magic("hal", line, cell)
    assert expected in str(error.value)
    assert "\n" not in str(error.value).strip()


@pytest.mark.parametrize(
    "line,expected",
    [
        ("status nope", "no job with id 'nope'"),
        ("result nope", "no job with id 'nope'"),
        ("cancel nope", "no job with id 'nope'"),
        ("backends nope", "unknown provider 'nope'"),
        ("submit undefined_var", "no variable named 'undefined_var'"),
        ("", "needs a subcommand"),
        ("quantum", "a cell magic: use %%hal"),
        ("jobs --status DONE", "--status must be one of"),
    ],
)
def test_wrong_use_of_the_line_magic_is_a_one_line_usage_error(ip, line, expected):
    with pytest.raises(UsageError) as error:
        ip.run_line_magic("hal", line)
    assert expected in str(error.value)


def test_help_documents_every_option():
    doc = HalMagics.hal.__doc__
    for option in ("--provider", "--backend", "--shots", "--priority", "--name", "--tag", "--wait", "--out",
                   "--function", "--entrypoint", "--args", "--timeout", "%hal submit", "%hal monitor", "%hal jobs",
                   "%hal status", "%hal result", "%hal cancel", "%hal providers", "%hal backends",
                   "--dry-run", "--execution", "%hal budgets", "%hal spend", "--group-by", "--since", "--until"):
        assert option in doc, option


def test_status_result_cancel_jobs_and_providers(ip, capsys):
    ip.run_cell_magic("hal", "quantum --wait --priority high --out r", BELL_QASM2)
    job_id = ip.user_ns["r"].id
    ip.run_line_magic("hal", f"status {job_id}")
    assert f"{job_id}: COMPLETED" in capsys.readouterr().out
    with capture_output() as captured:
        ip.run_line_magic("hal", f"result {job_id}")
        ip.run_line_magic("hal", "jobs --status completed")
        ip.run_line_magic("hal", "providers")
        ip.run_line_magic("hal", "backends local_simulator")
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert "hal-histogram" in html and job_id in html and "local_python" in html and "aer_simulator" in html
    with pytest.raises(UsageError, match="already COMPLETED"):
        ip.run_line_magic("hal", f"cancel {job_id}")


def test_jobs_after_a_kernel_restart_lists_earlier_jobs(ip, tmp_path, capsys):
    ip.run_cell_magic("hal", "quantum --wait --priority high --out r", BELL_QASM2)
    job_id = ip.user_ns["r"].id
    HalMagics._hal.close()  # the kernel goes away; its job store stays
    HalMagics._hal = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    with capture_output() as captured:
        ip.run_line_magic("hal", "jobs")
        ip.run_line_magic("hal", "monitor")
    html = captured.outputs[0].data["text/html"]
    assert job_id in html and "COMPLETED" in html
    monitor = _widget(captured)
    assert monitor.status_of(job_id) == "COMPLETED"
    monitor.close()


def test_status_result_and_monitor_of_several_jobs_read_them_in_one_request(ip, capsys):
    from .test_kernel_bulk import Calls, count_engine_calls

    hal = HalMagics._hal
    jobs = hal.submit_quantum([BELL_QASM2] * 3, shots=100)
    hal.results(jobs, timeout=30)
    ids = " ".join(j.id for j in jobs)
    calls = Calls()
    count_engine_calls(hal.transport.engine, calls)
    ip.run_line_magic("hal", f"status {ids}")
    assert capsys.readouterr().out.splitlines() == [f"{j.id}: COMPLETED" for j in jobs]
    with capture_output() as captured:
        ip.run_line_magic("hal", f"result {ids}")
    assert sum("hal-histogram" in o.data.get("text/html", "") for o in captured.outputs) == 3
    with capture_output() as captured:
        ip.run_line_magic("hal", f"monitor {ids}")
    monitor = _widget(captured)
    assert all("hal-histogram" in monitor._rows[j.id].detail.value for j in jobs)
    monitor.close()
    # status: 1, result: 1, monitor: its records, then their results
    assert [(c.name, c.ids) for c in calls] == [("list_jobs", 3)] * 4
    with pytest.raises(UsageError, match="no job with id 'nope' \\(and 1 more\\)"):
        ip.run_line_magic("hal", f"result {ids} nope nada")
