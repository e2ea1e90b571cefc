"""hal_jupyter.qiskit.layout: what a Qiskit result needs from a HAL job, kept in
its tags, and the pure conversions of results (no engine, no simulator)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from hal_jupyter.qiskit.layout import CHUNK, Layout, Register


def _circuit() -> QuantumCircuit:
    """Registers interleaved: ``a`` holds clbits 0 and 2, ``b`` clbit 1 (through a bit list)."""
    q = QuantumRegister(3)
    bits = ClassicalRegister(3, "flat")
    qc = QuantumCircuit(q, bits)
    qc.add_register(ClassicalRegister(name="a", bits=[bits[0], bits[2]]))
    qc.add_register(ClassicalRegister(name="b", bits=[bits[1]]))
    return qc


def test_tags_carry_the_layout_and_read_back_whole_even_in_chunks():
    layout = Layout.of_circuit("estimator", _circuit(), shape=(3, 4), observables_shape=(3, 1), values_shape=(4,), swept=True, precision=0.01)
    tags = layout.tags()
    assert all(len(t) <= 100 for t in tags) and tags[0].startswith("qiskit0:")
    assert Layout.from_tags(["exp-1", *tags, "qiskit-call:abc"]) == layout
    long = Layout.of_circuit("sampler", QuantumCircuit(1, 1, metadata={"note": "x" * 500}))
    chunks = long.tags()
    assert len(chunks) > 1 and all(len(t) <= CHUNK + 10 for t in chunks)
    assert Layout.from_tags(list(reversed(chunks))) == long
    assert Layout.from_tags(["plain", "qiskit0:{not json"]) is None


def test_registers_keep_their_bits_contiguous_or_not():
    layout = Layout.of_circuit("run", _circuit())
    by_name = {r.name: r for r in layout.registers}
    assert by_name["flat"].bits == (0, 1, 2) and by_name["a"].bits == (0, 2) and by_name["b"].bits == (1,)
    assert Register.from_json(by_name["a"].as_json()) == by_name["a"]
    assert layout.header()["creg_sizes"] == [["flat", 3], ["a", 2], ["b", 1]] and layout.header()["memory_slots"] == 3


def test_samples_from_memory_keep_the_shots_and_registers_pick_their_bits():
    layout = Layout.of_circuit("sampler", _circuit(), shape=(2,))
    memory = [["001", "110", "101"], ["011", "000", "100"]]  # clbit 0 rightmost
    samples = layout.samples({"memory": memory}, shots=3)
    assert samples.shape == (2, 3, 3)
    arrays = layout.bit_arrays(samples)
    assert arrays["flat"].get_bitstrings(0) == memory[0] and arrays["flat"].get_bitstrings(1) == memory[1]
    # a = (clbit 2, clbit 0) read as a 2-bit register, bit 0 rightmost; b = clbit 1
    assert arrays["a"].get_bitstrings(0) == ["01", "10", "11"] and arrays["b"].get_bitstrings(1) == ["1", "0", "0"]


def test_samples_from_counts_hold_each_outcome_as_often_as_counted():
    layout = Layout.of_circuit("sampler", _circuit(), shape=(2,))
    counts = [{"000": 5, "111": 3}, {"010": 8}]
    samples = layout.samples({"counts": counts}, shots=8, seed=1)
    flat = layout.bit_arrays(samples)["flat"]
    assert Counter(flat.get_bitstrings(0)) == counts[0] and flat.get_counts(1) == counts[1]
    with pytest.raises(ValueError, match="has 16 shots of 3 bits; expected 14 of 3"):
        layout.samples({"counts": counts}, shots=7)


def test_repeats_of_an_unparametrised_circuit_split_its_shots():
    layout = Layout.of_circuit("sampler", QuantumCircuit(1, 1), shape=(3,), repeats=3)
    samples = layout.samples({"memory": ["0", "1"] * 3}, shots=2)
    assert samples.shape == (3, 2, 1) and layout.bit_arrays(samples)["c"].get_counts(2) == {"0": 1, "1": 1}


def _broadcast_index(index: tuple[int, ...], shape: tuple[int, ...]) -> int:
    """The flat index into an array of ``shape`` that broadcasting reads at ``index`` (right-aligned)."""
    if not shape:
        return 0
    own = tuple(i if d > 1 else 0 for i, d in zip(index[len(index) - len(shape) :], shape))
    return int(np.ravel_multi_index(own, shape))


@pytest.mark.parametrize(
    ("observables", "values", "swept"),
    [((3, 1), (4,), True), ((4,), (4,), True), ((3,), (), False), ((1,), (5,), False)],
    ids=["outer", "zipped", "no-parameters", "repeated-points"],
)
def test_estimates_take_the_broadcast_of_observables_and_points(observables, values, swept):
    k, n = int(np.prod(observables)), int(np.prod(values)) if swept else 1
    grid = np.arange(k * n, dtype=float).reshape(k, n)  # the job's evs[o][p]
    layout = Layout("estimator", shape=np.broadcast_shapes(observables, values), observables_shape=observables, values_shape=values, swept=swept)
    evs, stds = layout.estimates({"evs": grid.tolist() if swept else grid[:, 0].tolist(), "stds": None})
    assert evs.shape == layout.shape and stds.shape == layout.shape and not stds.any()
    for index in np.ndindex(*layout.shape):
        point = _broadcast_index(index, values) if swept else 0
        assert evs[index] == grid[_broadcast_index(index, observables), point], index
