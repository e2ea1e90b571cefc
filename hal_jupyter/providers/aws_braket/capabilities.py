"""What a Braket device can run, read from its properties (``GetDevice``'s
capabilities, or a ``LocalSimulator``'s): its OpenQASM operations, its qubits, and
whether and how large it takes program sets.
"""

from __future__ import annotations

from typing import Any

from ...engine.errors import InvalidRequest
from .convert import qiskit_native

OPENQASM = "braket.ir.openqasm.program"
PROGRAM_SET = "braket.ir.openqasm.program_set"
#: a device's capabilities: its Braket operations, qubits, and program-set limits (most executables, most shots)
Capabilities = tuple[set[str], int | None, tuple[int, int] | None]


def capabilities_of(properties: Any) -> Capabilities:
    """The device's operations, qubits and program-set limits (a 400 for a device that takes no OpenQASM)."""
    from braket.device_schema import DeviceActionType

    ops = operations_of(properties)
    if ops is None:
        raise InvalidRequest(f"the device takes no {OPENQASM} programs")
    program_sets = properties.action.get(PROGRAM_SET) or properties.action.get(DeviceActionType(PROGRAM_SET))
    limits = (program_sets.maximumExecutables, program_sets.maximumTotalShots) if program_sets is not None else None
    return ops, qubits_of(properties), limits


def qubits_of(properties: Any) -> int | None:
    paradigm = getattr(properties, "paradigm", None)
    return getattr(paradigm, "qubitCount", None)


def operations_of(properties: Any) -> set[str] | None:
    """The Braket operations of a device's OpenQASM programs (lower case, but ``U`` and
    ``GPhase``); None for a device that takes none (analog Hamiltonian simulation)."""
    from braket.device_schema import DeviceActionType

    action = properties.action.get(OPENQASM) or properties.action.get(DeviceActionType(OPENQASM))
    if action is None:
        return None
    return {op.lower() if op not in ("U", "GPhase") else op for op in action.supportedOperations}


def basis_of(properties: Any) -> list[str] | None:
    """A listing's ``basis_gates``: the Qiskit gates the HAL converts to the device's
    operations (:data:`.convert.GATES`) and ``measure``; None when it takes none of them."""
    ops = operations_of(properties)
    names = sorted(qiskit_native(ops)) if ops else []
    return [*names, "measure"] if names else None


__all__ = ["OPENQASM", "PROGRAM_SET", "Capabilities", "basis_of", "capabilities_of", "operations_of", "qubits_of"]
