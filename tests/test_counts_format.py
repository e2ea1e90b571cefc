"""Counts keys are the same on every provider: one bitstring per shot, Qiskit's
order (classical bit 0 rightmost), registers side by side without spaces."""

from __future__ import annotations

TWO_REGISTERS = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg a[1];
creg b[2];
x q[0];
x q[2];
measure q[0] -> a[0];
measure q[1] -> b[0];
measure q[2] -> b[1];
"""


async def test_several_registers_give_one_bitstring_without_spaces(api):
    status, record = await api.post("quantum/jobs", {"circuit": TWO_REGISTERS, "shots": 50, "priority": "high"})
    assert status == 201, record
    final = await api.wait(record["id"])
    assert final["status"] == "COMPLETED", final
    result = (await api.get(f"jobs/{record['id']}/result"))[1]
    # b (bits 2..1) = "10", a (bit 0) = "1": the later register to the left, as Qiskit orders them
    assert result["counts"] == {"101": 50}, result


# -- per-shot results (v1.2): memory keyed as the counts are ---------------------------------
async def test_memory_on_the_local_simulator_follows_the_counts_one_list_per_point(api):
    from . import quantum_checks as checks

    await checks.per_shot_memory(api, "local_simulator", None)


async def test_memory_keeps_several_registers_side_by_side(api):
    status, record = await api.post("quantum/jobs", {"circuit": TWO_REGISTERS, "shots": 20, "priority": "high", "memory": True})
    assert status == 201, record
    assert (await api.wait(record["id"]))["status"] == "COMPLETED"
    result = (await api.get(f"jobs/{record['id']}/result"))[1]
    assert result["memory"] == ["101"] * 20 and result["counts"] == {"101": 20}, result


async def test_memory_with_observables_is_a_400(api):
    body = {"circuit": TWO_REGISTERS, "observables": [{"ZZZ": 1.0}], "memory": True}
    status, error = await api.post("quantum/jobs", body)
    assert status == 400 and "memory applies to sampling jobs" in error["message"], error
