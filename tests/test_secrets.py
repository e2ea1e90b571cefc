"""No credential ever shows, wherever a test can look (the issue's "Secrets" item;
API.md: credentials are never in widget state, any answer or any message).

``tests/canaries.py`` puts canary credentials in the session and keeps what it
shows; this test runs last and searches all of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hal_jupyter import Hal

from . import canaries
from .canaries import EVIDENCE
from .server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TAG = "secrets-sweep"
CLASSICAL = ["aws_lambda", "azure_functions", "ibm_cloud_functions", "ibm_code_engine"]
QUANTUM = {"aws_braket": "arn:aws:braket:::device/quantum-simulator/amazon/sv1", "azure_quantum": "ionq.simulator", "ibm_quantum": "fake_manila"}
#: IBM Quantum's token only reaches IBM's cloud (the emulated runs use local mode)
CODE = {"prints": "def main(n):\n    print('summing', n)\n    return sum(range(n))\n", "raises": "def main(n):\n    raise ValueError('bad', n)\n"}
FLIP = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nx q[0];\nmeasure q -> c;\n'

#: at least this many records of each source: what this test's own run shows
#: (the whole suite shows far more)
AT_LEAST = {canaries.LOGS: 20, canaries.HTTP: 50, canaries.SERVER_LOGS: 1, canaries.WIDGET_STATE: 100}


@pytest.mark.sweep
@pytest.mark.timeout(600)
def test_no_canary_credential_appears_anywhere(tmp_path, tmp_path_factory):
    """Runs after every other test and notebook of the session (``tests/canaries.py``
    moves it last), then searches for every canary (``canaries.CANARIES``):

    - every log record of this process (DEBUG and up, every logger, with tracebacks),
    - the response bodies the tests read (in-process server, ``ServerProcess``),
      and the events WebSocket messages,
    - the log of every ``jupyter server`` process,
    - the outputs of every notebook cell run by nbval,
    - widget state: every comm message of every ipywidget (here and in the
      notebooks' kernels), and the page of the JupyterLab browser test,
    - every file written under the session's temporary directories.

    Before that it runs jobs of its own, so that even alone it searches something
    real: a ``jupyter server`` with the stand-ins' credentials (from a ``.env``
    file) runs jobs on every cloud provider, then again with credentials that
    fail (``canaries.FAILING``, from the environment, which wins), so the
    providers' error paths hold a canary too; a live monitor widget follows them.
    It fails if any source is empty that the session should have filled.
    """
    _run_jobs_with_canary_credentials(tmp_path)
    EVIDENCE.read_server_logs()
    files = _session_files(tmp_path_factory.getbasetemp(), Path(os.environ["JUPYTER_DATA_DIR"]))
    counts = EVIDENCE.counts()
    EVIDENCE.summary = (
        f"searched {dict(counts)} ({EVIDENCE.size() / 1e6:.1f} MB) and {len(files)} session files for {len(canaries.CANARIES)} canaries"
    )

    expected = {source: 1 for source in EVIDENCE.expected} | AT_LEAST
    too_few = {source: counts[source] for source, least in expected.items() if counts[source] < least}
    assert not too_few, f"the sweep would pass on (almost) nothing: {too_few} (at least {expected})"
    assert files, "no file written during the session"
    leaks = [*EVIDENCE.leaks(), *_leaks_in_files(files)]
    if leaks:
        pytest.fail("credentials leaked:\n" + "\n".join(leaks), pytrace=False)


def _run_jobs_with_canary_credentials(root: Path) -> None:
    """Jobs on the offline clouds with their credentials (from a ``.env`` file),
    then, restarted, with credentials that fail (the environment wins over the file)."""
    server = ServerProcess(root, db_url=f"sqlite:///{root / 'jobs.sqlite'}", batch_window_s=0.2)
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


def _session_files(*folders: Path) -> list[Path]:
    """Every file the session wrote in its temporary folders but ``.env`` files:
    credentials live there by design (the HAL reads them from one, and the tests
    write them as ``hal-jupyter offline --env-file`` does for a user)."""
    return [p for folder in folders for p in folder.rglob("*") if p.is_file() and p.name != ".env"]


def _leaks_in_files(files: list[Path]) -> Iterator[str]:
    for path in files:
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # gone since listed: a SQLite -shm/-wal file whose last connection closed
            continue
        yield from canaries.find_canaries(str(path), [content])
