"""``make_target``: a backend's Qiskit ``Target`` from its provider's listing
(``basis_gates``, ``coupling_map``), whatever names and pairs the provider gives."""

from __future__ import annotations

import pytest

pytest.importorskip("qiskit")

from qiskit import QuantumCircuit, transpile  # noqa: E402

from hal_jupyter.qiskit.backend import DEFAULT_BASIS, make_target  # noqa: E402

#: an IBM Eagle's operations (as ibm_quantum lists them) and a 5-qubit line of directed ECR pairs
IBM_BASIS = ["delay", "ecr", "for_loop", "id", "if_else", "measure", "reset", "rz", "switch_case", "sx", "x"]
IBM_EDGES = [[0, 1], [2, 1], [2, 3], [4, 3]]


def test_names_qiskit_does_not_know_are_left_out():
    target = make_target(5, [*IBM_BASIS, "barrier", "measure_2", "gpi2", "while_loop", "box", "ecr", 7], IBM_EDGES)
    assert set(target.operation_names) == {*IBM_BASIS, "while_loop", "box"}


def test_pairs_beyond_the_qubits_and_malformed_ones_are_ignored():
    target = make_target(5, IBM_BASIS, [*IBM_EDGES, [4, 5], [7, 0], [-1, 2], [3, 3], [1], [True, 0], [0, 1]])
    assert sorted(target.build_coupling_map().get_edges()) == sorted(map(tuple, IBM_EDGES))
    assert target.num_qubits == 5
    # no pair left: every pair
    assert make_target(3, ["cx", "rz", "sx"], [[5, 6]]).build_coupling_map() is None


def test_the_default_basis_when_the_provider_names_no_gate_qiskit_knows():
    assert set(make_target(4).operation_names) == set(DEFAULT_BASIS)
    assert set(make_target(4, ["gpi", "gpi2", "ms", "measure"]).operation_names) == set(DEFAULT_BASIS)
    assert set(make_target(4, []).operation_names) == set(DEFAULT_BASIS)
    # on a coupling map, gates of three qubits (ccx) cannot be placed: left out
    assert set(make_target(4, None, [[0, 1], [1, 2]]).operation_names) == set(DEFAULT_BASIS) - {"ccx"}
    # measure always: every job of the HAL measures
    assert "measure" in make_target(2, ["rz", "sx", "cz"]).operation_names
    assert make_target(0).num_qubits == 0 and make_target(None).num_qubits == 0


def test_transpiling_for_the_target_uses_its_gates_on_its_pairs():
    target = make_target(5, IBM_BASIS, IBM_EDGES)
    circuit = QuantumCircuit(5, 5)
    circuit.h(0)
    for k in range(1, 5):
        circuit.cx(0, k)
    circuit.ccx(4, 2, 0)
    circuit.swap(1, 3)
    circuit.measure(range(5), range(5))
    out = transpile(circuit, target=target, seed_transpiler=7)
    assert set(out.count_ops()) <= set(IBM_BASIS) | {"barrier"}, out.count_ops()
    allowed = set(map(tuple, IBM_EDGES))
    for instruction in out.data:
        if len(instruction.qubits) == 2:
            pair = tuple(out.find_bit(q).index for q in instruction.qubits)
            assert instruction.operation.name == "ecr" and pair in allowed, (instruction.operation.name, pair)
