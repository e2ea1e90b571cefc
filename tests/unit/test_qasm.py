"""OpenQASM parsing at submission: the fast paths give what the reference parsers give."""

from __future__ import annotations

import pytest
from qiskit import qasm3
from qiskit.quantum_info import Operator

from hal_jupyter.engine import qasm
from hal_jupyter.engine.errors import InvalidCircuit

PROGRAMS_3 = {
    "bell": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n',
    "registers and angles": (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] a;\nbit[3] b;\n'
        "ry(0.7853981633974483) a[0];\nrz(-1.5) a[1];\ncrx(0.3) a[0], a[2];\np(0.2) a[1];\nswap a[0], a[2];\nb = measure a;\n"
    ),
    "bits one by one": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nsx q[1];\ncz q[1], q[0];\nc[0] = measure q[0];\nc[1] = measure q[1];\n',
}
#: what the native importer does not take (yet): the reference importer parses these
LACKING_3 = {
    "an input parameter": 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc = measure q;\n',
    "a gate of its own": (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ngate pair(t) x, y { ry(t) x; cx x, y; }\n'
        "qubit[2] q;\nbit[2] c;\npair(0.7) q[0], q[1];\nc = measure q;\n"
    ),
    "arithmetic in an angle": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\nry(0.25*pi) q[0];\nc = measure q;\n',
}


@pytest.mark.parametrize("name", sorted(PROGRAMS_3))
def test_the_native_openqasm3_importer_gives_the_reference_importers_circuit(name):
    source = PROGRAMS_3[name]
    native, reference = qasm._parse_qasm3_natively(source), qasm3.loads(source)
    assert native is not None
    assert (native.num_qubits, native.num_clbits) == (reference.num_qubits, reference.num_clbits)
    assert native.count_ops() == reference.count_ops()
    assert Operator(native.remove_final_measurements(inplace=False)).equiv(Operator(reference.remove_final_measurements(inplace=False)))


@pytest.mark.parametrize("name", sorted(LACKING_3))
def test_what_the_native_importer_lacks_goes_to_the_reference_importer(name):
    source = LACKING_3[name]
    assert qasm._parse_qasm3_natively(source) is None
    assert qasm.parse_circuit(source).count_ops() == qasm3.loads(source).count_ops()


def test_an_invalid_openqasm3_program_is_worded_by_the_reference_importer():
    with pytest.raises(InvalidCircuit) as caught:
        qasm.parse_circuit('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nfoo q[0];\n')
    assert "foo" in caught.value.message


@pytest.mark.parametrize(
    "source, summary",
    [
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\nqreg r[2];\ncreg c[4];\nh q[0];\nmeasure q[0] -> c[0];\n', (5, 4, True)),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\n// qreg fake[9]; creg x[3]; measure\nx q[1];\n', (2, 0, False)),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nif(c==1) measure q[0] -> c[0];\n', (1, 1, True)),
    ],
)
def test_an_openqasm2_summary_counts_what_the_circuit_declares_and_whether_it_measures(source, summary):
    found = qasm.inspect_circuit(source)
    assert (found.num_qubits, found.num_clbits, found.measures) == summary


def test_brackets_nested_too_deep_are_refused_with_where():
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrz(' + "(" * 70 + "1" + ")" * 70 + ") q[0];\n"
    with pytest.raises(InvalidCircuit) as caught:
        qasm.inspect_circuit(source)
    assert "nested more than 64" in caught.value.message and "line 4" in caught.value.message
    fine = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrz(' + "(" * 60 + "1" + ")" * 60 + ") q[0];\n"
    assert qasm.inspect_circuit(fine).num_qubits == 1


@pytest.mark.parametrize(
    "source",
    [
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[6000] q;\nbit[6000] c;\n',
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[6000];\ncreg c[6000];\n',
    ],
)
def test_declarations_past_the_limit_are_refused_where_the_limit_is_passed(source):
    with pytest.raises(InvalidCircuit) as caught:
        qasm.inspect_circuit(source)
    assert "more than 10000 qubits and bits" in caught.value.message and "line 4" in caught.value.message


def test_names_that_contain_keywords_are_not_declarations():
    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg xcreg[2];\ncreg c[1];\ngate mymeasure a { x a; }\nmymeasure xcreg[0];\n'
    found = qasm.inspect_circuit(source)
    assert (found.num_qubits, found.num_clbits, found.measures) == (2, 1, False)
