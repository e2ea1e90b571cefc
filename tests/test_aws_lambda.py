"""aws_lambda through boto3, against a local Lambda that runs the real handler."""

from __future__ import annotations


import pytest

boto3 = pytest.importorskip("boto3")

from . import serverless_checks as checks  # noqa: E402
from hal_jupyter.offline import aws_lambda as emulator  # noqa: E402
from hal_jupyter.offline import credentials  # noqa: E402

ROLE_NAME = "hal-lambda-role"


@pytest.fixture(scope="module")
def lambda_endpoint():
    server, _, url = emulator.start()
    yield url
    server.stop()


@pytest.fixture
def aws(lambda_endpoint, monkeypatch):
    for name, value in {
        "AWS_ENDPOINT_URL": lambda_endpoint,
        "AWS_ACCESS_KEY_ID": credentials.AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": credentials.AWS_SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    iam = boto3.client("iam", region_name="us-east-1")
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument="{}")["Role"]
    monkeypatch.setenv("HAL_AWS_LAMBDA_ROLE", role["Arn"])
    return boto3.client("lambda", region_name="us-east-1")


async def test_without_credentials_it_is_unavailable_with_a_reason(api, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code, body = await api.get("providers")
    info = {p["name"]: p for p in body["providers"]}["aws_lambda"]
    assert info["available"] is False and "AWS_ACCESS_KEY_ID" in info["reason"]
    code, body = await api.post("classical/jobs", {"provider": "aws_lambda", "code": "def main():\n    return 1\n"})
    assert code == 503 and "AWS_ACCESS_KEY_ID" in body["message"]


async def test_sum_on_lambda_deployed_once(api, aws):
    await checks.sum_is_45_and_deployed_once(api, "aws_lambda", emulator.DEPLOYS)


async def test_an_exception_and_a_timeout_are_failed(api, aws):
    slow = await checks.exception_and_timeout_fail(api, "aws_lambda")
    assert "timed out" in slow["error"]["message"]


async def test_a_batch_of_standard_jobs_is_one_invocation_carrying_several_tasks(api, aws):
    await checks.batch_is_one_invocation(api, "aws_lambda", emulator.INVOKES)


async def test_function_mode_invokes_a_deployed_function(api, aws):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return {'total': event['a'] + event['b']}\n")
    aws.create_function(
        FunctionName="adder", Runtime="python3.11", Role=f"arn:aws:iam::123456789012:role/{ROLE_NAME}",
        Handler="handler.handle", Code={"ZipFile": buffer.getvalue()},
    )
    status, record = await api.post("classical/jobs", {"provider": "aws_lambda", "function": "adder", "args": {"a": 2, "b": 3}, "priority": "high"})
    assert status == 201, record
    final = await api.wait(record["id"], timeout=60)
    assert final["status"] == "COMPLETED", final
    status, result = await api.get(f"jobs/{record['id']}/result")
    assert result["value"] == {"total": 5}
