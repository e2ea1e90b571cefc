"""The checks every cloud quantum provider must pass (issue 4), through the REST API.

Distributions, not bitstrings: fake backends are noisy and seeded batch runs
do not reproduce per-circuit runs.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
#: a one-parameter sweep: theta = 0 reads "00", theta = pi reads "01" (qubit 1 is never flipped)
RX_SWEEP = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[2] q;\nbit[2] c;\nrx(theta) q[0];\nc = measure q;\n'
GHZ3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nh q[0];\ncx q[0], q[1];\ncx q[1], q[2];\nc = measure q;\n'


#: Crash tests (test_crash_points, test_crash_matrix, test_many_engines):
#: cloud provider -> (backend, creates a crash-free run of the three-job batch makes)
CRASH_REMOTE = {
    "aws_braket": ("arn:aws:braket:::device/quantum-simulator/amazon/sv1", 1),
    "azure_quantum": ("ionq.simulator", 3),
    "ibm_quantum": ("fake_manila", 1),  # the cloud path, through the IBM Quantum Platform stand-in
}
#: the crash points at which a local provider had already taken the work that died
LOCAL_RAN_BEFORE_CRASH = {"after_accept", "after_remote_id"}

def flip(qubit: int, width: int = 3) -> str:
    """X on one qubit, all measured: Qiskit order puts that qubit's bit at position -1-qubit."""
    return f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{width}];\ncreg c[{width}];\nx q[{qubit}];\nmeasure q -> c;\n'


def share(counts: dict[str, int], keys: set[str]) -> float:
    return sum(v for k, v in counts.items() if k in keys) / sum(counts.values())


async def run(api: Any, body: dict[str, Any], timeout: float = 90) -> tuple[dict[str, Any], dict[str, Any]]:
    status, record = await api.post("quantum/jobs", {"priority": "high", "shots": 1000, **body})
    assert status == 201, record
    final = await api.wait(record["id"], timeout=timeout)
    assert final["status"] == "COMPLETED", final
    return final, (await api.get(f"jobs/{record['id']}/result"))[1]


async def bell_ghz_and_bit_order(api: Any, provider: str, backend: str | None, noisy: bool) -> None:
    low = 0.8 if noisy else 1.0
    target = {"provider": provider, **({"backend": backend} if backend else {})}
    _, bell = await run(api, {**target, "circuit": BELL})
    assert share(bell["counts"], {"00", "11"}) >= low and 0.35 < share(bell["counts"], {"00"}) < 0.65, bell
    _, ghz = await run(api, {**target, "circuit": GHZ3})
    assert share(ghz["counts"], {"000", "111"}) >= low and 0.35 < share(ghz["counts"], {"000"}) < 0.65, ghz
    _, one = await run(api, {**target, "circuit": flip(0)})
    assert max(one["counts"], key=one["counts"].get) == "001", one  # Qiskit order: bit 0 rightmost


async def ten_jobs_one_call(api: Any, provider: str, backend: str | None, priced: bool = True) -> list[dict[str, Any]]:
    """10 standard jobs for one backend go out as one batch; each keeps its own result;
    on a priced backend each job's cost estimate shows what batching saved."""
    target = {"provider": provider, **({"backend": backend} if backend else {})}
    circuits = [flip(k % 3) for k in range(10)]
    status, body = await api.post("quantum/jobs", {"jobs": [{**target, "circuit": c, "shots": 200} for c in circuits]})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=120) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert len({f["batch_id"] for f in finals}) == 1
    for k, final in enumerate(finals):
        counts = (await api.get(f"jobs/{final['id']}/result"))[1]["counts"]
        expected = ["001", "010", "100"][k % 3]
        assert max(counts, key=counts.get) == expected, (k, counts)
    costs = [f["cost_estimate"] for f in finals]
    if priced:
        assert all("batching saves" in c["basis"] for c in costs), costs
    return finals


async def per_shot_memory(api: Any, provider: str, backend: str | None, shots: int = 100) -> None:
    """``"memory": true`` gives one bitstring per shot, keyed as the counts are (so
    ``Counter(memory) == counts``, in Qiskit's bit order: a sweep whose second point
    flips qubit 0 reads "01" there), one list per point of a sweep; a job without it
    in the same batch gets no memory."""
    target = {"provider": provider, "shots": shots, **({"backend": backend} if backend else {})}
    jobs = [
        {**target, "circuit": GHZ3, "memory": True},
        {**target, "circuit": flip(0)},
        {**target, "circuit": RX_SWEEP, "parameters": {"theta": [0.0, math.pi]}, "memory": True},
    ]
    status, body = await api.post("quantum/jobs", {"jobs": jobs})
    assert status == 201, body
    finals = [await api.wait(r["id"], timeout=120) for r in body["jobs"]]
    assert all(f["status"] == "COMPLETED" for f in finals), finals
    assert len({f["batch_id"] for f in finals}) == 1, "jobs with and without memory share a batch"
    ghz, plain, sweep = [(await api.get(f"jobs/{f['id']}/result"))[1] for f in finals]
    assert len(ghz["memory"]) == shots and Counter(ghz["memory"]) == ghz["counts"], ghz
    assert share(ghz["counts"], {"000", "111"}) >= 0.8, ghz
    assert plain.get("memory") is None and max(plain["counts"], key=plain["counts"].get) == "001", plain
    assert len(sweep["memory"]) == 2 and [len(m) for m in sweep["memory"]] == [shots, shots], sweep
    assert [Counter(m) for m in sweep["memory"]] == sweep["counts"], sweep
    assert [Counter(m).most_common(1)[0][0] for m in sweep["memory"]] == ["00", "01"], sweep  # bit 0 rightmost
