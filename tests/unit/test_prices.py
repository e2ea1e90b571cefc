"""Prices are data with their source and date, in one module (:mod:`hal_jupyter.providers.prices`),
and what Braket bills for a finished task is computed from them (no server, no SDK call)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hal_jupyter.providers import prices
from hal_jupyter.providers.aws_braket import pricing
from hal_jupyter.providers.aws_braket.results import RESERVATION, billed_share

PROVIDERS = Path(prices.__file__).parent
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


def test_every_price_source_names_its_date():
    sources = {name: value for name, value in vars(prices).items() if name.endswith("_SOURCE")}
    assert len(sources) == 7, sources
    for name, value in sources.items():
        assert re.search(r"20\d\d", value), f"{name} gives no date: {value!r}"


@pytest.mark.parametrize("path", sorted(PROVIDERS.rglob("*.py")), ids=lambda p: str(p.relative_to(PROVIDERS)))
def test_no_provider_module_keeps_a_price_of_its_own(path):
    """A dollar amount or a per-unit rate written in a provider is a price outside the prices module."""
    if path.name == "prices.py":
        return
    text = path.read_text()
    assert not re.search(r"\b0\.0000\d+", text), f"{path.name} writes a per-unit rate"
    assert not re.search(r"^(PRICE|IONQ|.*_PER_(SHOT|GB_S|REQUEST|EXECUTION|MIN)\b)\w* = [0-9]", text, re.M), f"{path.name} defines a price"


def test_braket_simulator_bill_is_its_duration_rounded_up_with_a_3_s_minimum():
    assert pricing.billed(SV1, 100, 4500.2, False)[0] == pytest.approx(0.075 * 4.501 / 60)
    assert pricing.billed(SV1, 100, 12.0, False)[0] == pytest.approx(0.075 * 3 / 60)
    assert pricing.billed(SV1, 100, None, False) is None  # no reported time: the engine keeps the estimate


def test_braket_qpu_bill_is_the_task_fee_and_its_shots_and_nothing_in_a_reservation():
    amount, how = pricing.billed(FORTE, 100, None, False)
    assert amount == pytest.approx(0.30 + 0.08 * 100) and "per task" in how
    assert pricing.billed(FORTE, 100, None, True) == (0.0, prices.BRAKET_RESERVATION_BASIS)
    assert pricing.in_reservation().amount == 0 and "billed by the hour" in pricing.in_reservation().basis


@dataclass
class Task:
    """What billed_share reads of an ``AwsQuantumTask``: its metadata and its result."""

    shots: int
    result_value: Any
    associations: list[dict[str, str]] = field(default_factory=list)

    def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        return {"shots": self.shots, "associations": self.associations}

    def result(self) -> Any:
        return self.result_value


def _timed(ms: float | None) -> Any:
    return SimpleNamespace(simulatorMetadata=None if ms is None else SimpleNamespace(executionDuration=ms))


def _program_set(*entries: tuple[float | None, int]) -> Any:
    return SimpleNamespace(entries=[SimpleNamespace(additional_metadata=_timed(ms), entries=[None] * n) for ms, n in entries])


def test_a_program_set_task_is_shared_by_its_entries_execution_times():
    task = Task(300, _program_set((3000, 1), (6000, 1), (3000, 2)))
    first = billed_share([("arn:t", 0)], {"arn:t": task}.get, SV1)
    both = billed_share([("arn:t", 1), ("arn:t", 2)], {"arn:t": task}.get, SV1)
    total = 0.075 * 12 / 60
    assert first.amount == pytest.approx(total / 4) and both.amount == pytest.approx(total * 3 / 4)
    assert "share" in first.basis and "12 s" in first.basis


def test_a_qpu_program_set_is_shared_by_executables_and_a_plain_task_is_the_jobs_own():
    task = Task(400, _program_set((None, 1), (None, 3)))
    share = billed_share([("arn:t", 1)], {"arn:t": task}.get, FORTE)
    assert share.amount == pytest.approx((0.30 + 0.08 * 400) * 3 / 4)
    plain = Task(100, SimpleNamespace(additional_metadata=_timed(5000)))
    assert billed_share([("arn:p", None)], {"arn:p": plain}.get, SV1).amount == pytest.approx(0.075 * 5 / 60)


def test_tasks_in_a_reservation_bill_nothing_and_an_unreported_time_bills_unknown():
    reserved = Task(100, SimpleNamespace(additional_metadata=_timed(5000)), [{"arn": "arn:aws:braket:us-east-1:1:reservation/r", "type": RESERVATION}])
    cost = billed_share([("arn:r", None)], {"arn:r": reserved}.get, SV1)
    assert cost.amount == 0 and "reservation" in cost.basis
    silent = Task(100, SimpleNamespace(additional_metadata=_timed(None)))
    assert billed_share([("arn:s", None)], {"arn:s": silent}.get, SV1) is None
