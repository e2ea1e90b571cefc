from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

pytest.register_assert_rewrite("tests.canaries")  # a plugin (below) this file also imports
from . import canaries  # noqa: E402

# Embedded engines (kernel-side tests, notebooks under nbval) keep their job
# store in the Jupyter data directory: a fresh one for this test session.
os.environ["JUPYTER_DATA_DIR"] = tempfile.mkdtemp(prefix="hal-test-data-")
# boto3's credential chain ends at the EC2 metadata address; tests stay on 127.0.0.1.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

pytest_plugins = ["pytest_jupyter.jupyter_server", "tests.canaries", "tests.postgres"]

BELL_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0], q[1];
measure q -> c;
"""

BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "both_stores: run the module's tests on SQLite and on a real PostgreSQL")


def pytest_generate_tests(metafunc: Any) -> None:
    """``store_kind``: "sqlite", plus "postgres" for tests marked ``both_stores``."""
    if "store_kind" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_stores") is not None
        metafunc.parametrize("store_kind", ["sqlite", "postgres"] if both else ["sqlite"])


@pytest.fixture
def db_url(request, store_kind: str, tmp_path) -> str:
    """The job store of one test: a SQLite file, or a fresh database on the session's PostgreSQL."""
    if store_kind == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'jobs.sqlite'}"


@pytest.fixture
def hal_config() -> dict[str, Any]:
    """HalExtension settings for one test; tests override keys before the server starts."""
    # no warm-up: most tests send no job to the local simulator, so a test process that never
    # does starts no Aer worker (the process's one worker serves every test that does; the
    # real servers of tests/ keep the warm-up)
    return {"batch_window_s": 0.2, "batch_max_size": 50, "env_file": "", "warm_up": False}


@pytest.fixture
def jp_server_config(db_url, hal_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"hal_jupyter": True},
            "allow_unauthenticated_access": False,
        },
        "HalExtension": {"db_url": db_url, **hal_config},
    }


@pytest.fixture
def jp_fetch(jp_fetch):
    """pytest-jupyter's ``jp_fetch``, keeping every response body for the secrets sweep."""

    async def fetch(*parts: str, **kwargs: Any) -> Any:
        try:
            response = await jp_fetch(*parts, **kwargs)
        except HTTPClientError as error:
            canaries.record(canaries.HTTP, error.response and error.response.body)
            raise
        canaries.record(canaries.HTTP, response.body)
        return response

    return fetch


@pytest.fixture
def jp_ws_fetch(jp_ws_fetch):
    """pytest-jupyter's ``jp_ws_fetch``, keeping every message received for the secrets sweep."""

    async def connect(*parts: str, **kwargs: Any) -> Any:
        connection = await jp_ws_fetch(*parts, **kwargs)
        read = connection.read_message

        async def read_message() -> Any:
            message = await read()
            canaries.record(canaries.HTTP, message)
            return message

        connection.read_message = read_message
        return connection

    return connect


class Api:
    """A small client over ``jp_fetch`` that returns (status, json) and never raises on 4xx."""

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: str | None = None, **params: Any) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False, "headers": headers or {}}
        if params:
            kwargs["params"] = params
        if method in ("POST", "PUT"):
            kwargs["body"] = raw if raw is not None else json.dumps(body if body is not None else {})
        response = await self.fetch("hal", "api", *path.strip("/").split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text else None)

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **params)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("POST", path, body, **kwargs)

    async def wait(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll a job until it is terminal; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, record = await self.get(f"jobs/{job_id}")
            assert code == 200, record
            if record["status"] in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN"):
                return record
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s: {record}")


@pytest.fixture
def api(jp_fetch, jp_serverapp, jp_asyncio_loop) -> Api:
    # pytest-jupyter never runs the server's IOLoop start-up hook; run it as
    # `jupyter server` does, so extensions start (the engine resumes its jobs).
    jp_asyncio_loop.run_until_complete(jp_serverapp._post_start())
    return Api(jp_fetch)
