"""Local work on Dask (API.md "Local work on Dask", docs/dask.md): with
``local_executor = "dask"`` local_simulator batches run in chunks on a Dask
cluster's workers, merged in order, and local_python jobs run their sandboxed
child on a worker; a cancel stops the task (and kills the child), a worker
killed mid-run has its work run again elsewhere, and nothing is lost.

One embedded LocalCluster serves the module (the fixture holds it, so each
test's server finds it running); the last test starts its own scheduler and
two workers as ``dask scheduler`` / ``dask worker`` processes and SIGKILLs one.
"""

from __future__ import annotations

import asyncio
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

import hal_jupyter
from hal_jupyter.engine.contract import Settings
from hal_jupyter.providers import dask_executor
from hal_jupyter.providers.local_simulator import AerProcess

distributed = pytest.importorskip("distributed")
pytest.importorskip("qiskit_aer")

from . import quantum_checks as checks  # noqa: E402
from .test_batch_isolation import BAD  # noqa: E402
from .test_sweeps import ten_sweeps  # noqa: E402

SHOTS = 2000
BAD_AT = 17
UNITARY, UNITARY_SAYS = BAD["opaque-unitary"]


def marked(i: int) -> str:
    """Job ``i``'s circuit: qubits 1-5 hold ``i`` (its order in the batch shows), qubit 0 is
    1 with probability sin^2(theta_i / 2)."""
    flips = "".join(f"x q[{k + 1}];\n" for k in range(5) if (i >> k) & 1)
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[6];\ncreg c[6];\n{flips}ry({_theta(i):.6f}) q[0];\nmeasure q -> c;\n'


def _theta(i: int) -> float:
    return math.pi * i / 40


def heavy(i: int, qubits: int = 16, layers: int = 10) -> str:
    """A circuit that takes ~0.1 s to simulate and ends in the basis state ``i``: layers of
    rotations and CNOTs, then their inverse."""
    body: list[str] = []
    for layer in range(layers):
        body += [f"ry({0.1 * (k + layer + 1):.3f}) q[{k}];" for k in range(qubits)]
        body += [f"cx q[{k}],q[{(k + 1 + layer) % qubits}];" for k in range(0, qubits - 1, 2)]
    inverse = [line.replace("ry(", "ry(-") for line in reversed(body)]
    flips = [f"x q[{k}];" for k in range(qubits) if (i >> k) & 1]
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{qubits}];", f"creg c[{qubits}];", *flips, *body, *inverse, "measure q -> c;"]
    return "\n".join(lines) + "\n"


def ones(counts: dict[str, int]) -> float:
    return sum(n for key, n in counts.items() if key[-1] == "1") / sum(counts.values())


@pytest.fixture(scope="module")
def embedded():
    """The process's embedded LocalCluster, held for the whole module."""
    executor = dask_executor.DaskExecutor.acquire("", 60.0)
    executor.client()
    yield executor
    executor.release()


@pytest.fixture
def hal_config(request, hal_config) -> dict[str, Any]:
    """Servers of this module run local work on Dask: the module's embedded cluster, or
    the external one of the test that starts it."""
    if "external" in request.fixturenames:
        client, _ = request.getfixturevalue("external")
        return {**hal_config, "local_executor": "dask", "dask_address": client.scheduler.address}
    request.getfixturevalue("embedded")
    return {**hal_config, "local_executor": "dask"}


async def _all_done(api, ids: list[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    return [await api.wait(job_id, timeout=timeout) for job_id in ids]


async def _result(api, job_id: str) -> dict[str, Any]:
    status, result = await api.get(f"jobs/{job_id}/result")
    assert status == 200, result
    return result


# -- local_simulator ---------------------------------------------------------------------
async def test_a_batch_runs_in_chunks_on_both_workers_merged_in_order_like_the_process_path(api, embedded):
    circuits = [UNITARY.format(n=3) if i == BAD_AT else marked(i) for i in range(40)]
    with distributed.get_task_stream(client=embedded.client()) as stream:
        status, body = await api.post("quantum/jobs", {"jobs": [{"circuit": c, "shots": SHOTS} for c in circuits]})
        assert status == 201, body
        finals = await _all_done(api, [r["id"] for r in body["jobs"]])
    assert len({f["batch_id"] for f in finals}) == 1, "one batch"
    chunks = [t for t in stream.data if t["key"].startswith("simulate")]
    assert len(chunks) > 1 and len({t["worker"] for t in chunks}) == 2, chunks
    bad = finals[BAD_AT]
    assert bad["status"] == "FAILED" and UNITARY_SAYS in bad["error"]["message"], bad  # alone
    request = ("automatic", [(c, None) for c in circuits], SHOTS, None)
    reference = AerProcess.of_this_process().run(object(), request)  # the process path
    for i, final in enumerate(finals):
        if i == BAD_AT:
            continue
        assert final["status"] == "COMPLETED", final
        result = await _result(api, final["id"])
        counts = result["counts"]
        assert {key[:-1] for key in counts} == {format(i % 32, "05b")}, (i, counts)  # its own circuit's: in order
        assert abs(ones(counts) - math.sin(_theta(i) / 2) ** 2) < 5 / math.sqrt(SHOTS), (i, counts)
        assert abs(ones(counts) - ones(reference[i]["counts"])) < 7 / math.sqrt(SHOTS), (i, counts, reference[i])
        assert result["metadata"]["batch_size"] == reference[i]["metadata"]["batch_size"] == 40


@pytest.mark.parametrize("observables", [False, True], ids=["sampling", "estimation"])
async def test_sweeps_and_estimations_run_on_the_cluster(api, observables):
    results = await ten_sweeps(api, {"provider": "local_simulator"}, observables)
    assert {r["metadata"]["primitive"] for r in results} == {"EstimatorV2" if observables else "AerSimulator.run"}
    assert all(r["metadata"]["batch_size"] == 10 for r in results)
    for k, result in enumerate(results):
        for point, theta in enumerate([0.1 * k, 0.1 * k + 1.0]):
            if observables:  # <Z> = cos(theta), exactly
                assert result["evs"][0][point] == pytest.approx(math.cos(theta), abs=1e-6), result
            else:
                counts = result["counts"][point]
                assert abs(counts.get("1", 0) / 500 - math.sin(theta / 2) ** 2) < 5 / math.sqrt(500), (k, counts)


async def test_memory_passes_through_the_chunks_to_the_jobs_that_ask(api):
    await checks.per_shot_memory(api, "local_simulator", None)


# -- local_python --------------------------------------------------------------------------
async def test_python_runs_its_sandboxed_child_on_a_worker(api, embedded):
    code = "import os\ndef main(x):\n    print('on a worker')\n    return {'sum': x + 1, 'parent': os.getppid(), 'env': sorted(os.environ)}\n"
    status, record = await api.post("classical/jobs", {"code": code, "args": {"x": 41}, "priority": "high"})
    assert status == 201, record
    final = await api.wait(record["id"])
    assert final["status"] == "COMPLETED", final
    result = await _result(api, record["id"])
    assert result["value"]["sum"] == 42 and result["stdout"] == "on a worker\n"
    workers = embedded.client().run(os.getpid)
    assert result["value"]["parent"] in workers.values() and result["value"]["parent"] != os.getpid()
    assert "HAL_PARENT_PID" not in result["value"]["env"] and not any("DASK" in name for name in result["value"]["env"])


async def test_a_cancel_kills_the_child_on_the_worker(api, tmp_path):
    pid_file = tmp_path / "pid"
    code = "import os, time\ndef main(path):\n    open(path, 'w').write(str(os.getpid()))\n    time.sleep(60)\n"
    status, record = await api.post("classical/jobs", {"code": code, "args": {"path": str(pid_file)}, "priority": "high"})
    assert status == 201, record
    pid = await _until(lambda: pid_file.exists() and pid_file.read_text() and int(pid_file.read_text()), "the child never started")
    assert psutil.pid_exists(pid)
    status, cancelled = await api.post(f"jobs/{record['id']}/cancel")
    assert status == 200, cancelled
    final = await api.wait(record["id"])
    assert final["status"] == "CANCELLED", final
    await _until(lambda: not _alive(pid), f"the child {pid} still runs")


async def test_a_timeout_on_a_worker_fails_the_job(api):
    status, record = await api.post("classical/jobs", {"code": "def main():\n    while True:\n        pass\n", "timeout_s": 1, "priority": "high"})
    final = await api.wait(record["id"], timeout=20)
    assert final["status"] == "FAILED" and final["error"]["type"] == "Timeout", final


def test_chunks_keep_the_order_and_differ_by_one_job_at_most():
    for items, count in [(list(range(40)), 4), (list(range(10)), 4), (list(range(3)), 8), ([7], 1)]:
        parts = dask_executor.chunks(items, count)
        assert [x for part in parts for x in part] == items
        assert len(parts) == min(count, len(items)) and max(map(len, parts)) - min(map(len, parts)) <= 1


# -- configuration -------------------------------------------------------------------------
async def test_describe_names_the_embedded_cluster(api, embedded):
    info = dask_executor.describe(Settings(local_executor="dask"))
    assert info == {"kind": "dask", "address": embedded.client().scheduler.address, "workers": 2}
    assert dask_executor.describe(Settings()) == {"kind": "process", "address": None, "workers": 1}
    status, scheduler = await api.get("scheduler")  # what GET /hal/api/scheduler shows
    assert status == 200 and scheduler["local_executor"] == info


@pytest.mark.parametrize("hal_config", [{"env_file": "", "warm_up": False, "local_executor": "thread"}])
async def test_an_unknown_executor_is_a_clear_503(api, hal_config):
    status, body = await api.get("providers")
    assert status == 503 and "local_executor must be 'process' or 'dask', not 'thread'" in body["message"], body


async def test_without_distributed_the_local_providers_say_what_to_install(api, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    status, body = await api.get("providers")
    local = {p["name"]: p for p in body["providers"] if p["name"] in ("local_simulator", "local_python")}
    assert len(local) == 2, body
    assert all(not p["available"] and "pip install 'hal-jupyter[dask]'" in p["reason"] for p in local.values()), local
    status, body = await api.post("classical/jobs", {"code": "def main():\n    return 1\n"})
    assert status == 503 and "pip install 'hal-jupyter[dask]'" in body["message"], body


@pytest.mark.parametrize(
    "hal_config", [{"env_file": "", "local_executor": "dask", "dask_address": "tcp://127.0.0.1:9", "provider_timeout_s": 1.0}]
)
async def test_an_unreachable_scheduler_makes_the_local_providers_unavailable(api, hal_config):
    async def unavailable() -> dict[str, Any] | None:
        status, body = await api.get("providers")
        simulator = next(p for p in body["providers"] if p["name"] == "local_simulator")
        return simulator if not simulator["available"] else None

    simulator = await _until_async(unavailable, "the warm-up never found the scheduler unreachable")
    assert "tcp://127.0.0.1:9 cannot be reached" in simulator["reason"], simulator
    status, body = await api.post("quantum/jobs", {"circuit": marked(1)})
    assert status == 503 and "tcp://127.0.0.1:9" in body["message"], body


def test_the_configuration_in_docs_dask_md_is_what_the_server_and_the_worker_take():
    from traitlets.config import Config

    from hal_jupyter import worker
    from hal_jupyter.server.app import HalExtension

    text = (Path(__file__).resolve().parents[1] / "docs" / "dask.md").read_text()
    blocks = [block.split("\n", 1) for block in text.split("```")[1::2]]
    for language, body in blocks:
        if language == "python":
            c = Config()
            exec(body, {"c": c})
            extension = HalExtension(config=c)
            settings = Settings(local_executor=extension.local_executor, dask_address=extension.dask_address)
            assert settings.local_executor == "dask" and settings.dask_address == c.HalExtension.get("dask_address", "")
    command = next(body for _, body in blocks if body.startswith("hal-jupyter worker"))
    args = worker.parser().parse_args(shlex.split(command.replace("\\\n", " "))[2:])
    assert args.local_executor == "dask" and args.dask_address.startswith("tcp://") and args.db_url.startswith("postgresql")
    with pytest.raises(SystemExit) as refused:
        worker.parser().parse_args(["--local-executor", "thread"])
    assert refused.value.code == 2


# -- an external cluster, one worker SIGKILLed mid-run ------------------------------------
@pytest.fixture
def external(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes (no nanny: a SIGKILL ends the worker)."""
    scheduler_file = tmp_path / "scheduler.json"
    package_root = str(Path(hal_jupyter.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    common = ["--scheduler-file", str(scheduler_file), "--no-dashboard"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", *common], env=env)]
    client = None
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() or not scheduler_file.read_text():
            assert time.monotonic() < deadline and procs[0].poll() is None, "the scheduler did not start"
            time.sleep(0.05)
        for name in ("survivor", "victim"):
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--nworkers", "1", "--nthreads", "1", "--no-nanny", "--name", name]
            procs.append(subprocess.Popen([*worker, *common], env=env))
        client = distributed.Client(scheduler_file=str(scheduler_file), set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        yield client, {"survivor": procs[1], "victim": procs[2]}
    finally:
        if client is not None:
            client.close()
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=10)


async def test_a_worker_killed_mid_run_loses_nothing(external, api):
    client, workers = external
    address = client.scheduler.address
    names = {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}
    status, body = await api.post("quantum/jobs", {"jobs": [{"circuit": heavy(i), "shots": 100} for i in range(40)]})
    assert status == 201, body
    ids = [r["id"] for r in body["jobs"]]
    code = "import time\ndef main(n):\n    time.sleep(1)\n    return n\n"
    status, body = await api.post("classical/jobs", {"jobs": [{"code": code, "args": {"n": n}, "priority": "high"} for n in range(2)]})
    assert status == 201, body
    python_ids = [r["id"] for r in body["jobs"]]
    await _until(lambda: client.processing().get(names["victim"]), "the victim never got a chunk")
    info = dask_executor.describe(Settings(local_executor="dask", dask_address=address))
    assert info == {"kind": "dask", "address": address, "workers": 2}, info
    workers["victim"].send_signal(signal.SIGKILL)
    finals = await _all_done(api, ids, timeout=60)
    assert workers["victim"].wait(timeout=10) == -signal.SIGKILL
    for i, final in enumerate(finals):
        assert final["status"] == "COMPLETED", final
        assert (await _result(api, final["id"]))["counts"] == {format(i, "016b"): 100}, i
    for n, job_id in enumerate(python_ids):
        final = await api.wait(job_id, timeout=60)
        assert final["status"] == "COMPLETED" and (await _result(api, job_id))["value"] == n, final
    assert list(client.scheduler_info()["workers"]) == [names["survivor"]]


# -- helpers -------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _until(check: Any, message: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)
    return value


async def _until_async(check: Any, message: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.1)
    return value
