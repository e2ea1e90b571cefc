"""The result models of engine/models.py: a stored result's ``type`` (v1.2), derived
for results stored before it, and the discriminated union that tells them apart."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from hal_jupyter.engine.models import ClassicalResult, EstimationResult, Result, SamplingResult, served_result

#: results as the store holds them (none carries a type)
STORED = {
    "sampling": ("quantum", {"counts": {"00": 5, "11": 3}, "shots": 8, "backend": "aer", "metadata": {}}),
    "sweep": ("quantum", {"counts": [{"0": 4}, {"1": 4}], "parameters": {"t": [0.0, 3.14]}, "shots": 4, "backend": "aer", "metadata": {}}),
    "estimation": ("quantum", {"evs": [1.0], "stds": [0.0], "parameters": None, "shots": 8, "backend": "aer", "metadata": {}}),
    "classical": ("classical", {"value": 3, "stdout": "", "stderr": "", "duration_s": 0.01}),
}
MODELS = {"sampling": SamplingResult, "sweep": SamplingResult, "estimation": EstimationResult, "classical": ClassicalResult}


@pytest.mark.parametrize("name", list(STORED))
def test_a_stored_result_is_served_with_its_type_and_parses_into_its_model(name):
    kind, stored = STORED[name]
    served = served_result("j1", kind, stored)
    assert served["type"] == ("sampling" if name == "sweep" else name) and served["id"] == "j1"
    assert {k: v for k, v in served.items() if k not in ("id", "type")} == stored
    parsed = TypeAdapter(Result).validate_python(served)
    assert type(parsed) is MODELS[name]
    assert parsed.model_dump(exclude_unset=True) == served


def test_the_union_refuses_a_result_without_its_required_fields():
    with pytest.raises(ValidationError):
        TypeAdapter(Result).validate_python({"type": "estimation", "id": "j1", "backend": None, "counts": {"0": 1}})
    with pytest.raises(ValidationError):
        TypeAdapter(Result).validate_python({"id": "j1", "backend": None, "counts": {"0": 1}})  # no type
