"""Spend control from the kernel (docs/API.md v1.2 "Spend control", "Execution modes"):
``Hal.estimate``, budgets, spend and sessions, and the ``%hal budgets``, ``%hal spend``
and ``%%hal quantum --dry-run`` magics, on an embedded engine. The paid device is
:mod:`tests.priced_provider` (0.5 USD a job), registered through the entry points."""

from __future__ import annotations

import threading
import time

import ipywidgets
import pytest
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from hal_jupyter import Hal
from hal_jupyter.engine.errors import BudgetExceeded, InvalidRequest, NotFound
from hal_jupyter.kernel.magics import HalMagics
from hal_jupyter.kernel.spend import Estimate
from hal_jupyter.kernel.transport import error_from

from . import priced_provider
from .conftest import BELL_QASM2

PRICED = {"provider": "priced_simulator", "shots": 100}


@pytest.fixture
def hal(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(priced_provider.install(tmp_path / "plugins")))
    client = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.1)
    yield client
    client.close()


@pytest.fixture
def ip(hal):
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    shell.display_formatter.active_types = ["text/plain", "text/html", "application/vnd.jupyter.widget-view+json"]
    shell.run_line_magic("load_ext", "hal_jupyter")
    HalMagics._hal = hal
    yield shell
    HalMagics._hal = None


def _html(captured) -> str:
    return "".join(o.data.get("text/html", "") for o in captured.outputs)


def test_estimate_accepts_then_refuses_against_a_budget_and_stores_nothing(hal):
    free = hal.estimate(BELL_QASM2, provider="priced_simulator", shots=100)
    assert isinstance(free, Estimate) and free.outcome == "accept" and free.total == {"USD": 0.5}
    assert free.jobs[0]["budgets"] == [] and free["jobs"][0]["backend"] == "aer_simulator"
    team = hal.set_budget("team", limit=1.0, period="month")
    assert team["remaining"] == 1.0 and team["action"] == "refuse" and team["scope"] == {}
    two = hal.estimate([BELL_QASM2] * 2, **PRICED)
    assert two.outcome == "accept" and [j["budgets"] for j in two.jobs] == [[{"name": "team", "remaining_after": 0.5}], [{"name": "team", "remaining_after": 0.0}]]
    three = hal.estimate([BELL_QASM2] * 3, **PRICED)
    assert three.outcome == "refuse" and three.total == {"USD": 1.5}
    assert "refuse" in three._repr_html_() and "0.5 USD" in three._repr_html_() and "team" in three._repr_html_()
    many = hal.estimate_many("quantum", [{"circuit": BELL_QASM2, **PRICED}])
    assert many.outcome == "accept"
    assert hal.jobs() == [] and hal.budgets()[0]["reserved"] == 0.0  # nothing stored, nothing reserved


def test_a_submission_past_a_refuse_budget_raises_budget_exceeded_with_its_figures(hal):
    hal.set_budget("team", limit=0.75, scope={"provider": "priced_simulator"})
    first = hal.submit_quantum(BELL_QASM2, **PRICED)
    with pytest.raises(BudgetExceeded, match="Nothing was stored") as refused:
        hal.submit_quantum(BELL_QASM2, **PRICED)
    figures = refused.value.figures
    assert figures["budget"] == "team" and figures["limit"] == 0.75 and figures["requested"] == 0.5
    assert figures["spent"] + figures["reserved"] == 0.5 and refused.value.http_status == 402
    assert [j.id for j in hal.jobs()] == [first.id]
    hal.submit_quantum(BELL_QASM2, shots=100)  # the free simulator is outside the budget's scope
    hal.delete_budget("team")
    assert hal.budgets() == []
    with pytest.raises(NotFound):
        hal.delete_budget("team")
    assert hal.submit_quantum(BELL_QASM2, **PRICED).result(timeout=30).counts


def test_the_remote_client_raises_the_same_budget_exceeded():
    body = {"type": "BudgetExceeded", "message": "budget 'team' would be exceeded", "budget": "team", "limit": 1.0, "spent": 0.25, "reserved": 0.5, "requested": 0.5}
    error = error_from(402, body)
    assert isinstance(error, BudgetExceeded) and error.message == body["message"]
    assert error.figures == {"budget": "team", "limit": 1.0, "spent": 0.25, "reserved": 0.5, "requested": 0.5}
    assert error.to_dict() == body


def test_execution_is_passed_through_to_the_engine(hal):
    with pytest.raises(InvalidRequest, match="no execution mode 'session'"):
        hal.submit_quantum(BELL_QASM2, execution={"mode": "session", "session": "s1"})
    assert hal.sessions() == []
    with pytest.raises(NotFound, match="no open session named 's1'"):
        hal.close_session("s1")


def test_budgets_and_spend_magics_render_tables(ip, hal):
    with capture_output() as captured:
        ip.run_line_magic("hal", "budgets")
    assert "no budgets" in _html(captured)
    hal.set_budget("team-month", limit=2.0, period="month", scope={"provider": "priced_simulator"})
    hal.submit_quantum(BELL_QASM2, **PRICED, tags=["exp-1"]).result(timeout=30)
    with capture_output() as captured:
        ip.run_line_magic("hal", "budgets")
        ip.run_line_magic("hal", "spend")
        ip.run_line_magic("hal", "spend --group-by tag --since 2000-01-01")
    html = _html(captured)
    assert "hal-budgets" in html and "team-month" in html and "provider=priced_simulator" in html and "2 USD" in html and "1.5 USD" in html
    assert html.count("hal-spend") == 2 and "priced_simulator" in html and "exp-1" in html and ">0.5<" in html
    with pytest.raises(UsageError, match="since must be an ISO 8601 time"):
        ip.run_line_magic("hal", "spend --since yesterday")


def test_quantum_cell_dry_run_prices_the_cell_and_submits_nothing(ip, hal):
    hal.set_budget("team", limit=0.25)
    with capture_output() as captured:
        ip.run_cell_magic("hal", "quantum --dry-run --provider priced_simulator --shots 100 --tag t --out est", BELL_QASM2)
    estimate = ip.user_ns["est"]
    assert estimate.outcome == "refuse" and estimate.jobs[0]["shots"] == 100
    html = _html(captured)
    assert "Dry run" in html and "nothing submitted" in html and "refuse" in html and "team" in html
    assert hal.jobs() == []
    with pytest.raises(UsageError, match="budget 'team' would be exceeded"):
        ip.run_cell_magic("hal", "quantum --provider priced_simulator --shots 100", BELL_QASM2)
    with pytest.raises(UsageError, match="no execution mode 'session'"):
        ip.run_cell_magic("hal", "quantum --execution '{\"mode\": \"session\", \"session\": \"s1\"}'", BELL_QASM2)
    assert hal.jobs() == []


def test_a_held_job_shows_in_jobs_status_and_monitor(ip, hal, capsys):
    hal.set_budget("hold-all", limit=0.25, action="hold")
    job = hal.submit_quantum(BELL_QASM2, **PRICED)
    assert job.record["status"] == "HELD" and "hold-all" in job.record["status_message"]
    with capture_output() as captured:
        ip.run_line_magic("hal", "jobs")
        ip.run_line_magic("hal", "jobs --status held")
        ip.run_line_magic("hal", f"monitor {job.id}")
    html = _html(captured)
    assert html.count("hal-status-held") == 2 and html.count(job.id) == 2
    view = next(o.data["application/vnd.jupyter.widget-view+json"] for o in captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data)
    monitor = ipywidgets.Widget.widgets[view["model_id"]]
    assert monitor.status_of(job.id) == "HELD" and "hold-all" in monitor._rows[job.id].message.value
    monitor.close()
    ip.run_line_magic("hal", f"status {job.id}")
    assert f"{job.id}: HELD - held by budget 'hold-all'" in capsys.readouterr().out
    assert job.cancel().record["status"] == "CANCELLED"


def test_waiting_on_a_held_job_says_so_and_ends_when_it_is_cancelled(ip, hal, capsys):
    hal.set_budget("hold-all", limit=0.25, action="hold")

    def cancel_when_held() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            held = hal.jobs(status="HELD")
            if held:
                hal.cancel_job(held[0].id)
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=cancel_when_held)
    canceller.start()
    with pytest.raises(UsageError, match="is CANCELLED"):
        ip.run_cell_magic("hal", "quantum --wait --provider priced_simulator --shots 100", BELL_QASM2)
    canceller.join()
    assert "is HELD: held by budget 'hold-all'" in capsys.readouterr().out
