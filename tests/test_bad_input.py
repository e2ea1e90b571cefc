"""Bad input gets a 4xx with a clear message and changes nothing."""

from __future__ import annotations

import json

import pytest

from .conftest import BELL_QASM2


async def _nothing_stored(api):
    code, listing = await api.get("jobs")
    assert code == 200 and listing["jobs"] == []


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


async def test_too_many_qubits_for_the_local_simulator(api):
    circuit = "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[100000];\ncreg c[1];\nmeasure q[0] -> c[0];\n"
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 400 and "100000 qubits" in body["message"] and "max_local_qubits" in body["message"]


async def test_circuit_without_measurement_is_400(api):
    code, body = await api.post("quantum/jobs", {"circuit": "OPENQASM 2.0;\nqreg q[1];\n"})
    assert code == 400 and "measure" in body["message"]


async def test_oversized_circuit_is_413(api):
    circuit = BELL_QASM2 + "// " + "x" * 1_100_000 + "\n"
    code, body = await api.post("quantum/jobs", {"circuit": circuit})
    assert code == 413 and body["type"] == "PayloadTooLarge"


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


async def test_cancel_of_a_finished_job_is_409(api):
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10, "priority": "high"})
    await api.wait(record["id"])
    code, body = await api.post(f"jobs/{record['id']}/cancel")
    assert code == 409 and body["type"] == "JobAlreadyFinished"


async def test_path_traversal_in_ids_is_404(api):
    for job_id in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x' OR '1'='1"):
        response = await api.fetch("hal", "api", "jobs", job_id, raise_error=False)
        assert response.code in (400, 404)
        assert b"root:" not in response.body
