"""ibm_code_engine through ibm-code-engine-sdk (IAM), against a local Code Engine running real functions."""

from __future__ import annotations

import base64

import pytest

pytest.importorskip("ibm_code_engine_sdk")

from . import serverless_checks as checks  # noqa: E402
from hal_jupyter.offline import code_engine  # noqa: E402

PROVIDER = "ibm_code_engine"


@pytest.fixture(scope="module")
def engine_world():
    server, world, url = code_engine.start()
    yield world, url
    server.shutdown()


@pytest.fixture
def ce(engine_world, monkeypatch):
    world, url = engine_world
    for name, value in code_engine.env(url).items():
        monkeypatch.setenv(name, value)
    return world


async def test_without_settings_it_is_unavailable_and_says_what_to_set(api, monkeypatch):
    for name in ("IBM_CODE_ENGINE_URL", "IBM_CODE_ENGINE_REGION", "IBM_CODE_ENGINE_PROJECT_ID", "IBM_CLOUD_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is False and "IBM_CODE_ENGINE_PROJECT_ID" in info["reason"]


async def test_sum_deployed_once_with_output(api, ce):
    await checks.sum_is_45_and_deployed_once(api, PROVIDER, ce.deploys)


async def test_an_exception_and_a_timeout_are_failed(api, ce):
    await checks.exception_and_timeout_fail(api, PROVIDER)


async def test_a_batch_is_one_invocation(api, ce):
    await checks.batch_is_one_invocation(api, PROVIDER, ce.invokes)


async def test_function_mode_invokes_an_existing_function(api, ce):
    source = base64.b64encode(b"def main(params):\n    return {'body': {'total': params['a'] + params['b']}}\n").decode()
    ce.functions[(code_engine.PROJECT, "adder")] = {
        "name": "adder", "code_reference": f"data:text/plain;base64,{source}", "status": "ready",
        "endpoint": f"{ce.base_url}/run/{code_engine.PROJECT}/adder",
    }
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "adder", "args": {"a": 2, "b": 3}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED", final
    assert (await api.get(f"jobs/{record['id']}/result"))[1]["value"] == {"total": 5}
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "missing", "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and final["error"]["type"] == "NotFound"
