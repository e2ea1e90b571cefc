"""The REST API end to end on the embedded local providers."""

from __future__ import annotations

import pytest

from .conftest import BELL_QASM2, BELL_QASM3

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL


async def test_providers_lists_the_embedded_defaults(api):
    code, body = await api.get("providers")
    assert code == 200
    by_name = {p["name"]: p for p in body["providers"]}
    assert by_name["local_simulator"]["available"] and by_name["local_simulator"]["kind"] == "quantum"
    assert by_name["local_python"]["available"] and by_name["local_python"]["kind"] == "classical"


async def test_backends_of_the_local_simulator(api):
    code, body = await api.get("providers/local_simulator/backends")
    assert code == 200
    assert "aer_simulator" in {b["name"] for b in body["backends"]}
    code, body = await api.get("providers/nope/backends")
    assert code == 404 and body["type"] == "ProviderNotFound"


@pytest.mark.parametrize("circuit", [BELL_QASM2, BELL_QASM3], ids=["qasm2", "qasm3"])
async def test_bell_circuit_completes_with_00_and_11_near_half(api, circuit):
    code, record = await api.post("quantum/jobs", {"circuit": circuit, "shots": 2000, "name": "bell"})
    assert code == 201, record
    assert record["status"] == "QUEUED" and record["name"] == "bell" and record["shots"] == 2000
    final = await api.wait(record["id"])
    assert final["status"] == "COMPLETED", final
    assert final["batch_id"] and final["finished_at"]
    code, result = await api.get(f"jobs/{record['id']}/result")
    assert code == 200
    counts = result["counts"]
    assert set(counts) == {"00", "11"}
    assert sum(counts.values()) == 2000
    assert 0.4 < counts["00"] / 2000 < 0.6


async def test_result_is_409_until_completed(api):
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10})
    code, body = await api.get(f"jobs/{record['id']}/result")
    assert code == 409 and body["type"] == "JobNotFinished"


async def test_unknown_job_is_404(api):
    for path in ("jobs/doesnotexist", "jobs/doesnotexist/result"):
        code, body = await api.get(path)
        assert code == 404 and body["type"] == "JobNotFound"
    code, body = await api.post("jobs/doesnotexist/cancel")
    assert code == 404


async def test_bulk_submit_is_all_or_none(api):
    good = {"circuit": BELL_QASM2, "shots": 100}
    code, body = await api.post("quantum/jobs", {"jobs": [good, {**good, "shots": 0}]})
    assert code == 400 and body["message"].startswith("jobs[1]:")
    code, listing = await api.get("jobs")
    assert listing["jobs"] == []
    code, body = await api.post("quantum/jobs", {"jobs": [good, good, good]})
    assert code == 201 and len(body["jobs"]) == 3


async def test_list_filters_and_cursor(api):
    for i in range(5):
        await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10, "tags": ["even" if i % 2 == 0 else "odd"]})
    await api.post("classical/jobs", {"code": "def main():\n    return 1\n"})
    code, page = await api.get("jobs", limit=2)
    assert code == 200 and len(page["jobs"]) == 2 and page["next_cursor"]
    assert page["jobs"][0]["kind"] == "classical"  # newest first
    seen = [j["id"] for j in page["jobs"]]
    while page["next_cursor"]:
        code, page = await api.get("jobs", limit=2, cursor=page["next_cursor"])
        seen += [j["id"] for j in page["jobs"]]
    assert len(seen) == len(set(seen)) == 6
    code, tagged = await api.get("jobs", tag="even")
    assert len(tagged["jobs"]) == 3
    code, quantum = await api.get("jobs", kind="quantum", provider="local_simulator")
    assert len(quantum["jobs"]) == 5
    for bad in ({"limit": "0"}, {"limit": "501"}, {"status": "DONE"}, {"kind": "x"}, {"cursor": "abc"}):
        code, body = await api.get("jobs", **bad)
        assert code == 400, bad


async def test_scheduler_endpoint_shows_settings_and_groups(api):
    await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 10})
    code, info = await api.get("scheduler")
    assert code == 200
    assert info["settings"]["batch_strategy"] == "time_or_cost"
    assert {"queued", "groups", "batches_flushed"} <= set(info)


async def test_openapi_document_lists_every_endpoint(api):
    code, doc = await api.get("openapi.json")
    assert code == 200 and doc["openapi"].startswith("3.")
    assert {
        "/hal/api/providers",
        "/hal/api/providers/{name}/backends",
        "/hal/api/quantum/jobs",
        "/hal/api/classical/jobs",
        "/hal/api/jobs",
        "/hal/api/jobs/{job_id}",
        "/hal/api/jobs/{job_id}/result",
        "/hal/api/jobs/{job_id}/cancel",
        "/hal/api/scheduler",
        "/hal/api/openapi.json",
    } <= set(doc["paths"])
    assert "JobRecord" in doc["components"]["schemas"]
