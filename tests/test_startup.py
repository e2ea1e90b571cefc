"""Loading the server extension stays light; the engine starts once the server serves.

Every ``jupyter server`` start pays for loading the extension, so the start path
must not import the engine, its database layer or Qiskit (their time is
measured by ``benchmarks/bench_startup.py``). A real server process then builds
and starts the engine in the background, and requests sent meanwhile wait for it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import BELL_QASM2
from .server_process import ServerProcess

HEAVY = ("qiskit", "qiskit_aer", "sqlalchemy", "pydantic", "hal_jupyter.kernel", "hal_jupyter.engine.engine")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_loading_the_extension_imports_neither_the_engine_nor_the_kernel_nor_qiskit() -> None:
    jupyter = modules_after("import jupyter_server.serverapp")
    loaded = modules_after(
        "import jupyter_server.serverapp, hal_jupyter\n"
        "(point,) = hal_jupyter._jupyter_server_extension_points()\n"
        "assert point['app'].name == 'hal_jupyter'"
    )
    added = loaded - jupyter
    assert not sorted(m for m in added if m.startswith(HEAVY))


def test_jobs_sent_as_the_server_starts_complete(tmp_path) -> None:
    server = ServerProcess(tmp_path, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.2)
    try:
        server.start()  # returns at the first answer from /hal/api/scheduler
        status, record = server.request("POST", "/hal/api/quantum/jobs", {"circuit": BELL_QASM2, "shots": 100})
        assert status == 201, record
        status, providers = server.request("GET", "/hal/api/providers")
        assert status == 200 and "local_simulator" in {p["name"] for p in providers["providers"]}
        assert server.wait_all([record["id"]], timeout=120)[record["id"]]["status"] == "COMPLETED"
        status, result = server.request("GET", f"/hal/api/jobs/{record['id']}/result")
        assert status == 200 and set(result["counts"]) <= {"00", "11"}
    finally:
        server.stop()
    assert "hal_jupyter: engine started" in server.log_path.read_text()
