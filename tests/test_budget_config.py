"""``HalExtension.budgets``: budgets given in configuration, and what a misconfigured one does."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BELL_QASM2

GOOD = [{"name": "team-month", "limit": 0.0, "period": "month", "scope": {"provider": "local_simulator"}, "action": "hold"}]


@pytest.fixture
def hal_config(request, hal_config) -> dict[str, Any]:
    return {**hal_config, "budgets": request.param}


@pytest.mark.parametrize("hal_config", [GOOD], indirect=True)
async def test_configured_budgets_are_in_the_store_and_free_jobs_pass_a_zero_budget(api):
    status, body = await api.get("budgets")
    assert status == 200 and [b["name"] for b in body["budgets"]] == ["team-month"]
    assert body["budgets"][0]["limit"] == 0.0 and body["budgets"][0]["action"] == "hold"
    status, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10})
    assert status == 201 and record["status"] == "QUEUED"  # free: 0 reserved against 0
    status, refused = await api.call("PUT", "budgets/team-month", {"limit": 1})
    assert status == 403 and refused["type"] == "Forbidden"  # not an admin


@pytest.mark.parametrize("hal_config", [[{"name": "broken", "limit": "lots"}]], indirect=True)
async def test_a_misconfigured_budget_is_a_503_that_names_it_never_a_500(api):
    for method, path in (("GET", "budgets"), ("POST", "quantum/jobs"), ("GET", "jobs")):
        status, body = await api.call(method, path, {"circuit": BELL_QASM2})
        assert status == 503, (path, body)
        assert "HalExtension.budgets[0] is not a budget: limit" in body["message"]
