"""No credential ever shows, wherever a test can look (the issue's "Secrets" item;
API.md: credentials are never in widget state, any answer or any message).

``tests/canaries.py`` puts canary credentials in the session, keeps what it
shows and searches all of it at the session's end (every xdist worker's too);
the jobs here make sure that even alone it searches something real.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hal_jupyter import Hal

from . import canaries
from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TAG = "secrets-sweep"
CLASSICAL = ["aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine"]
QUANTUM = {"aws_braket": "arn:aws:braket:::device/quantum-simulator/amazon/sv1", "azure_quantum": "ionq.simulator", "ibm_quantum": "fake_manila"}
#: IBM Quantum's token only reaches IBM's cloud (the emulated runs use local mode)
CODE = {"prints": "def main(n):\n    print('summing', n)\n    return sum(range(n))\n", "raises": "def main(n):\n    raise ValueError('bad', n)\n"}
FLIP = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nx q[0];\nmeasure q -> c;\n'

@pytest.mark.timeout(600)
def test_jobs_run_with_canary_credentials_on_every_provider_for_the_sweep(tmp_path):
    """Jobs with the canary credentials for the session's sweep (``tests/canaries.py``),
    which then searches:

    - every log record of each process (INFO and up; DEBUG of the HAL and of the
      libraries that carry its credentials), with tracebacks,
    - the response bodies the tests read (in-process server, ``ServerProcess``),
      and the events WebSocket messages,
    - the log of every ``jupyter server`` process,
    - the outputs of every notebook cell run by nbval,
    - widget state: every comm message of every ipywidget (here and in the
      notebooks' kernels), and the page of the JupyterLab browser test,
    - every file written under the session's temporary directories.

    A ``jupyter server`` with the stand-ins' credentials (from a ``.env`` file)
    runs jobs on every cloud provider, then again with credentials that fail
    (``canaries.FAILING``, from the environment, which wins), so the providers'
    error paths hold a canary too; a live monitor widget follows them. Once this
    ran, the sweep also fails if a source it must have filled is (almost) empty.
    """
    before = canaries.EVIDENCE.counts()
    _run_jobs_with_canary_credentials(tmp_path)
    canaries.EVIDENCE.canary_jobs = True
    shown = canaries.EVIDENCE.counts() - before
    assert shown[canaries.HTTP] >= canaries.AT_LEAST[canaries.HTTP] and shown[canaries.WIDGET_STATE] >= canaries.AT_LEAST[canaries.WIDGET_STATE], shown


def test_the_sweep_finds_a_canary_wherever_it_is_and_judges_thin_evidence():
    """The sweep is not vacuous: a canary in a record or a file is found and fails the session."""
    evidence = canaries.Evidence()
    evidence.active = True
    evidence.record(canaries.LOGS, f"a log line holding {canaries.CANARIES['AWS_SECRET_ACCESS_KEY']}")
    folder = Path(tempfile.mkdtemp(prefix="hal-canary-check-"))  # outside the session's folders, which the real sweep reads
    try:
        (folder / "written.txt").write_text(f"x {canaries.CANARIES['IBM_CLOUD_API_KEY']} y")
        report = canaries.sweep(evidence, [folder])
    finally:
        shutil.rmtree(folder)
    assert len(report["leaks"]) == 2
    _, failure = canaries.judge([report])
    assert failure.startswith("credentials leaked")
    clean = canaries.sweep(canaries.Evidence(), [])
    assert canaries.judge([clean]) [1] == ""  # nothing ran that promised evidence
    _, thin = canaries.judge([{**clean, "canary_jobs": True}])
    assert "(almost) nothing" in thin


def _run_jobs_with_canary_credentials(root: Path) -> None:
    """Jobs on the offline clouds with their credentials (from a ``.env`` file),
    then, restarted, with credentials that fail (the environment wins over the file)."""
    server = ServerProcess(root, db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=0.2, retry_base_s=0.05, retry_max_s=0.2)
    with _offline_clouds(root / ".env"):
        try:
            server.start(timeout=90)
            accepted = _submit_everywhere(server, QUANTUM)
            records = server.wait_all(sum(accepted.values(), []), timeout=240)
            assert {r["provider"] for r in records.values() if r["status"] == "COMPLETED"} == set(CLASSICAL) | set(QUANTUM), _outcomes(records)
            server.stop()
            server.start(timeout=90, env=canaries.FAILING)
            refused = _submit_everywhere(server, QUANTUM)
            records = server.wait_all(sum(refused.values(), []), timeout=240)
            assert all(r["status"] == "FAILED" for r in records.values() if not r["provider"].startswith("aws_")), _outcomes(records)  # moto takes any AWS key
            _watch_in_a_monitor(server, sum([*accepted.values(), *refused.values()], []))
        finally:
            server.stop()


@contextmanager
def _offline_clouds(env_file: Path) -> Iterator[None]:
    """``hal-jupyter offline``, in a process of its own (as a user runs it), which
    writes the variables that reach the stand-ins to ``env_file``, read by the server."""
    log_path = env_file.with_name("offline.log")
    with open(log_path, "wb") as log:  # stdout: the variables, printed on purpose
        process = subprocess.Popen([sys.executable, "-m", "hal_jupyter.offline", "--env-file", str(env_file)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while not env_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert env_file.exists(), f"hal-jupyter offline wrote no {env_file} (its log: {log_path})"
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _submit_everywhere(server: ServerProcess, quantum: dict[str, str]) -> dict[str, list[str]]:
    """A printing and a raising cell on every serverless provider, a circuit on
    each ``quantum`` provider (and backend); the ids of the jobs accepted, by
    provider. Every answer read goes to the sweep, refusals too."""
    accepted = {}
    for provider in [*CLASSICAL, *quantum]:
        if provider in quantum:
            kind, jobs = "quantum", [{"backend": quantum[provider], "circuit": FLIP, "shots": 100}]
        else:
            kind, jobs = "classical", [{"code": code, "args": {"n": 10}, "name": name} for name, code in CODE.items()]
        body = {"jobs": [{**job, "provider": provider, "priority": "high", "tags": [TAG]} for job in jobs]}
        status, answer = server.request("POST", f"/hal/api/{kind}/jobs", body)
        accepted[provider] = [record["id"] for record in answer["jobs"]] if status == 201 else []
        server.request("GET", f"/hal/api/providers/{provider}/backends")
    server.request("GET", "/hal/api/providers")
    return accepted


def _outcomes(records: dict[str, dict]) -> list[str]:
    return sorted(f"{r['provider']}: {r['status']} {r['error'] or ''}" for r in records.values())


def _watch_in_a_monitor(server: ServerProcess, ids: list[str]) -> None:
    """The kernel side: a live monitor of the jobs, whose widget state the sweep reads."""
    hal = Hal(server.url + "/", server.token)
    try:
        monitor = hal.monitor([hal.job(job_id) for job_id in ids])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(monitor.status_of(i) not in ("COMPLETED", "FAILED") for i in ids):
            time.sleep(0.1)
        for job_id in ids:
            server.request("GET", f"/hal/api/jobs/{job_id}/result")
        monitor.close()
    finally:
        hal.close()
