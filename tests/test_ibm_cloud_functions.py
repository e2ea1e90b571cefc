"""ibm_cloud_functions through ibm-cloud-sdk-core (IAM), against a local OpenWhisk running real actions."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("ibm_cloud_sdk_core")

from . import serverless_checks as checks  # noqa: E402
from hal_jupyter.offline import openwhisk  # noqa: E402

PROVIDER = "ibm_cloud_functions"


@pytest.fixture(scope="module")
def whisk():
    server, world, url = openwhisk.start()
    yield world, url
    server.shutdown()


@pytest.fixture
def ow(whisk, monkeypatch):
    world, url = whisk
    for name, value in openwhisk.env(url).items():
        monkeypatch.setenv(name, value)
    return world


async def test_without_settings_it_is_unavailable_and_says_what_to_set(api, monkeypatch):
    for name in ("IBM_CLOUD_FUNCTIONS_URL", "IBM_CLOUD_FUNCTIONS_NAMESPACE", "IBM_CLOUD_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is False and "IBM_CLOUD_API_KEY" in info["reason"]
    code, body = await api.post("classical/jobs", {"provider": PROVIDER, "code": "def main():\n    return 1\n"})
    assert code == 503


async def test_sum_deployed_once_with_output(api, ow):
    await checks.sum_is_45_and_deployed_once(api, PROVIDER, ow.deploys)


async def test_an_exception_and_a_timeout_are_failed(api, ow):
    await checks.exception_and_timeout_fail(api, PROVIDER)


async def test_a_batch_is_one_invocation_and_the_iam_token_is_refreshed(api, ow):
    tokens = ow.token_requests
    await checks.batch_is_one_invocation(api, PROVIDER, ow.invokes)
    time.sleep(openwhisk.TOKEN_TTL_S + 0.5)  # the bearer token has expired: the SDK must get a new one
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "code": checks.SQUARE, "args": {"n": 5}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED", final
    assert ow.token_requests > tokens


async def test_function_mode_invokes_an_existing_action(api, ow):
    ow.actions[("hal", "adder")] = {"exec": {"kind": "python:3", "code": "def main(params):\n    return {'total': params['a'] + params['b']}\n"}}
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "adder", "args": {"a": 2, "b": 3}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED", final
    assert (await api.get(f"jobs/{record['id']}/result"))[1]["value"] == {"total": 5}
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "missing", "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and final["error"]["type"] == "NotFound"

