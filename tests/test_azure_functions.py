"""azure_functions over HTTP triggers, against a local Functions host running real
``azure-functions`` handlers (the HAL runner app for code mode)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("azure.functions")

from . import serverless_checks as checks  # noqa: E402
from hal_jupyter.offline import azure_functions as emulator  # noqa: E402

PROVIDER = "azure_functions"
ADDER = '''\
import json
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="adder", methods=["POST"])
def adder(req: func.HttpRequest) -> func.HttpResponse:
    params = req.get_json()
    return func.HttpResponse(json.dumps({"total": params["a"] + params["b"]}), mimetype="application/json")


@app.route(route="broken", methods=["POST"])
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("the database is down")
'''


@pytest.fixture(scope="module")
def functions_host():
    server, host, url = emulator.start()
    emulator.deploy_runner(host)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "function_app.py").write_text(ADDER)
        Path(folder, "host.json").write_text(json.dumps({"version": "2.0", "functionTimeout": "00:00:30"}))
        host.deploy(emulator.zip_folder(folder), name="adder-app")
    yield host, url
    server.shutdown()


@pytest.fixture
def host(functions_host, monkeypatch):
    host, url = functions_host
    for name, value in emulator.env(url).items():
        monkeypatch.setenv(name, value)
    return host


async def test_without_settings_it_is_unavailable_and_says_what_to_set(api, monkeypatch):
    for name in ("AZURE_FUNCTIONS_URL", "AZURE_FUNCTIONS_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}[PROVIDER]
    assert info["available"] is False and "AZURE_FUNCTIONS_KEY" in info["reason"]
    status, error = await api.post("classical/jobs", {"provider": PROVIDER, "function": "adder"})
    assert status == 503, error


async def test_code_mode_without_the_runner_is_a_400_that_says_why(api, host, monkeypatch):
    monkeypatch.delenv("AZURE_FUNCTIONS_RUNNER")
    status, error = await api.post("classical/jobs", {"provider": PROVIDER, "code": checks.SUM, "args": {"n": 10}})
    assert status == 400 and "can't take code through its API" in error["message"] and "AZURE_FUNCTIONS_RUNNER" in error["message"]


async def test_sum_through_the_runner_with_output_and_no_deploy_per_cell(api, host):
    await checks.sum_is_45_and_deployed_once(api, PROVIDER, host.deploys, new_deploys=0)


async def test_an_exception_and_a_timeout_are_failed(api, host):
    await checks.exception_and_timeout_fail(api, PROVIDER)


async def test_a_batch_is_one_invocation(api, host):
    await checks.batch_is_one_invocation(api, PROVIDER, host.invokes)


async def test_function_mode_calls_a_deployed_function_with_the_key(api, host):
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "adder", "args": {"a": 2, "b": 3}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED", final
    assert (await api.get(f"jobs/{record['id']}/result"))[1]["value"] == {"total": 5}
    for function, error_type, words in (("missing", "NotFound", "no function at route 'missing'"), ("broken", "FunctionError", "the database is down")):
        status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": function, "priority": "high"})
        final = await api.wait(record["id"], timeout=60)
        assert final["status"] == "FAILED" and final["error"]["type"] == error_type and words in final["error"]["message"], final


async def test_a_wrong_key_fails_and_is_not_shown(api, host, monkeypatch):
    monkeypatch.setenv("AZURE_FUNCTIONS_KEY", "not-the-key")
    status, record = await api.post("classical/jobs", {"provider": PROVIDER, "function": "adder", "args": {"a": 1, "b": 1}, "priority": "high"})
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "FAILED" and "HTTP 401" in final["error"]["message"] and "not-the-key" not in json.dumps(final)
