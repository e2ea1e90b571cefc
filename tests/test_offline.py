"""``hal-jupyter offline``: every cloud stand-in from one command, as a user runs it.

The command runs in a process of its own, writes the provider variables to an
env file, answers ``GET /__offline__/stats`` on each stand-in, injects faults
with ``--faults``, and stops cleanly on SIGTERM. The package it lives in
imports nothing of the tests, and nothing outside ``tests/`` imports them.
"""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from hal_jupyter.offline import stack

from . import serverless_checks as checks
from .quantum_checks import BELL, share

ROOT = Path(__file__).resolve().parents[1]
HAL_JUPYTER = str(Path(sys.executable).with_name("hal-jupyter"))
CLASSICAL = ["aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine", "local_python"]
QUANTUM = {"aws_braket": "arn:aws:braket:::device/quantum-simulator/amazon/sv1", "azure_quantum": "ionq.simulator", "ibm_quantum": None}


class Offline:
    """A running ``hal-jupyter offline`` and what it printed."""

    def __init__(self, env_file: Path, *args: str) -> None:
        self.env_file = env_file
        self.proc = subprocess.Popen([HAL_JUPYTER, "offline", "--env-file", str(env_file), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.lines.append(self.proc.stdout.readline())  # type: ignore[union-attr]
            if self.lines[-1].startswith("counters:"):
                break
        assert self.lines and self.lines[-1].startswith("counters:"), "".join(self.lines)
        self.env = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        self.urls = dict(entry.split("=", 1) for entry in self.env[stack.URLS_VARIABLE].split(","))

    def stats(self, name: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.urls[name] + "/__offline__/stats", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> Iterator[Offline]:
    running = Offline(tmp_path_factory.mktemp("offline") / ".env")
    yield running
    running.stop()


async def test_one_command_runs_every_provider_offline_through_its_env_file(api, offline, monkeypatch):
    assert set(offline.urls) == set(stack.PROVIDERS)
    assert offline.env["QISKIT_IBM_CHANNEL"] != "local" and offline.env["QISKIT_IBM_URL"].startswith(offline.urls["ibm_quantum"])  # IBM's cloud path
    for name, value in offline.env.items():
        monkeypatch.setenv(name, value)
    code, body = await api.get("providers")
    available = {p["name"] for p in body["providers"] if p["available"]}
    assert set(CLASSICAL) | set(QUANTUM) <= available, body
    before = {name: offline.stats(name) for name in QUANTUM}
    for provider, backend in QUANTUM.items():
        request = {"provider": provider, "circuit": BELL, "shots": 400, "priority": "high", **({"backend": backend} if backend else {})}
        status, record = await api.post("quantum/jobs", request)
        assert status == 201, record
        assert (await api.wait(record["id"], timeout=120))["status"] == "COMPLETED"
        counts = (await api.get(f"jobs/{record['id']}/result"))[1]["counts"]
        assert share(counts, {"00", "11"}) > 0.85, (provider, counts)
        assert offline.stats(provider)["creates"] == before[provider]["creates"] + 1, provider  # one task, one job
    for provider in CLASSICAL:
        status, record = await api.post("classical/jobs", {"provider": provider, "code": checks.SUM, "args": {"n": 10}, "priority": "high"})
        assert status == 201, record
        final = await api.wait(record["id"], timeout=60)
        assert final["status"] == "COMPLETED", final
        assert (await api.get(f"jobs/{record['id']}/result"))[1]["value"] == 45
    stats = {name: offline.stats(name) for name in offline.urls}
    assert all(s["invocations"] >= 1 for name, s in stats.items() if name in CLASSICAL), stats
    assert all(set(s) >= {"service", "creates", "cancels", "deploys", "invocations"} for s in stats.values()), stats


def test_connect_finds_the_running_stand_ins_by_their_env_file(offline):
    assert stack.connect(str(offline.env_file)) == offline.env
    assert set(stack.stats(offline.env)) == set(stack.PROVIDERS)


def test_the_faults_flag_makes_the_service_flaky_and_the_stats_count_each_fault(tmp_path):
    running = Offline(tmp_path / ".env", "--only", "azure_quantum", "--faults", "1")
    try:
        assert set(running.urls) == {"azure_quantum"} and "AWS_ENDPOINT_URL" not in running.env
        assert "100% of requests faulty" in running.lines[0]
        url = running.urls["azure_quantum"] + "/subscriptions/x/resourceGroups/y/providers/Microsoft.Quantum/workspaces/z/providerStatus"
        answers = []
        for _ in range(8):
            request = urllib.request.Request(url, headers={"x-ms-quantum-api-key": running.env["AZURE_QUANTUM_API_KEY"]})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answers.append(response.status)
            except urllib.error.HTTPError as err:
                answers.append(err.code)
            except (TimeoutError, urllib.error.URLError):  # an injected lost answer
                answers.append("lost")
        injected = running.stats("azure_quantum")["faults_injected"]
        assert sum(injected.values()) == 8, injected
        assert {429, 503} & set(answers), answers  # throttled or unavailable, as a flaky cloud answers
    finally:
        assert running.stop() == 0


@pytest.mark.parametrize("args, message", [
    (["--faults", "2"], "not a share of requests"),
    (["--faults", "many"], "not a number"),
    (["--only", "ibm_qantum"], "invalid choice"),
])
def test_bad_arguments_are_refused_with_a_message(tmp_path, args, message):
    proc = subprocess.run([HAL_JUPYTER, "offline", "--env-file", str(tmp_path / ".env"), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / ".env").exists()


def test_sigterm_stops_every_stand_in(tmp_path):
    running = Offline(tmp_path / ".env", "--only", "ibm_cloud_functions", "ibm_code_engine")
    assert running.stats("ibm_code_engine")["deploys"] == 0
    assert running.stop() == 0 and "stopping the stand-ins" in running.proc.stdout.read()  # type: ignore[union-attr]
    for url in running.urls.values():
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url + "/__offline__/stats", timeout=5)


def test_the_offline_package_imports_no_test_code():
    """Run the stand-ins in a fresh interpreter: neither pytest nor ``tests`` gets imported."""
    code = (
        "import sys\n"
        "from hal_jupyter.offline.stack import OfflineClouds\n"
        "clouds = OfflineClouds().start()\n"
        "clouds.stop()\n"
        "bad = sorted(m for m in sys.modules if m == 'pytest' or m == 'tests' or m.startswith(('tests.', '_pytest')))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_nothing_outside_tests_imports_the_tests():
    importers = []
    for path in [*ROOT.glob("hal_jupyter/**/*.py"), *ROOT.glob("benchmarks/**/*.py"), *ROOT.glob("notebooks/*.ipynb")]:
        sources = [path.read_text()]
        if path.suffix == ".ipynb":
            sources = ["".join(c["source"]) for c in json.loads(sources[0])["cells"] if c["cell_type"] == "code"]
        for source in sources:
            if source.lstrip().startswith("%%"):  # a cell magic's body is not Python
                continue
            source = re.sub(r"^\s*[%!].*$", "", source, flags=re.M)  # nor is a line magic
            for node in ast.walk(ast.parse(source)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                if any(n == "tests" or n.startswith("tests.") for n in names):
                    importers.append(str(path.relative_to(ROOT)))
            if "sys.path.insert" in source and not path.is_relative_to(ROOT / "hal_jupyter"):  # reaching into the checkout
                importers.append(f"{path.relative_to(ROOT)} (sys.path.insert)")
    assert importers == [], importers
