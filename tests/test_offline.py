"""``python -m tests.emulators``: every cloud emulator from one command, for demos."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

from . import serverless_checks as checks
from .quantum_checks import BELL

ROOT = Path(__file__).resolve().parents[1]
CLASSICAL = ["aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine", "local_python"]


async def test_one_command_starts_them_all_and_a_dotenv_points_the_providers_at_them(api, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators", "--env-file", str(env_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline and proc.poll() is None:
            lines.append(proc.stdout.readline())
            if "emulators running" in lines[-1]:
                break
        assert "emulators running" in lines[-1], "".join(lines)
        for name, value in dotenv_values(env_file).items():
            monkeypatch.setenv(name, value)
        code, body = await api.get("providers")
        available = {p["name"] for p in body["providers"] if p["available"]}
        assert set(CLASSICAL) | {"ibm_quantum", "aws_braket", "azure_quantum"} <= available, body
        for provider, backend in (("aws_braket", "arn:aws:braket:::device/quantum-simulator/amazon/sv1"), ("azure_quantum", "ionq.simulator")):
            status, record = await api.post("quantum/jobs", {"provider": provider, "backend": backend, "circuit": BELL, "priority": "high"})
            assert status == 201, record
            assert (await api.wait(record["id"], timeout=60))["status"] == "COMPLETED"
        for provider in CLASSICAL:
            status, record = await api.post("classical/jobs", {"provider": provider, "code": checks.SUM, "args": {"n": 10}, "priority": "high"})
            assert status == 201, record
            final = await api.wait(record["id"], timeout=60)
            assert final["status"] == "COMPLETED", final
            assert (await api.get(f"jobs/{record['id']}/result"))[1]["value"] == 45
    finally:
        proc.kill()
        proc.wait(timeout=10)
