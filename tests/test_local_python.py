"""local_python: code runs in a separate process, with a timeout that kills it."""

from __future__ import annotations

import os
import time

import psutil


def _runner_processes() -> list[psutil.Process]:
    """This test's leftovers: a sandbox runner of this process (other xdist workers run
    their own), or the ``sleep 987`` its code started, wherever it was reparented."""
    found = [
        proc for proc in psutil.Process().children(recursive=True)
        if any(part.endswith("providers/user_code.py") for part in _cmdline(proc))
    ]
    found += [proc for proc in psutil.process_iter() if _cmdline(proc)[:2] == ["sleep", "987"]]
    return found


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


async def test_sum_with_stdout(api):
    code = "def main(x, y):\n    print('adding', x, y)\n    return x + y\n"
    status, record = await api.post("classical/jobs", {"code": code, "args": {"x": 1, "y": 2}, "priority": "high"})
    assert status == 201 and record["kind"] == "classical" and record["backend"] == "python3"
    final = await api.wait(record["id"])
    assert final["status"] == "COMPLETED", final
    status, result = await api.get(f"jobs/{record['id']}/result")
    assert result["value"] == 3
    assert result["stdout"] == "adding 1 2\n"
    assert result["duration_s"] > 0


async def test_endless_loop_times_out_within_five_seconds_and_leaves_no_process(api):
    code = (
        "import subprocess\n"
        "def main():\n"
        "    subprocess.Popen(['sleep', '987'])\n"
        "    while True:\n"
        "        pass\n"
    )
    started = time.monotonic()
    status, record = await api.post("classical/jobs", {"code": code, "timeout_s": 2, "priority": "high"})
    final = await api.wait(record["id"], timeout=10)
    elapsed = time.monotonic() - started
    assert final["status"] == "FAILED"
    assert final["error"]["type"] == "Timeout" and "time limit of 2 s" in final["error"]["message"]
    assert elapsed < 5, elapsed
    assert _runner_processes() == []


async def test_an_exception_is_failed_with_its_type_and_message(api):
    code = "def main():\n    raise ValueError('bad')\n"
    status, record = await api.post("classical/jobs", {"code": code, "priority": "high"})
    final = await api.wait(record["id"])
    assert final["status"] == "FAILED"
    assert final["error"] == {"type": "UserCodeError", "message": "ValueError: bad", "exception": "ValueError"}


async def test_missing_entrypoint_and_unserialisable_value(api):
    status, one = await api.post("classical/jobs", {"code": "def run():\n    return 1\n", "priority": "high"})
    status, two = await api.post("classical/jobs", {"code": "def main():\n    return object()\n", "priority": "high"})
    first, second = await api.wait(one["id"]), await api.wait(two["id"])
    assert first["status"] == "FAILED" and "main" in first["error"]["message"]
    assert second["status"] == "FAILED" and second["error"]["exception"] == "TypeError"


async def test_the_code_runs_in_another_process_without_the_servers_environment(api, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret-value")
    code = "import os\ndef main():\n    return {'pid': os.getpid(), 'env': dict(os.environ), 'cwd': os.getcwd()}\n"
    status, record = await api.post("classical/jobs", {"code": code, "priority": "high"})
    await api.wait(record["id"])
    status, result = await api.get(f"jobs/{record['id']}/result")
    value = result["value"]
    assert value["pid"] != os.getpid()
    assert "AWS_SECRET_ACCESS_KEY" not in value["env"]
    assert "canary-secret-value" not in str(value)
    assert value["cwd"] != os.getcwd()


async def test_standard_classical_jobs_are_batched(api):
    ids = []
    for n in range(3):
        status, record = await api.post("classical/jobs", {"code": "def main(n):\n    return n * n\n", "args": {"n": n}})
        ids.append(record["id"])
    finals = [await api.wait(i) for i in ids]
    assert len({f["batch_id"] for f in finals}) == 1
    values = []
    for job_id in ids:
        status, result = await api.get(f"jobs/{job_id}/result")
        values.append(result["value"])
    assert values == [0, 1, 4]


async def test_memory_is_limited(api):
    code = "def main():\n    block = bytearray(4 * 1024**3)\n    return len(block)\n"
    status, record = await api.post("classical/jobs", {"code": code, "priority": "high"})
    final = await api.wait(record["id"])
    assert final["status"] == "FAILED" and final["error"]["exception"] == "MemoryError"
