"""ibm_quantum's prices (estimated and actual) and how it reads IBM's refusals; no server."""

from __future__ import annotations

import pytest

from hal_jupyter.engine.contract import JobSpec
from hal_jupyter.engine.retry import classify
from hal_jupyter.providers import ibm_usage
from hal_jupyter.providers.ibm_modes import ModeRefused, ibm_reason
from hal_jupyter.providers.ibm_quantum import FIXED_S, PER_SHOT_S, PRICE_PER_S, PRICE_SOURCE, IbmQuantumProvider

PRICE = ibm_usage.Price(PRICE_PER_S, FIXED_S, PER_SHOT_S, PRICE_SOURCE)
SWEEP = {"names": ["theta"], "points": [[0.0], [1.0], [2.0]]}


def spec(job_id: str, shots: int, sweep: dict | None = None) -> JobSpec:
    return JobSpec(id=job_id, kind="quantum", backend="fake_manila", shots=shots, payload={"sweep": sweep} if sweep else {})


class Metrics:
    """A finished runtime job as the SDK hands it over: only what its metrics say."""

    def __init__(self, metrics: dict | Exception) -> None:
        self._metrics = metrics

    def metrics(self) -> dict:
        if isinstance(self._metrics, Exception):
            raise self._metrics
        return self._metrics


def test_a_batch_pays_the_fixed_overhead_once_and_each_job_its_own_shots():
    jobs = [spec("a", 1000), spec("b", 1000), spec("c", 1000, SWEEP)]
    shares = ibm_usage.estimated(jobs, None, PRICE, free=False)
    own = {"a": 1000 * PER_SHOT_S, "b": 1000 * PER_SHOT_S, "c": 3000 * PER_SHOT_S}
    for job_id, cost in shares.items():
        assert cost.amount == pytest.approx((FIXED_S / 3 + own[job_id]) * PRICE_PER_S)
    alone = sum(IbmQuantumProvider().estimate_cost(j).amount for j in jobs)
    assert sum(c.amount for c in shares.values()) == pytest.approx(alone - 2 * FIXED_S * PRICE_PER_S, abs=1e-3)
    assert "batching saves USD 6.4000" in shares["a"].basis and PRICE_SOURCE in shares["a"].basis


def test_the_providers_estimate_batch_is_those_shares(monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_quantum_platform")
    jobs = [spec("a", 500), spec("b", 500)]
    assert IbmQuantumProvider().estimate_batch(jobs) == ibm_usage.estimated(jobs, None, PRICE, free=False)
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "local")
    assert all(c.amount == 0 and "local mode" in c.basis for c in IbmQuantumProvider().estimate_batch(jobs).values())


def test_the_actual_cost_is_the_reported_quantum_time_shared_by_shots():
    jobs = [spec("a", 1000), spec("b", 1000, SWEEP)]
    seconds = ibm_usage.usage_seconds(Metrics({"usage": {"quantum_seconds": 3.2, "seconds": 3.2}}))
    costs = ibm_usage.actual(jobs, 1000, seconds, PRICE, local=False, in_session=False)
    assert costs["a"].amount == pytest.approx(3.2 * PRICE_PER_S / 4) and costs["b"].amount == pytest.approx(3.2 * PRICE_PER_S * 3 / 4)
    assert costs["a"].basis.startswith("IBM usage: 3.2 s of quantum time x $1.60/s (")
    in_session = ibm_usage.actual(jobs[:1], 1000, seconds, PRICE, local=False, in_session=True)["a"]
    assert in_session.amount == pytest.approx(3.2 * PRICE_PER_S) and "idle time between jobs" in in_session.basis


def test_without_usage_there_is_no_actual_cost_and_local_mode_is_free():
    assert ibm_usage.usage_seconds(Metrics({"usage": {"status": "pending"}})) is None
    assert ibm_usage.usage_seconds(Metrics(RuntimeError("no metrics"))) is None
    assert ibm_usage.usage_seconds(Metrics({"usage": {"qpu_charge_time_seconds": 2, "status": "completed"}})) == 2.0
    assert ibm_usage.actual([spec("a", 10)], 10, None, PRICE, local=False, in_session=False) == {}
    free = ibm_usage.actual([spec("a", 10)], 10, None, PRICE, local=True, in_session=False)["a"]
    assert free.amount == 0 and "local mode" in free.basis


OPEN_PLAN = (
    '\'400 Client Error: Bad Request for url: https://quantum.cloud.ibm.com/api/v1/sessions. {"errors": [{"code": 1352, '
    '"message": "You are not authorized to run a session when using the open plan.", "solution": "Create an instance of a '
    'different plan type or use a different execution mode.", "more_info": "https://cloud.ibm.com/apidocs/quantum-computing"}], '
    '"trace": "6a10"}\''
)


def test_ibms_refusal_is_told_in_its_words_and_is_permanent():
    reason = ibm_reason(OPEN_PLAN)
    assert reason == (
        "You are not authorized to run a session when using the open plan. Create an instance of a different plan type "
        "or use a different execution mode. (code 1352)"
    )
    assert classify(ModeRefused(reason, 400)) is None  # the engine fails the jobs, never retries
    assert classify(ModeRefused("busy", 503)) is not None
    assert ibm_reason("503 Server Error: no body") == "503 Server Error: no body"
