"""``GET /hal/api/jobs?ids=...&include=result`` (API.md v1.1): many records and
their results in one request."""

from __future__ import annotations

import asyncio
import time

import pytest

from .conftest import BELL_QASM2

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL


def flip(qubit: int) -> str:
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nx q[{qubit}];\nmeasure q -> c;\n'


async def _all_terminal(api, ids: list[str], timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await api.get("jobs", ids=",".join(ids), include="result", limit="500")
        assert status == 200, body
        if all(r["status"] in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN") for r in body["jobs"]):
            return body["jobs"]
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


async def test_ids_and_include_result_give_every_result_in_one_request(api):
    circuits = [flip(k % 3) for k in range(30)]
    status, body = await api.post("quantum/jobs", {"jobs": [{"circuit": c, "shots": 200} for c in circuits]})
    assert status == 201, body
    ids = [r["id"] for r in body["jobs"]]
    listed = await _all_terminal(api, ids)
    assert sorted(r["id"] for r in listed) == sorted(ids)
    assert [r["id"] for r in listed] == ids[::-1], "newest first"
    by_id = {r["id"]: r for r in listed}
    for k, job_id in enumerate(ids):
        record = by_id[job_id]
        assert record["status"] == "COMPLETED", record
        result = record["result"]
        assert result["id"] == job_id and result["shots"] == 200
        assert max(result["counts"], key=result["counts"].get) == ["001", "010", "100"][k % 3], result
        single = (await api.get(f"jobs/{job_id}/result"))[1]
        assert single == result


async def test_unknown_ids_are_absent_and_unfinished_results_are_null(api):
    status, queued = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "priority": "standard"})
    assert status == 201
    status, body = await api.get("jobs", ids=f"{queued['id']},nosuchjob", include="result")
    assert status == 200, body
    assert [r["id"] for r in body["jobs"]] == [queued["id"]]
    record = body["jobs"][0]
    assert record["result"] is None or record["status"] == "COMPLETED", record
    status, body = await api.get("jobs", ids=queued["id"])
    assert status == 200 and "result" not in body["jobs"][0], "no result key unless asked"


async def test_classical_results_in_bulk(api):
    code = "def main(x):\n    print(x)\n    return x * 2\n"
    status, body = await api.post("classical/jobs", {"jobs": [{"code": code, "args": {"x": k}} for k in range(3)]})
    assert status == 201, body
    ids = [r["id"] for r in body["jobs"]]
    listed = {r["id"]: r for r in await _all_terminal(api, ids)}
    assert [listed[i]["result"]["value"] for i in ids] == [0, 2, 4]
    assert [listed[i]["result"]["stdout"] for i in ids] == ["0\n", "1\n", "2\n"]


@pytest.mark.parametrize(
    "params",
    [
        {"ids": ",".join(f"j{k}" for k in range(501))},
        {"ids": ","},
        {"ids": "x" * 201},
        {"include": "results"},
        {"include": "result", "limit": "501"},
    ],
    ids=["501 ids", "no ids", "overlong id", "unknown include", "limit over 500"],
)
async def test_bad_bulk_listings_are_400(api, params):
    status, body = await api.get("jobs", **params)
    assert status == 400, body
    assert body["type"] == "InvalidRequest" and body["message"], body
