"""Bad input gets a 4xx with a clear message and changes nothing."""

from __future__ import annotations

import json
import resource

import pytest

from .conftest import BELL_QASM2
from .server_process import ServerProcess

H2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
ADD = "def main(x, y):\n    return x + y\n"


async def _nothing_stored(api):
    code, listing = await api.get("jobs")
    assert code == 200 and listing["jobs"] == []


def _clean_error(body):
    """A JSON error a program can branch on and a person can read, with no server internals in it."""
    assert isinstance(body, dict) and body.get("type") and body.get("message"), body
    text = " ".join([body["message"], *(str(d.get("message", "")) for d in body.get("details") or [])])
    assert "Traceback" not in text and 'File "' not in text, text


def _nested(depth, leaf="1"):
    """``{"a": {"a": ... leaf ...}}``, ``depth`` objects deep, as raw JSON text."""
    return '{"a": ' * depth + leaf + "}" * depth


@pytest.fixture
def raw_path(api, http_server_client, jp_auth_header, jp_base_url):
    """Send a request whose path goes out byte for byte as written: ``jp_fetch``
    escapes ``%`` again, so ``%2F`` or ``%00`` would never reach the server."""

    async def send(method, path):
        response = await http_server_client.fetch(
            f"{jp_base_url}hal/api/{path}",
            method=method,
            body=b"" if method == "POST" else None,
            headers=jp_auth_header,
            raise_error=False,
        )
        return response.code, json.loads(response.body)

    return send


async def test_invalid_qasm2_gives_line_and_column(api):
    circuit = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[2];\nfoo q[0];\n"
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400 and body["type"] == "InvalidCircuit"
    assert body["details"][0]["line"] == 4 and body["details"][0]["column"] == 0
    assert "foo" in body["message"]
    await _nothing_stored(api)


async def test_invalid_qasm3_syntax_gives_line_and_column(api):
    circuit = "OPENQASM 3.0;\nqubit[2] q;\nh q[0]\ncx q[0], q[1];\n"
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400 and body["type"] == "InvalidCircuit"
    assert body["details"][0]["line"] == 4


async def test_include_of_a_server_file_leaks_nothing(api):
    passwd = open("/etc/passwd").read()
    for version, stmt in (("2.0", 'include "/etc/passwd";'), ("3.0", 'include "/etc/passwd";'), ("2.0", 'include "../../../etc/passwd";')):
        circuit = f"OPENQASM {version};\n{stmt}\nqreg q[1];\n"
        code, body = await api.post("quantum/jobs", {"circuit": circuit})
        assert code == 400, body
        text = json.dumps(body)
        assert "root:" not in text and passwd[:20] not in text
        assert body["details"][0]["line"] == 2
    await _nothing_stored(api)


@pytest.mark.parametrize("shots", [0, -1, "x", 10**12, 1.5, True, None, [1]])
async def test_bad_shots_are_400(api, shots):
    code, body = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": shots})
    assert code == 400, body
    assert "shots" in body["message"]
    await _nothing_stored(api)


async def test_nan_shots_in_raw_json_is_400(api):
    for raw in ('{"circuit": "OPENQASM 2.0;", "shots": NaN}', '{"circuit": "OPENQASM 2.0;", "shots": Infinity}'):
        code, body = await api.call("POST", "quantum/jobs", raw=raw)
        assert code == 400 and "shots" in body["message"]


async def test_unknown_provider_is_404(api):
    code, body = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "provider": "no_such_provider"})
    assert code == 404 and body["type"] == "ProviderNotFound"
    assert "local_simulator" in body["message"]  # says what exists


async def test_wrong_kind_of_provider_is_400(api):
    code, body = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "provider": "local_python"})
    assert code == 400 and "classical" in body["message"]


@pytest.mark.parametrize(
    "raw",
    ["not json", "[1, 2]", '"text"', "{}", '{"jobs": []}', '{"jobs": "x"}', '{"circuit": ""}', '{"circuit": "x", "extra": 1}', "[" * 100000],
)
async def test_malformed_bodies_are_400(api, raw):
    code, body = await api.call("POST", "quantum/jobs", raw=raw)
    assert code == 400, body
    assert body["type"] in ("InvalidRequest", "InvalidCircuit") and body["message"]
    await _nothing_stored(api)


@pytest.mark.parametrize(
    "circuit",
    [
        H2 + "qreg q[100000];\ncreg c[1];\nmeasure q[0] -> c[0];\n",
        'OPENQASM 2.0; include "qelib1.inc"; qreg q[100000]; creg c[100000]; measure q -> c;',
    ],
    ids=["measure-one", "measure-all"],
)
async def test_too_many_qubits_for_the_local_simulator(api, circuit):
    """Refused from the declaration, without building a 100000-qubit anything."""
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400 and "more than 10000 qubits" in body["message"] and body["details"][0]["line"] in (1, 3), body
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000  # KiB
    _clean_error(body)
    await _nothing_stored(api)


async def test_more_qubits_than_the_local_simulator_runs_says_which_setting(api):
    code, body = await api.post("quantum/jobs", {"circuit": H2 + "qreg q[40];\ncreg c[40];\nmeasure q -> c;\n"})
    assert code == 400 and "40 qubits" in body["message"] and "max_local_qubits" in body["message"], body


async def test_circuit_without_measurement_is_400(api):
    code, body = await api.post("quantum/jobs", {"circuit": "OPENQASM 2.0;\nqreg q[1];\n"})
    assert code == 400 and "measure" in body["message"]


@pytest.mark.parametrize("size", [1_100_000, 10_000_000])
async def test_oversized_circuit_is_413(api, size):
    circuit = BELL_QASM2 + "// " + "x" * size + "\n"
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 413 and body["type"] == "PayloadTooLarge"
    assert "bytes" in body["message"] and "max_circuit_bytes" in body["message"]
    _clean_error(body)
    await _nothing_stored(api)


async def test_unknown_backend_and_option_are_400(api):
    code, body = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "backend": "nope"})
    assert code == 400 and "aer_simulator" in body["message"]
    code, body = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "options": {"bogus": 1}})
    assert code == 400 and "bogus" in body["message"]


@pytest.mark.parametrize(
    "request_body",
    [
        {},
        {"code": "def main(:\n"},
        {"code": "x", "function": "f"},
        {"code": "def main():\n  return 1", "timeout_s": 0},
        {"code": "def main():\n  return 1", "timeout_s": -5},
        {"code": "def main():\n  return 1", "args": [1, 2]},
        {"code": "def main():\n  return 1", "entrypoint": "not valid"},
        {"function": "deployed_fn"},
    ],
)
async def test_bad_classical_requests_are_400(api, request_body):
    code, body = await api.post("classical/jobs", request_body)
    assert code == 400, body
    await _nothing_stored(api)


async def test_idempotency_key_replays_and_conflicts(api):
    body = {"circuit": BELL_QASM2, "shots": 50}
    headers = {"Idempotency-Key": "exp-42"}
    code, first = await api.post("quantum/jobs", body, headers=headers)
    assert code == 201
    code, again = await api.post("quantum/jobs", body, headers=headers)
    assert code == 200 and again["id"] == first["id"]
    code, conflict = await api.post("quantum/jobs", {**body, "shots": 51}, headers=headers)
    assert code == 409 and conflict["type"] == "IdempotencyConflict"
    code, listing = await api.get("jobs")
    assert len(listing["jobs"]) == 1


async def test_reused_idempotency_key_with_another_body_changes_nothing(api):
    body = {"circuit": BELL_QASM2, "shots": 50, "priority": "high"}
    headers = {"Idempotency-Key": "exp-43"}
    code, first = await api.post("quantum/jobs", body, headers=headers)
    assert code == 201
    original = await api.wait(first["id"])
    others = [
        ("quantum/jobs", {**body, "tags": ["other"]}),
        ("quantum/jobs", {"jobs": [body]}),  # the same job, as a bulk request
        ("classical/jobs", {"code": ADD, "args": {"x": 1, "y": 2}}),  # the same key on the other endpoint
    ]
    for path, other in others:
        code, conflict = await api.post(path, other, headers=headers)
        assert code == 409 and conflict["type"] == "IdempotencyConflict", conflict
        _clean_error(conflict)
    code, listing = await api.get("jobs")
    assert listing["jobs"] == [original]
    code, replay = await api.post("quantum/jobs", body, headers=headers)
    assert code == 200 and replay == original


async def test_cancel_of_a_finished_job_is_409(api):
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10, "priority": "high"})
    await api.wait(record["id"])
    code, body = await api.post(f"jobs/{record['id']}/cancel")
    assert code == 409 and body["type"] == "JobAlreadyFinished"


TRICKY_IDS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    "abc%00def",
    "%00",
    "%FF%FE",  # not UTF-8 once decoded
    "x'%20OR%20'1'%3D'1",
    "a" * 10_000,
]


async def test_path_traversal_in_ids_is_404(api, raw_path):
    """Ids that try to climb out, inject or overflow name no job, leak nothing and touch nothing."""
    passwd = open("/etc/passwd").read()
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10, "priority": "high"})
    before = await api.wait(record["id"])
    for job_id in TRICKY_IDS:
        for method, path in (("GET", f"jobs/{job_id}"), ("GET", f"jobs/{job_id}/result"), ("POST", f"jobs/{job_id}/cancel")):
            code, body = await raw_path(method, path)
            assert code in (400, 404), (method, path[:60], body)
            _clean_error(body)
            assert "root:" not in body["message"] and passwd[:20] not in body["message"]
    code, listing = await api.get("jobs")
    assert listing["jobs"] == [before]


MALFORMED_CIRCUITS = {
    "missing-semicolon": (H2 + "qreg q[2]\ncreg c[2];\nmeasure q -> c;\n", 4),
    "out-of-range-index": (H2 + "qreg q[2];\ncreg c[2];\nmeasure q[5] -> c[0];\n", 5),
    "binary-garbage": ("\x00\x01\x02 garbage \x7f\n", 1),
    "broadcast-size-mismatch": (H2 + "qreg q[2];\ncreg c[3];\nmeasure q -> c;\n", 5),
    "unclosed-comment": (H2 + "/* never closed\nqreg q[1];\n", 3),
    "unclosed-string": ('OPENQASM 2.0;\ninclude "qelib1.inc;\n', 2),
    "negative-size": (H2 + "qreg q[-1];\n", 3),
    "non-ascii-name": (H2 + "qreg q\u00e9[1];\n", 3),
    "qasm3-undefined-gate": (H3 + "qubit[1] q;\nbit[1] c;\nfoo q[0];\nc = measure q;\n", 5),
    "qasm3-syntax": (H3 + "qubit[2] q;\nbit[2] c\nc = measure q;\n", 5),
    "unknown-version": ("OPENQASM 4.0;\nqreg q[1];\n", None),
    "absurd-version": ("OPENQASM 99999999999999999999.0;\nqreg q[1];\n", None),
    "blank": (" \n\t ", None),
}
@pytest.mark.parametrize("name", list(MALFORMED_CIRCUITS))
async def test_malformed_circuits_are_400_with_their_line(api, name):
    circuit, line = MALFORMED_CIRCUITS[name]
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400 and body["type"] == "InvalidCircuit", body
    _clean_error(body)
    if line is not None:
        assert body["details"][0]["line"] == line, body
    await _nothing_stored(api)


NESTED_BODIES = {
    "100000-brackets": ("classical/jobs", "[" * 100_000),
    "100000-braces-in-args": ("classical/jobs", '{"code": "x", "args": ' + '{"a": ' * 100_000),
    "objects-in-args": ("classical/jobs", f'{{"code": {json.dumps(ADD)}, "args": {{"x": {_nested(100)}, "y": 1}}}}'),
    "arrays-in-args": ("classical/jobs", f'{{"code": {json.dumps(ADD)}, "args": {{"x": {"[" * 900 + "]" * 900}, "y": 1}}}}'),
    "objects-in-options": ("quantum/jobs", f'{{"circuit": {json.dumps(BELL_QASM2)}, "options": {_nested(100)}}}'),
    "objects-in-bulk-args": ("classical/jobs", f'{{"jobs": [{{"code": {json.dumps(ADD)}, "args": {{"x": {_nested(70)}}}}}]}}'),
}


@pytest.mark.parametrize("name", list(NESTED_BODIES))
async def test_deeply_nested_json_is_400(api, name):
    path, raw = NESTED_BODIES[name]
    code, body = await api.call("POST", path, raw=raw)
    assert code == 400 and body["type"] == "InvalidRequest" and "nested" in body["message"], body
    _clean_error(body)
    await _nothing_stored(api)


async def test_moderately_nested_args_are_accepted(api):
    args = {"x": json.loads(_nested(20))}
    code, record = await api.post("classical/jobs", {"code": "def main(x):\n    return x\n", "args": args})
    assert code == 201, record


@pytest.mark.parametrize(
    "path, raw",
    [
        ("classical/jobs", f'{{"code": {json.dumps(ADD)}, "args": {{"\\udcff": 1}}}}'),
        ("classical/jobs", f'{{"code": {json.dumps(ADD)}, "args": {{"x": ["\\ud800"], "y": 1}}}}'),
        ("quantum/jobs", f'{{"circuit": {json.dumps(BELL_QASM2)}, "name": "\\udfff"}}'),
    ],
    ids=["args-key", "args-value", "name"],
)
async def test_unpaired_surrogates_are_400(api, path, raw):
    """JSON may escape half a UTF-16 pair; such a string cannot be stored or sent on."""
    code, body = await api.call("POST", path, raw=raw)
    assert code == 400 and body["type"] == "InvalidRequest", body
    _clean_error(body)
    await _nothing_stored(api)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "\u00b2"},  # "²".isdigit() is True, int("²") fails
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "1e2"},
        {"status": "DONE"},
        {"kind": "both"},
        {"cursor": "abc"},
        {"cursor": "\u00b2"},
    ],
    ids=lambda params: "&".join(f"{k}={v}" for k, v in params.items()),
)
async def test_bad_list_filters_are_400(api, params):
    code, body = await api.get("jobs", **params)
    assert code == 400, body
    _clean_error(body)


# -- found by the fuzzer and this corpus (500s, a hang, a server killed), fixed in the engine --------


@pytest.mark.parametrize(
    "path, request_body",
    [("quantum/jobs", {"circuit": 7}), ("quantum/jobs", {"circuit": True}), ("classical/jobs", {"code": 1.5})],
    ids=["circuit-int", "circuit-bool", "code-float"],
)
async def test_non_string_circuit_or_code_is_400(api, path, request_body):
    code, body = await api.post(path, request_body)
    assert code == 400, body
    _clean_error(body)


@pytest.mark.parametrize(
    "circuit",
    [H3 + "qubit[99999999999999999999] q;\n", H3 + "qubit[1] q;\nbit[1] c;\nrx(" + "(" * 300 + "1" + ")" * 300 + ") q[0];\nc = measure q;\n"],
    ids=["huge-register", "deep-expression"],
)
async def test_qasm3_extremes_are_400(api, circuit):
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400, body
    _clean_error(body)


async def test_huge_integer_literal_in_qasm2_is_400(api):
    circuit = H2 + "qreg q[99999999999999999999999];\ncreg c[1];\nmeasure q[0] -> c[0];\n"
    response = await api.fetch(
        "hal", "api", "quantum", "jobs", method="POST", body=json.dumps({"circuit": circuit}), raise_error=False, request_timeout=5
    )
    assert response.code == 400, response.body


def test_a_billion_qubit_register_is_400_without_allocating(tmp_path):
    """In its own server, capped at 3 GiB of address space: should it allocate
    anyway, that server fails, not the machine (uncapped it took 23 GB)."""
    server = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", env_file="").start()
    resource.prlimit(server.proc.pid, resource.RLIMIT_AS, (3 << 30, 3 << 30))
    circuit = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1000000000]; creg c[1000000000]; measure q -> c;'
    try:
        code, body = server.request("POST", "/hal/api/quantum/jobs", {"circuit": circuit})
        assert code == 400, body
        _clean_error(body)
    finally:
        server.stop()
