"""Schemathesis against the live OpenAPI document of a real ``jupyter server``.

Every operation is fuzzed with valid and invalid inputs (bounded), and the
create -> get / result / cancel links of the document are walked by a state
machine. A 5xx other than 503 for an unavailable provider, an undocumented
status, a non-JSON answer, a body that does not match the document or an error
that shows a traceback fails the test: the document is the contract that
clients are generated from, and API.md promises "never 500 for anything a
client sent".
"""

from __future__ import annotations

import resource
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from .conftest import BELL_QASM2, BELL_QASM3
from .server_process import ServerProcess

#: Bounded so the whole file stays well under a minute and a half on two cores.
EXAMPLES_PER_OPERATION = 45  # (v1.2 added seven operations: budgets, spend, sessions)
SCENARIOS, STEPS_PER_SCENARIO = 25, 8
BOUNDED = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)

#: The response checks: no 5xx, and status, content type and body as documented.
CHECKS_CONFIG = {
    "enabled": False,
    # 503 is the contract for a provider without SDK or credentials (API.md); it is checked below.
    "not_a_server_error": {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", "503"]},
    "status_code_conformance": {"enabled": True},
    "content_type_conformance": {"enabled": True},
    "response_schema_conformance": {"enabled": True},
}

CLASSICAL_PROGRAMS = [
    "def main(**kwargs):\n    return kwargs\n",
    "def main(**kwargs):\n    print('hello')\n    return len(kwargs)\n",
    "def main(**kwargs):\n    raise ValueError('boom')\n",  # a FAILED job: its result is 409
    "import time\ndef main(**kwargs):\n    time.sleep(1)\n",  # still RUNNING when a link cancels it
]


def clean_error_answers(ctx, response, case):
    """A 5xx may only be 503 ProviderUnavailable, and no error shows server internals.

    A 403 is documented, but here it means the token was lost and the run tests nothing.
    """
    assert response.status_code != 403, "the fuzzer's requests must carry the token"
    if response.status_code < 400:
        return None
    body = response.json()
    if response.status_code >= 500:
        assert response.status_code == 503 and body.get("type") == "ProviderUnavailable", body
    assert "Traceback" not in response.text and 'File "' not in response.text, body
    return None


def _cheap_jobs(kind: str) -> st.SearchStrategy:
    """Valid requests for the embedded providers, so the fuzzer also creates
    jobs (201) that the links then get, cancel and read results of."""
    common = {
        "priority": st.sampled_from(["high", "standard"]),
        "name": st.none() | st.text(min_size=1, max_size=20),
        "tags": st.lists(st.text(min_size=1, max_size=10), max_size=3),
    }
    if kind == "quantum":
        one = st.fixed_dictionaries(
            {"circuit": st.sampled_from([BELL_QASM2, BELL_QASM3]), "shots": st.integers(1, 2000)},
            optional={"provider": st.just("local_simulator"), **common},
        )
    else:
        json_values = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
        args = st.dictionaries(st.text(max_size=10), json_values, max_size=3)
        one = st.fixed_dictionaries(
            {"code": st.sampled_from(CLASSICAL_PROGRAMS), "args": args},
            optional={"provider": st.just("local_python"), "timeout_s": st.floats(2, 30), **common},
        )
    return one | st.lists(one, min_size=1, max_size=3).map(lambda jobs: {"jobs": jobs})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real server for the module; capped at 6 GiB of address space so that an input
    that makes it allocate without bound (see test_bad_input.py) fails it, not the machine."""
    root = tmp_path_factory.mktemp("fuzz")
    # an admin, so that PUT and DELETE of budgets are fuzzed (not refused 403); every job here is free, so no budget refuses one
    proc = ServerProcess(root, db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=0.2, env_file="", user="fuzz", admin_users="fuzz")
    proc.start()
    resource.prlimit(proc.proc.pid, resource.RLIMIT_AS, (6 << 30, 6 << 30))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def auth(server):
    return {"Authorization": f"token {server.token}"}


@pytest.fixture(scope="module")
def api_schema(server, auth):
    config = SchemathesisConfig.from_dict(
        {
            "headers": auth,
            "request-timeout": 30,
            "generation": {"with-security-parameters": False, "mode": "all"},
            # The state machine follows the document's own links only, not links schemathesis infers.
            "phases": {"coverage": {"enabled": False}, "stateful": {"inference": {"algorithms": []}}},
            "checks": CHECKS_CONFIG,
        }
    )
    schema = schemathesis.openapi.from_url(f"{server.url}/hal/api/openapi.json", config=config, headers=auth)

    @schema.hook
    def before_generate_body(context, strategy):
        path = context.operation.path if context.operation is not None else ""
        if path.endswith(("/quantum/jobs", "/classical/jobs")):
            return strategy | _cheap_jobs(path.split("/")[-2])
        return strategy

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, **BOUNDED)
def test_every_operation_conforms(case):
    case.call_and_validate(additional_checks=[clean_error_answers])


def test_create_get_result_cancel_links(api_schema):
    """Walk the document's links from created jobs to their record, result and cancel."""
    answered: Counter[tuple[str, int]] = Counter()
    failures: list[FailureGroup] = []

    class Workflow(api_schema.as_state_machine()):
        def before_call(self, case):
            # A key makes the same generated request answer 201, then 200 or 409: Hypothesis
            # needs equal inputs to meet equal answers. Keys are covered by the test below.
            if case.headers:
                case.headers.pop("Idempotency-Key", None)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            answered[(case.operation.label, response.status_code)] += 1
            try:
                super().validate_response(response, case, additional_checks=[clean_error_answers], **kwargs)
            except FailureGroup as exc:
                failures.append(exc)
                raise

    try:
        Workflow.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO, **BOUNDED))
    except Flaky:
        # Jobs progress in the background, so a replayed scenario may meet another state and
        # Hypothesis call the run flaky; as in schemathesis' own runner, that alone is no failure.
        pass
    if failures:
        raise failures[0]
    created = answered[("POST /hal/api/quantum/jobs", 201)] + answered[("POST /hal/api/classical/jobs", 201)]
    assert created and answered[("GET /hal/api/jobs/{job_id}", 200)], f"no link was followed: {answered}"


def test_answers_the_fuzzer_rarely_reaches_conform(server, api_schema, auth):
    """Finished results, a FAILED job's 409, an unavailable provider's 503 and
    an idempotent replay: random generation seldom gets there, so send them."""

    def call(method: str, path: str, expect: int, **case_data):
        case = api_schema[path][method].Case(**case_data)
        response = case.call_and_validate(headers=auth, additional_checks=[clean_error_answers])
        assert response.status_code == expect, response.text
        return response.json()

    quantum = call("POST", "/hal/api/quantum/jobs", 201, body={"circuit": BELL_QASM2, "shots": 20, "priority": "high"})
    classical = call(
        "POST", "/hal/api/classical/jobs", 201, body={"code": CLASSICAL_PROGRAMS[1], "args": {"x": 1}, "priority": "high"}
    )
    failing = call("POST", "/hal/api/classical/jobs", 201, body={"code": CLASSICAL_PROGRAMS[2], "priority": "high"})
    swept = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc[0] = measure q[0];\n'
    sweep = call("POST", "/hal/api/quantum/jobs", 201, body={"circuit": swept, "parameters": {"theta": [0.0, 1.0]}, "shots": 20, "priority": "high"})
    estimate = call("POST", "/hal/api/quantum/jobs", 201, body={"circuit": swept, "parameters": {"theta": [0.0, 1.0]}, "observables": [{"Z": 1.0}], "priority": "high"})
    server.wait_all([quantum["id"], classical["id"], failing["id"], sweep["id"], estimate["id"]], timeout=30)
    for job in (quantum, classical, failing):
        call("GET", "/hal/api/jobs/{job_id}", 200, path_parameters={"job_id": job["id"]})
    assert len(call("GET", "/hal/api/jobs/{job_id}/result", 200, path_parameters={"job_id": sweep["id"]})["counts"]) == 2
    assert len(call("GET", "/hal/api/jobs/{job_id}/result", 200, path_parameters={"job_id": estimate["id"]})["evs"][0]) == 2
    assert call("GET", "/hal/api/jobs/{job_id}/result", 200, path_parameters={"job_id": quantum["id"]})["counts"]
    assert call("GET", "/hal/api/jobs/{job_id}/result", 200, path_parameters={"job_id": classical["id"]})["stdout"]
    call("GET", "/hal/api/jobs/{job_id}/result", 409, path_parameters={"job_id": failing["id"]})
    call("POST", "/hal/api/jobs/{job_id}/cancel", 409, path_parameters={"job_id": quantum["id"]})

    body = {"circuit": BELL_QASM2, "shots": 7}
    key = {"Idempotency-Key": "fuzz-replay"}
    first = call("POST", "/hal/api/quantum/jobs", 201, body=body, headers=key)
    assert call("POST", "/hal/api/quantum/jobs", 200, body=body, headers=key)["id"] == first["id"]
    call("POST", "/hal/api/quantum/jobs", 409, body={**body, "shots": 8}, headers=key)

    providers = call("GET", "/hal/api/providers", 200)["providers"]
    call("GET", "/hal/api/providers/{name}/backends", 200, path_parameters={"name": "local_simulator"})
    unavailable = [p for p in providers if not p["available"]]
    assert unavailable, "every emulated cloud provider is expected to lack credentials in this server"
    for provider in unavailable:
        kind = provider["kind"]
        program = {"circuit": BELL_QASM2} if kind == "quantum" else {"code": CLASSICAL_PROGRAMS[0]}
        request = {"provider": provider["name"], **program}
        call("POST", f"/hal/api/{kind}/jobs", 503, body=request)
        call("GET", "/hal/api/providers/{name}/backends", 503, path_parameters={"name": provider["name"]})
