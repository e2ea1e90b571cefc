"""Circuits from the wild run correctly on every quantum provider, or are refused by name (issue 11).

A generated corpus (``tests/circuit_corpus.py``: Qiskit library and random
circuits exported by Qiskit to OpenQASM 2 and 3, with user gates named like
simulator instructions, several registers, barriers, mid-circuit measurement,
reset and conditionals) goes to each provider as ONE bulk request; every job
must complete with a distribution within sampling noise of a direct Aer run
of the circuit it was exported from. What a target does not take (Braket and
IonQ: reset, mid-circuit measurement, conditionals; Quantinuum's OpenQASM 2:
conditionals) is sent alone, since a bulk request is all or none, and must be
a 400 that names the construct.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from . import circuit_corpus as corpus

pytest.importorskip("qiskit_aer")

from hal_jupyter.offline import braket as braket_emulator  # noqa: E402
from .test_aws_braket import braket, braket_world  # noqa: E402,F401 - the Braket API emulator's fixtures
from .test_azure_quantum import azure, azure_world  # noqa: E402,F401 - the Azure Quantum emulator's fixtures

EVERYTHING: frozenset[str] = frozenset()
NO_DYNAMIC = frozenset({"reset", "mid_measure", "conditional"})
#: a stride through the corpus for every target but the local simulator, which takes it all
#: (an odd stride alternates the OpenQASM versions and meets every family of circuits)
SAMPLE = 3
#: (provider, backend, constructs it refuses, every how many entries it runs, the fixture that brings up its service)
TARGETS = [
    ("local_simulator", "aer_simulator", EVERYTHING, 1, None),
    ("ibm_quantum", "aer_simulator", EVERYTHING, SAMPLE, "ibm_local"),
    # Braket: one conversion for its three targets, each a longer stride
    ("aws_braket", "braket_sv", NO_DYNAMIC, 5, None),
    ("aws_braket", "braket_dm", NO_DYNAMIC, 5, None),
    ("aws_braket", braket_emulator.SV1, NO_DYNAMIC, 5, "braket"),
    ("azure_quantum", "ionq.simulator", NO_DYNAMIC, 7, "azure"),  # one Azure job per circuit: a longer stride
    ("azure_quantum", "quantinuum.sim.h2-1e", frozenset({"conditional"}), 7, "azure"),
]


@pytest.fixture(scope="module")
def entries() -> list[corpus.Entry]:
    return corpus.build()


@pytest.fixture(scope="module")
def references(entries: list[corpus.Entry]) -> dict[str, dict[str, int]]:
    return corpus.references(entries)


@pytest.fixture
def ibm_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "local")


def test_the_corpus_is_large_and_varied(entries: list[corpus.Entry]) -> None:
    names = [e.name for e in entries]
    assert len(entries) >= 150, len(entries)
    for family in ("ghz-", "qft-", "grover-", "adder-", "multiplier-", "qpe-", "w-", "random-", "clash-unitary", "registers-", "mid-measure-", "reset-", "conditional-"):
        assert any(n.startswith(family) for n in names), family
    assert {n.rpartition("/")[2] for n in names} == {"qasm2", "qasm3"}
    assert any("gate unitary" in e.source for e in entries) and any("if (" in e.source for e in entries)


@pytest.mark.parametrize(("provider", "backend", "refused", "stride", "service"), TARGETS, ids=[f"{t[0]}-{t[1].rpartition('/')[2]}" for t in TARGETS])
async def test_the_corpus_runs_or_is_refused_by_name(api, request, entries, references, provider, backend, refused, stride, service) -> None:
    if service is not None:
        request.getfixturevalue(service)
    target = {"provider": provider, "backend": backend}
    entries = corpus.every(entries, stride)
    runs = [e for e in entries if not e.constructs & refused]
    for entry in (e for e in entries if e.constructs & refused):
        status, error = await api.post("quantum/jobs", {**target, "circuit": entry.source, "shots": corpus.SHOTS})
        words = [corpus.CONSTRUCTS[c] for c in entry.constructs & refused]
        assert status == 400 and any(w in error["message"] for w in words), (entry.name, status, error)

    started = time.monotonic()
    status, body = await api.post("quantum/jobs", {"jobs": [{**target, "circuit": e.source, "shots": corpus.SHOTS} for e in runs]})
    assert status == 201, body
    ids = [r["id"] for r in body["jobs"]]
    records = await _wait_all(api, ids, timeout=240)
    elapsed = time.monotonic() - started

    wrong, distances = [], []
    for entry, job_id in zip(runs, ids):
        record = records[job_id]
        if record["status"] != "COMPLETED":
            wrong.append((entry.name, record["status"], record["error"]))
            continue
        distance, bound = corpus.tvd(record["result"]["counts"], references[entry.name]), corpus.tvd_bound(references[entry.name])
        distances.append((distance, bound))
        if distance > bound:
            wrong.append((entry.name, round(distance, 3), round(bound, 3)))
    worst = max((d / b for d, b in distances), default=0.0)
    mean = sum(d for d, _ in distances) / max(1, len(distances))
    print(f"{provider}/{backend}: {len(runs)} circuits in one request ({elapsed:.1f} s), {len(entries) - len(runs)} refused; mean TVD {mean:.3f}, worst TVD/bound {worst:.2f}")
    assert not wrong, wrong


async def _wait_all(api: Any, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every job's record with its result, once all are terminal (fetched 500 at a time)."""
    deadline = time.monotonic() + timeout
    records: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            status, body = await api.get("jobs", ids=",".join(chunk), include="result", limit=500)
            assert status == 200, body
            records.update({r["id"]: r for r in body["jobs"]})
        if all(records.get(i, {}).get("status") in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN") for i in ids):
            return records
        await asyncio.sleep(0.25)
    pending = [i for i in ids if records.get(i, {}).get("status") not in ("COMPLETED", "FAILED", "CANCELLED", "UNKNOWN")]
    raise AssertionError(f"{len(pending)} of {len(ids)} jobs did not finish in {timeout} s")
