"""The submission pass on its own: a request body becomes validated new jobs in one
trip, or a 4xx error that names the field (and the job's index in a bulk request)."""

from __future__ import annotations

import math

import pytest

from hal_jupyter.engine import errors
from hal_jupyter.engine.clock import Clock
from hal_jupyter.engine.contract import Settings
from hal_jupyter.engine.intake import INLINE_BYTES, Intake
from hal_jupyter.engine.policy import GroupKey
from hal_jupyter.engine.registry import Registry

from .conftest import BELL, PROVIDERS
from .fakes import FakeClock, ScriptedProvider

H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
SWEEP = H3 + "input float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc[0] = measure q[0];\n"


@pytest.fixture
def intake() -> Intake:
    settings = Settings(max_shots=2000, max_circuit_bytes=20_000)
    return Intake(Registry(settings, allowed=list(PROVIDERS), extra=dict(PROVIDERS)), settings, FakeClock())


def accept(intake: Intake, body, kind: str = "quantum", owner: str | None = "alice"):
    return intake.prepare(intake.parse(kind, body), owner)


def test_a_request_becomes_a_row_a_parsed_circuit_and_a_group_in_one_pass(intake):
    new = accept(intake, {"provider": "scripted", "circuit": SWEEP, "shots": 50, "parameters": {"theta": [0.0, math.pi]}, "tags": ["t"]})
    (row,) = new.rows
    assert row["provider"] == "scripted" and row["backend"] == "fake" and row["shots"] == 50 and row["owner"] == "alice"
    assert row["payload"]["sweep"]["names"] == ["theta"] and row["cost_estimate"]["amount"] == 0.5
    assert "status" not in row  # accepting is the store's: lifecycle.ACCEPT sets it
    group = new.groups[row["id"]]
    assert group == GroupKey("scripted", "fake", 50, "{}", False) and row["group_key"] == group.digest()
    assert new.parsed[row["id"]].num_qubits == 1  # OpenQASM 3 is parsed once, kept for the provider


def test_estimation_and_sampling_jobs_never_share_a_group(intake):
    sample = accept(intake, {"provider": "scripted", "circuit": BELL})
    estimate = accept(intake, {"provider": "scripted", "circuit": BELL, "observables": [{"ZZ": 1.0}]})
    assert sample.groups[sample.rows[0]["id"]] != estimate.groups[estimate.rows[0]["id"]]


def test_large_or_service_checked_requests_are_prepared_off_the_event_loop(intake):
    assert intake.parse("quantum", {"provider": "scripted", "circuit": BELL}).inline
    big = BELL + "// " + "x" * INLINE_BYTES + "\n"
    assert not intake.parse("quantum", {"provider": "scripted", "circuit": big}).inline


@pytest.mark.parametrize(
    "body, field",
    [
        ({"provider": "scripted", "circuit": BELL, "shots": 0}, "shots"),
        ({"provider": "scripted", "circuit": BELL, "shots": 2001}, "shots"),
        ({"provider": "scripted", "circuit": BELL, "shots": True}, "shots"),
        ({"provider": "scripted", "circuit": BELL, "shots": 1.5}, "shots"),
        ({"provider": "scripted", "circuit": BELL, "shots": "5"}, "shots"),
        ({"provider": {}, "circuit": BELL}, "provider"),
        ({"provider": "scripted", "circuit": ""}, "circuit"),
        ({"provider": "scripted", "circuit": BELL, "priority": "urgent"}, "priority"),
        ({"provider": "scripted", "circuit": BELL, "tags": "t"}, "tags"),
        ({"provider": "scripted", "circuit": BELL, "tags": [""]}, "tags[0]"),
        ({"provider": "scripted", "circuit": BELL, "name": 5}, "name"),
        ({"provider": "scripted", "circuit": BELL, "extra": 1}, "extra"),
        ({"provider": "scripted", "circuit": BELL, "backend": "no spaces"}, "backend"),
        ({"provider": "scripted", "circuit": BELL, "options": []}, "options"),
    ],
)
def test_a_field_of_the_wrong_type_or_range_is_a_400_naming_it(intake, body, field):
    with pytest.raises(errors.InvalidRequest) as caught:
        accept(intake, body)
    assert field in caught.value.message


@pytest.mark.parametrize(
    "body",
    [None, [], "text", 5, {"jobs": []}, {"jobs": "x"}, {"jobs": [1]}, {"jobs": [{}], "extra": 1}],
)
def test_a_body_of_the_wrong_shape_is_a_400(intake, body):
    with pytest.raises(errors.InvalidRequest):
        accept(intake, body)


def test_a_bulk_request_is_all_or_none_and_names_the_job(intake):
    good = {"provider": "scripted", "circuit": BELL}
    with pytest.raises(errors.InvalidRequest, match=r"^jobs\[2\]: shots"):
        accept(intake, {"jobs": [good, good, {**good, "shots": -1}]})
    with pytest.raises(errors.InvalidCircuit, match=r"^jobs\[1\]: "):
        accept(intake, {"jobs": [good, {**good, "circuit": "OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n"}]})


def test_a_circuit_error_carries_line_and_column(intake):
    with pytest.raises(errors.InvalidCircuit) as caught:
        accept(intake, {"provider": "scripted", "circuit": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n'})
    assert caught.value.details[0]["line"] == 4


@pytest.mark.parametrize(
    "body, status",
    [
        ({"provider": "nobody", "circuit": BELL}, 404),
        ({"provider": "scripted_classical", "circuit": BELL}, 400),  # a classical provider for a quantum job
        ({"provider": "scripted", "circuit": BELL + "// " + "x" * 20_000}, 413),
        ({"provider": "scripted", "circuit": BELL, "options": {"k": "x" * 20_000}}, 413),
    ],
)
def test_providers_and_sizes_are_checked(intake, body, status):
    with pytest.raises(errors.HalError) as caught:
        accept(intake, body)
    assert caught.value.http_status == status


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"parameters": {"theta": [0.1]}, "circuit": BELL}, "theta"),  # the circuit has no parameter theta
        ({"circuit": SWEEP}, "theta"),  # free parameters need values
        ({"circuit": SWEEP, "parameters": {"theta": ["x"]}}, "theta"),
        ({"circuit": SWEEP, "parameters": {"theta": [1.0], "phi": [1.0]}}, "phi"),
        ({"circuit": BELL, "observables": [{"ZZZ": 1.0}]}, "ZZZ"),
        ({"circuit": BELL, "observables": [[["Z", [5], 1.0]]]}, "5"),
    ],
)
def test_sweeps_and_observables_that_do_not_fit_the_circuit_are_400s(intake, fields, words):
    with pytest.raises(errors.InvalidRequest) as caught:
        accept(intake, {"provider": "scripted", **fields})
    assert words in caught.value.message


class PerShot(ScriptedProvider):
    """A provider whose results carry each shot."""

    name = "per_shot"
    per_shot_results = True


@pytest.fixture
def per_shot_intake(intake: Intake) -> Intake:
    settings = intake.settings
    return Intake(Registry(settings, allowed=[*PROVIDERS, "per_shot"], extra={**PROVIDERS, "per_shot": PerShot}), settings, FakeClock())


def test_memory_is_in_the_payload_only_when_asked_and_does_not_split_a_group(per_shot_intake):
    asked, plain = accept(per_shot_intake, {"jobs": [{"provider": "per_shot", "circuit": BELL, "memory": True}, {"provider": "per_shot", "circuit": BELL}]}).rows
    assert asked["payload"]["memory"] is True and "memory" not in plain["payload"]
    assert asked["group_key"] == plain["group_key"]  # jobs with and without memory batch together


def test_memory_where_the_provider_has_no_per_shot_results_is_a_400_naming_it(per_shot_intake):
    with pytest.raises(errors.InvalidRequest, match="scripted returns no per-shot results"):
        accept(per_shot_intake, {"provider": "scripted", "circuit": BELL, "memory": True})
    assert accept(per_shot_intake, {"provider": "scripted", "circuit": BELL, "memory": False}).rows


def test_memory_of_an_estimation_job_is_a_400(per_shot_intake):
    with pytest.raises(errors.InvalidRequest, match="memory applies to sampling jobs"):
        accept(per_shot_intake, {"provider": "per_shot", "circuit": BELL, "observables": [{"ZZ": 1.0}], "memory": True})


def test_json_the_engine_must_never_see_is_refused_in_the_engine_too(intake):
    """Unpaired surrogates and deep nesting: 400, embedded engine or not."""
    deep: object = 1
    for _ in range(100):
        deep = {"a": deep}
    for bad in ({"a": "\udcff"}, deep):
        with pytest.raises(errors.InvalidRequest):
            accept(intake, {"provider": "scripted_classical", "code": "def main(a):\n    return a\n", "args": bad}, kind="classical")


def test_a_classical_request_keeps_only_what_its_run_needs(intake):
    new = accept(intake, {"provider": "scripted_classical", "code": "def go(x):\n    return x\n", "entrypoint": "go", "args": {"x": 1}}, kind="classical")
    (row,) = new.rows
    assert row["payload"] == {"code": "def go(x):\n    return x\n", "entrypoint": "go", "args": {"x": 1}, "function": None, "timeout_s": 60}
    assert row["shots"] is None and new.parsed == {}


@pytest.mark.parametrize("body", [{"provider": "scripted_classical"}, {"provider": "scripted_classical", "code": "x", "function": "f"}])
def test_code_or_function_exactly_one(intake, body):
    with pytest.raises(errors.InvalidRequest, match="code"):
        accept(intake, body, kind="classical")


def test_an_unknown_kind_is_404(intake):
    with pytest.raises(errors.NotFound):
        intake.parse("photonic", {"provider": "scripted"})


def test_the_real_clock_stamps_records_in_utc():
    stamp = Clock().stamp()
    assert stamp.endswith("Z") and len(stamp) == len("2026-01-01T00:00:00.000000Z")
