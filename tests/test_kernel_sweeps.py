"""Parameter sweeps and expectation values from the kernel (API v1.1): what the
client turns Qiskit and Braket objects into, the magics' options, the display of
sweep results, and (tests named ``end_to_end``) whole jobs on an embedded engine's
``local_simulator``; ``-k "not end_to_end"`` runs the conversions alone."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Pauli, SparsePauliOp, Statevector

from hal_jupyter import Hal
from hal_jupyter.engine import sweeps
from hal_jupyter.engine.errors import InvalidRequest
from hal_jupyter.engine.qasm import parse_circuit
from hal_jupyter.kernel import display
from hal_jupyter.kernel.circuits import request_fields, to_observables, to_program
from hal_jupyter.kernel.client import QuantumJobResult

from .server_process import ServerProcess
from .test_magics import ip  # noqa: F401 - the IPython shell fixture

ANGLES = np.linspace(0.0, np.pi, 7)
ONE_QUBIT = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
bit[1] c;
rx(theta) q[0];
c[0] = measure q[0];
"""


def _points(html: str) -> int:
    return html.count('class="hal-point"')


def _server_names(text: str) -> list[str]:
    """The parameter names the server reads from the text."""
    return sweeps.circuit_parameter_names(parse_circuit(text))


def _canonical(observables, num_qubits: int):
    """The server's canonical form of a request's observables (sparse terms by qubit index)."""
    return sweeps.check(None, observables, None, [], num_qubits).observables


# -- Qiskit parameters ---------------------------------------------------------------------
@pytest.fixture
def awkward():
    """A circuit whose parameter names OpenQASM 3 cannot declare as they are."""
    theta, greek, vector, keyword = Parameter("theta"), Parameter("θ"), ParameterVector("φ", 3), Parameter("input")
    qc = QuantumCircuit(2)
    qc.rx(greek, 0)
    qc.ry(vector[0] + 2 * theta, 1)
    qc.rz(vector[2], 0)
    qc.rz(keyword, 1)
    qc.measure_all()
    return qc, theta, greek, vector, keyword


def test_qiskit_parameters_get_readable_names_the_server_reads_back(awkward):
    qc, *_ = awkward
    program = to_program(qc)
    assert program.text.startswith("OPENQASM 3.0;")
    assert sorted(_server_names(program.text)) == ["input_0", "phi_0", "phi_2", "theta", "theta_1"]
    # the user's names (and the new ones) lead to the declared names
    assert program.names["θ"] == "theta_1" and program.names["theta"] == "theta"
    assert program.names["φ[0]"] == "phi_0" and program.names["input"] == "input_0"
    assert program.vectors == {"φ": ["phi_0", None, "phi_2"]}


def test_parameter_keys_may_be_objects_vectors_or_names_and_values_arrays_lists_or_numbers(awkward):
    qc, theta, greek, vector, keyword = awkward
    grid = np.arange(12, dtype=np.int64).reshape(4, 3)  # 4 points x the vector's 3 elements
    fields = request_fields(qc, {greek: np.linspace(0, 1, 4), vector: grid, "theta": [1, 2, 3, 4], keyword: 0.5})
    assert fields["parameters"] == {
        "theta_1": [0.0, 1 / 3, 2 / 3, 1.0],
        "phi_0": [0.0, 3.0, 6.0, 9.0],  # column 0; φ[1] is not in the circuit
        "phi_2": [2.0, 5.0, 8.0, 11.0],
        "theta": [1.0, 2.0, 3.0, 4.0],
        "input_0": [0.5],
    }
    assert set(fields["parameters"]) == set(_server_names(fields["circuit"]))
    assert all(type(v) is float for values in fields["parameters"].values() for v in values)  # JSON-ready
    by_name = request_fields(qc, {"θ": [0.1], "φ": [[1, 2, 3]], "theta_1": [0.2], "φ[2]": [9]})["parameters"]
    assert by_name == {"theta_1": [0.2], "phi_0": [1.0], "phi_2": [9.0]}


@pytest.mark.parametrize(
    "parameters,message",
    [
        ({"nope": [1]}, "'nope' is not a parameter of the circuit"),
        ({"θ": [[1, 2], [3, 4]]}, "not an array of shape (2, 2)"),
        ({"φ": [[1, 2]]}, "a ParameterVector of 3 takes a 2-D array of points x 3"),
        ({"θ": ["a", "b"]}, "must be numbers"),
        ([1, 2], "parameters must be a dict"),
    ],
)
def test_wrong_parameters_say_what_is_wrong(awkward, parameters, message):
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        request_fields(awkward[0], parameters)


def test_parameters_of_qasm_text_keep_their_names():
    fields = request_fields(ONE_QUBIT, {Parameter("theta"): np.float32(0.5)})
    assert fields == {"circuit": ONE_QUBIT, "parameters": {"theta": [0.5]}}


# -- Braket circuits -----------------------------------------------------------------------
def test_a_braket_circuit_with_free_parameters_is_openqasm_3_with_inputs():
    braket = pytest.importorskip("braket.circuits")
    theta, clash = braket.FreeParameter("theta"), braket.FreeParameter("rx")
    circuit = braket.Circuit().rx(1, 2 * theta).ry(3, clash).cphaseshift(1, 3, theta / 2).vi(1)
    program = to_program(circuit)
    assert "input float[64] theta;" in program.text and "rx(2*theta) q[0];" in program.text
    assert "cp(theta/2) q[0], q[1];" in program.text and "inv @ sx q[0];" in program.text
    assert sorted(_server_names(program.text)) == ["rx_1", "theta"]  # a parameter named like a gate is renamed
    assert request_fields(circuit, {theta: [0.1], "rx": 1})["parameters"] == {"theta": [0.1], "rx_1": [1.0]}
    # without free parameters the text stays OpenQASM 2
    assert to_program(braket.Circuit().h(0)).text.startswith("OPENQASM 2.0;")


# -- observables ---------------------------------------------------------------------------
def test_qiskit_labels_name_qubit_0_rightmost_and_become_sparse_terms():
    assert to_observables(SparsePauliOp("XZ")) == [[["ZX", [0, 1], 1.0]]]  # Z on qubit 0, X on qubit 1
    assert _canonical(to_observables(SparsePauliOp("XZ")), 2) == _canonical([{"XZ": 1.0}], 2)
    assert to_observables([Pauli("-YI"), SparsePauliOp.from_list([("ZZ", 2.0), ("XI", -0.5)])]) == [
        [["Y", [1], -1.0]],
        [["ZZ", [0, 1], 2.0], ["X", [1], -0.5]],
    ]
    # a narrower operator acts on the first qubits of a wider circuit
    assert _canonical(to_observables(SparsePauliOp("Z")), 3) == _canonical([[["Z", [0], 1.0]]], 3)


def test_braket_pauli_strings_name_qubit_0_leftmost():
    braket = pytest.importorskip("braket.circuits")
    from braket.quantum_information import PauliString

    z0x1 = _canonical([{"XZ": 1.0}], 2)  # Qiskit's label: Z on qubit 0, X on qubit 1
    assert to_observables(PauliString("+ZX")) == [[["ZX", [0, 1], 1.0]]]
    assert _canonical(to_observables(PauliString("+ZX")), 2) == z0x1
    assert _canonical(to_observables(braket.observables.Z(0) @ braket.observables.X(1)), 2) == z0x1
    assert to_observables(PauliString("-IZ")) == [[["Z", [1], -1.0]]]


def test_braket_sums_and_targets_follow_the_circuits_qubits():
    braket = pytest.importorskip("braket.circuits")
    o = braket.observables
    circuit = braket.Circuit().h(1).cnot(1, 3)  # its qubits 1 and 3 are q[0] and q[1] in the text
    fields = request_fields(circuit, observables=[2 * o.Z(1) @ o.Z(3) - 0.5 * o.X(3), o.Z() @ o.X()])
    assert fields["observables"] == [[["ZZ", [0, 1], 2.0], ["X", [1], -0.5]], [["ZX", [0, 1], 1.0]]]
    with pytest.raises(InvalidRequest, match="qubit 2, which the Braket circuit does not use"):
        request_fields(circuit, observables=o.Z(2))


def test_json_observables_pass_with_numpy_numbers_made_plain():
    observables = to_observables(["ZZ", {"XI": np.float64(-0.5)}, [["Z", np.array([0]), np.complex128(2)]]])
    assert observables == ["ZZ", {"XI": -0.5}, [["Z", [0], 2.0]]]
    json.dumps(observables)


@pytest.mark.parametrize(
    "observable,message",
    [
        (SparsePauliOp(["XZ"], [1j]), "the coefficient 1j is not real"),
        (Pauli("iXZ"), "not real"),
        ({"ZZ": 1 + 1e-3j}, "not real"),
        (3, "cannot use a value of type int as an observable"),
    ],
)
def test_observables_that_are_not_hermitian_pauli_sums_are_refused(observable, message):
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        to_observables(observable)


def test_a_braket_observable_that_is_no_pauli_product_is_refused():
    braket = pytest.importorskip("braket.circuits")
    with pytest.raises(InvalidRequest, match="the Braket observable H is not a Pauli product"):
        to_observables(braket.observables.H(0))


def test_sparse_terms_mean_the_same_operator_as_the_qiskit_one():
    """Qiskit's expectation value of each operator equals that of the server's Pauli form of it."""
    state = Statevector.from_label("+01")  # qubit 0: |1>, qubit 1: |0>, qubit 2: |+>
    for operator in [SparsePauliOp("ZII"), SparsePauliOp("IIZ"), SparsePauliOp.from_list([("XZI", 0.5), ("IZZ", 2.0)])]:
        sweep = sweeps.check(None, to_observables(operator), None, [], 3)
        assert np.isclose(state.expectation_value(sweep.sparse_pauli_ops(3)[0]), state.expectation_value(operator))


# -- results and their display --------------------------------------------------------------
SWEEP_ESTIMATE = {
    "id": "j1", "backend": "aer_simulator", "shots": 100, "parameters": {"theta": list(ANGLES)},
    "evs": [list(np.cos(ANGLES)), list(np.sin(ANGLES))], "stds": [[0.01] * 7, [0.02] * 7],
}
SWEEP_COUNTS = {
    "id": "j2", "backend": "aer_simulator", "shots": 10, "parameters": {"theta": [0.0, 1.0, 2.0], "phi": [0.0, 0.0, 1.0]},
    "counts": [{"0": 10}, {"0": 5, "1": 5}, {"1": 10}],
}


def test_a_result_has_numpy_estimates_and_stays_json():
    result = QuantumJobResult.model_validate(SWEEP_ESTIMATE)
    assert isinstance(result.evs, np.ndarray) and result.evs.shape == (2, 7) and result.stds.shape == (2, 7)
    assert np.allclose(result.evs[0], np.cos(ANGLES))
    assert result.model_dump()["evs"] == SWEEP_ESTIMATE["evs"]
    assert result == QuantumJobResult.model_validate(SWEEP_ESTIMATE) != QuantumJobResult.model_validate(SWEEP_COUNTS)
    assert json.loads(result.model_dump_json())["stds"][1][0] == 0.02
    plain = QuantumJobResult.model_validate({"id": "j", "backend": None, "shots": 5, "evs": [0.5], "stds": [0.1]})
    assert plain.evs.shape == (1,)
    sampled = QuantumJobResult.model_validate(SWEEP_COUNTS)
    assert sampled.counts[2] == {"1": 10} and sampled.evs is None


def test_an_estimate_sweep_is_plotted_with_a_point_per_value_and_observable():
    html = QuantumJobResult.model_validate(SWEEP_ESTIMATE)._repr_html_()
    assert html.count("<svg") == 1 and _points(html) == 2 * len(ANGLES)
    assert "observable 1" in html and "theta" in html and "aer_simulator" in html


def test_an_estimate_without_parameters_is_a_table():
    html = display.quantum_result({"evs": [0.25, -1.0], "stds": [0.01, 0.0]})
    assert "<svg" not in html and "0.25" in html and "observable 1" in html and "&plusmn;" in html


def test_a_sampling_sweep_plots_probabilities_and_shows_one_points_counts():
    html = display.quantum_result(SWEEP_COUNTS, point=1)
    assert _points(html) == 2 * 3  # the outcomes 0 and 1 at 3 points
    assert "point 1 of 3: theta=1, phi=0" in html and "hal-histogram" in html
    assert "also swept: phi" in html
    assert "point 0 of 3" in QuantumJobResult.model_validate(SWEEP_COUNTS)._repr_html_()


def test_a_long_sweep_is_a_line_without_markers():
    xs = list(np.linspace(0, 1, display.MAX_MARKERS + 1))
    html = display.estimates([xs], None, {"<t>": xs})
    assert "<polyline" in html and _points(html) == 0 and "&lt;t&gt;" in html


# -- end to end: an embedded engine's local_simulator ----------------------------------------
@pytest.fixture
def hal(tmp_path):
    client = Hal(embedded=True, db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.1)
    yield client
    client.close()


def _rx_circuit(parameter) -> QuantumCircuit:
    qc = QuantumCircuit(1)
    qc.rx(parameter, 0)
    qc.measure_all()
    return qc


def test_end_to_end_cos_theta_sweep_of_z(hal):
    theta = Parameter("θ")
    job = hal.submit_quantum(_rx_circuit(theta), observables=[SparsePauliOp("Z")], parameters={theta: ANGLES}, shots=4000, priority="high")
    result = job.result(timeout=60)
    assert result.evs.shape == (1, len(ANGLES)) and result.stds.shape == (1, len(ANGLES))
    assert np.allclose(result.evs[0], np.cos(ANGLES), atol=0.05)
    assert result.parameters == {"theta": pytest.approx(list(ANGLES))}
    assert _points(result._repr_html_()) == len(ANGLES)


def test_end_to_end_sampling_sweep_has_counts_per_point(hal):
    theta = Parameter("theta")
    result = hal.submit_quantum(_rx_circuit(theta), parameters={theta: [0.0, np.pi]}, shots=200, priority="high").result(timeout=60)
    assert result.counts[0] == {"0": 200} and result.counts[1] == {"1": 200}
    assert result.evs is None


def test_end_to_end_parameter_vector_and_braket_observables(hal):
    braket = pytest.importorskip("braket.circuits")
    from braket.quantum_information import PauliString

    angles = ParameterVector("a", 2)
    qc = QuantumCircuit(2)
    qc.rx(angles[0], 0)
    qc.rx(angles[1], 1)
    points = np.array([[np.pi, 0.0], [0.0, np.pi]])  # |01> then |10> (qubit 0 rightmost)
    observables = [PauliString("+ZI"), braket.observables.Z(1), SparsePauliOp("ZI")]
    result = hal.submit_quantum(qc, parameters={angles: points}, observables=observables, priority="high").result(timeout=60)
    # Z on qubit 0 (Braket's leftmost, Qiskit's rightmost), Z on qubit 1, Z on qubit 1
    assert np.allclose(result.evs, [[-1, 1], [1, -1], [1, -1]], atol=0.05)


def test_end_to_end_braket_circuit_with_a_free_parameter(hal):
    braket = pytest.importorskip("braket.circuits")
    theta = braket.FreeParameter("theta")
    circuit = braket.Circuit().rx(0, 2 * theta).cnot(0, 1)
    result = hal.submit_quantum(circuit, parameters={theta: ANGLES / 2}, observables=braket.observables.Z(0) @ braket.observables.Z(1), priority="high").result(timeout=60)
    assert np.allclose(result.evs[0], 1.0, atol=0.05)  # a Bell-like pair always agrees
    counts = hal.submit_quantum(circuit, parameters={"theta": [np.pi / 2]}, shots=100, priority="high").result(timeout=60).counts
    assert counts[0] == {"11": 100}


def test_end_to_end_monitor_of_a_sampling_sweep_chooses_the_point(hal):
    theta = Parameter("theta")
    job = hal.submit_quantum(_rx_circuit(theta), parameters={theta: [0.0, np.pi, 0.0]}, shots=50, priority="high")
    job.result(timeout=60)
    monitor = job.monitor()
    try:
        row = monitor._rows[job.id]
        assert row.point.layout.display != "none" and row.point.max == 2
        assert "<svg" in row.detail.value and "point 0 of 3" in row.detail.value and ">0<" in row.detail.value
        row.point.value = 1
        assert "point 1 of 3: theta=3.142" in row.detail.value and ">1<" in row.detail.value
    finally:
        monitor.close()


def test_end_to_end_monitor_of_an_estimate_sweep_plots_it(hal):
    theta = Parameter("theta")
    job = hal.submit_quantum(_rx_circuit(theta), parameters={theta: ANGLES}, observables="Z", priority="high")
    job.result(timeout=60)
    monitor = job.monitor()
    try:
        row = monitor._rows[job.id]
        assert _points(row.detail.value) == len(ANGLES) and row.point.layout.display == "none"
    finally:
        monitor.close()


def test_end_to_end_sweep_over_rest_and_its_monitor_holds_no_credential(tmp_path):
    server = ServerProcess(tmp_path, token="secret-token-canary", db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", batch_window_s=0.2)
    server.start()
    try:
        hal = Hal(server.url + "/", server.token)
        theta = Parameter("θ")
        estimate = hal.submit_quantum(_rx_circuit(theta), parameters={theta: ANGLES}, observables=SparsePauliOp("Z"))
        sampled = hal.submit_quantum(_rx_circuit(theta), parameters={"θ": [0.0, np.pi]}, shots=30)
        first, second = hal.results([estimate, sampled], timeout=60)
        assert np.allclose(first.evs[0], np.cos(ANGLES), atol=0.05) and second.counts == [{"0": 30}, {"1": 30}]
        monitor = hal.monitor([estimate, sampled])
        states = json.dumps([w.get_state() for w in _all_widgets(monitor)], default=str)
        assert server.token not in states and "token" not in states.lower()
        assert "<svg" in monitor._rows[estimate.id].detail.value and monitor._rows[sampled.id].point.max == 1
        monitor.close()
        hal.close()
    finally:
        server.stop()


def _all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all_widgets(child)


# -- magics --------------------------------------------------------------------------------
def test_end_to_end_quantum_cell_with_json_parameters_and_observables(ip):
    line = """quantum --wait --priority high --out r --parameters '{"theta": [0, 3.141592653589793]}' --observables '["Z", {"Z": -2}]'"""
    with capture_output() as captured:
        ip.run_cell_magic("hal", line, ONE_QUBIT)
    assert np.allclose(ip.user_ns["r"].evs, [[1, -1], [-2, 2]], atol=0.05)
    assert "<svg" in captured.outputs[-1].data["text/html"]


def test_end_to_end_submit_with_variables_holding_numpy_and_qiskit_objects(ip):
    theta = Parameter("θ")
    ip.user_ns.update(qc=_rx_circuit(theta), values={theta: np.array([0.0, np.pi])}, obs=SparsePauliOp("Z"))
    ip.run_line_magic("hal", "submit qc --wait --priority high --out r --parameters $values --observables $obs --precision 0.01")
    assert np.allclose(ip.user_ns["r"].evs, [[1, -1]], atol=0.05)
    ip.run_line_magic("hal", "submit qc --wait --priority high --shots 20 --out s --parameters $values")
    assert ip.user_ns["s"].counts == [{"0": 20}, {"1": 20}]


@pytest.mark.parametrize(
    "options,message",
    [
        ("--parameters '{theta: [0]}'", "--parameters is not valid JSON: Expecting property name"),
        ("--observables '[\"Z\"'", "--observables is not valid JSON"),
        ("--parameters '[0, 1]'", "--parameters must be a JSON object of name -> values"),
        ("--parameters $missing", "--parameters $missing: no variable named 'missing'"),
        ("--observables '[\"Q\"]' --parameters '{\"theta\": [0]}'", "a Pauli label is made of I, X, Y and Z"),
        ("--parameters '{\"phi\": [0]}'", "phi is not a parameter of the circuit"),
        ("--precision 0.1 --parameters '{\"theta\": [0]}'", "precision is for estimation jobs"),
    ],
)
def test_wrong_sweep_options_are_one_line_usage_errors(ip, options, message):
    with pytest.raises(UsageError) as error:
        ip.run_cell_magic("hal", f"quantum {options}", ONE_QUBIT)
    assert message in str(error.value) and "\n" not in str(error.value).strip()
