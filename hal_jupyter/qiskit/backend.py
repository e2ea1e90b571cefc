"""Qiskit's provider and backend interfaces over the HAL: :class:`HalProvider`
lists a :class:`HalBackend` (a ``qiskit.providers.BackendV2``) per backend of
every available quantum provider, and ``backend.run`` sends its circuits as ONE
bulk request, so they batch into one provider call like any standard jobs.

The jobs are ordinary HAL jobs: owned, listed, in the monitor and the panel,
durable across restarts. Each carries its circuit's classical registers in its
tags (:mod:`.layout`), so that its counts read back as Qiskit's
(``get_counts`` with registers spaced) from any kernel.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from typing import Any

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, Options

from ..engine import errors
from ..engine.limits import MAX_SHOTS
from ..kernel.circuits import Program, to_program
from ..kernel.client import Hal, current
from .jobs import HalJob, HalPrimitiveJob, _Calls, attach
from .layout import Layout

#: the operations of a backend's ``Target`` when its provider names none: what every
#: quantum provider of the HAL takes (it transpiles the rest for the device itself)
DEFAULT_BASIS = ("id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p", "u", "cx", "cz", "swap", "ccx", "measure", "reset")
#: the HAL's request fields a run option may set; any other option goes to the provider's ``options``
REQUEST_FIELDS = ("priority", "name")
#: options Qiskit's own primitives pass with no value (``BackendSamplerV2``'s ``seed_simulator=None``)
_IGNORED_WHEN_NONE = ("seed_simulator",)


class HalProvider:
    """The HAL's quantum backends for Qiskit.

    ``HalProvider()`` uses the HAL client of this kernel (the Jupyter server that
    started it, else an embedded engine: see ``Hal()``); ``HalProvider(hal)``
    shares a client.
    """

    def __init__(self, hal: Hal | None = None) -> None:
        self.hal = hal if hal is not None else current()

    def backends(self, name: str | None = None, provider: str | None = None) -> list[HalBackend]:
        """A backend for each backend of each available quantum provider (or of ``provider``), optionally only ``name``."""
        found = []
        for info in self.hal.providers():
            if info["kind"] != "quantum" or not info["available"] or (provider is not None and info["name"] != provider):
                continue
            try:
                listing = self.hal.backends(info["name"])
            except errors.HalError:
                if provider is not None:
                    raise
                continue  # a provider that cannot list its backends now: the others still can
            found.extend(HalBackend(self, info["name"], b) for b in listing if name is None or b["name"] == name)
        return found

    def get_backend(self, name: str | None = None, provider: str | None = None) -> HalBackend:
        """One backend, by its name (``"aer_simulator"``, or ``"local_simulator/aer_simulator"``) and provider.

        Without a provider the name must be unique among the available ones; without
        a name, the provider's first backend."""
        if name is not None and "/" in name and provider is None:
            provider, name = name.split("/", 1)
        found = self.backends(name, provider)
        where = f" of {provider}" if provider else ""
        if not found:
            known = ", ".join(b.name for b in self.backends(provider=provider)) or "none"
            raise errors.BackendNotFound(f"no backend {name!r}{where} (available: {known})" if name else f"no backend{where} is available")
        if name is not None and len(found) > 1:
            raise errors.InvalidRequest(f"{name!r} is a backend of {', '.join(b.provider_name for b in found)}: say which with provider=")
        return found[0]

    def job(self, job_id: str) -> HalJob | HalPrimitiveJob:
        """The job (of ``backend.run``, a ``HalSampler`` or a ``HalEstimator``) that ``job_id()`` named, in any kernel."""
        return attach(self.hal, job_id)

    def __repr__(self) -> str:
        return f"<HalProvider: {self.hal.transport.description}>"


class HalBackend(BackendV2):
    """A backend of a HAL provider as a Qiskit ``BackendV2``.

    ``name`` is ``"provider/backend"``; ``target`` holds its qubits, and its
    operations and coupling map where the provider gives them (else a generic
    basis: the HAL transpiles for the device at submission). ``run`` takes
    bound circuits and the options ``shots``, ``memory`` (per-shot bitstrings,
    ``get_memory``), ``priority``, ``name``, ``tags``; any other option is the
    provider's (its ``options`` in the HAL request, checked there).
    """

    def __init__(self, provider: HalProvider, provider_name: str, info: dict[str, Any]) -> None:
        super().__init__(provider=provider, name=f"{provider_name}/{info['name']}", description=f"{info['name']} of {provider_name}, through the HAL", backend_version="hal")
        self.hal = provider.hal
        self.provider_name = provider_name
        self.backend_name: str = info["name"]
        self.info = info
        self._target: Any = None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, memory=False, priority="standard", tags=[])

    @property
    def target(self) -> Any:
        if self._target is None:
            self._target = make_target(self.info.get("num_qubits"), self.info.get("basis_gates"), self.info.get("coupling_map"))
        return self._target

    @property
    def max_circuits(self) -> None:
        return None  # the HAL splits a batch at the provider's own limit

    @property
    def simulator(self) -> bool:
        return bool(self.info.get("simulator"))

    def run(self, run_input: QuantumCircuit | Iterable[QuantumCircuit], **options: Any) -> HalJob:
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        for circuit in circuits:
            if not isinstance(circuit, QuantumCircuit):
                raise errors.InvalidRequest(f"backend.run takes QuantumCircuits, not {type(circuit).__name__}")
            if circuit.parameters:
                raise errors.InvalidRequest(f"the circuit {circuit.name!r} has unbound parameters ({', '.join(p.name for p in circuit.parameters)}): assign them, or use HalSampler")
        settings = {**self.options.__dict__, **options}
        shots, memory = settings.pop("shots"), bool(settings.pop("memory"))
        fields = self.request_fields(settings)
        programs: dict[int, Program] = {}
        layouts = [Layout.of_circuit("run", c) for c in circuits]
        requests = [
            {**fields, "circuit": program_of(c, programs).text, "shots": shots, "memory": memory, "name": fields.get("name") or c.name[:200], "tags": [*layout.tags(), *fields["tags"]]}
            for c, layout in zip(circuits, layouts)
        ]
        jobs = self.hal.submit_many("quantum", requests)
        return HalJob(self, _Calls(self.hal, jobs, layouts), self.name)

    def request_fields(self, settings: dict[str, Any]) -> dict[str, Any]:
        """What every request of a call shares: provider, backend, priority, a tag
        naming the call, and the provider options among ``settings``."""
        tags = list(settings.pop("tags", None) or [])
        fields: dict[str, Any] = {"provider": self.provider_name, "backend": self.backend_name}
        for key in REQUEST_FIELDS:
            if settings.get(key) is not None:
                fields[key] = settings.pop(key)
            settings.pop(key, None)
        provider_options = {k: v for k, v in settings.items() if not (k in _IGNORED_WHEN_NONE and v is None)}
        if provider_options:
            fields["options"] = provider_options
        fields["tags"] = [f"qiskit-call:{uuid.uuid4().hex[:12]}", *tags]
        return fields

    def submit_calls(self, requests: list[dict[str, Any]], layouts: list[Layout], kind: str, shots: list[int]) -> HalPrimitiveJob:
        jobs = self.hal.submit_many("quantum", requests)
        return HalPrimitiveJob(_Calls(self.hal, jobs, layouts), kind, shots)

    def __repr__(self) -> str:
        return f"<HalBackend {self.name}>"


def program_of(circuit: QuantumCircuit, programs: dict[int, Program]) -> Program:
    """The circuit's OpenQASM (once per circuit object in a call: PUBs often share one)."""
    program = programs.get(id(circuit))
    if program is None:
        program = programs[id(circuit)] = to_program(circuit)
    return program


def make_target(num_qubits: int | None, basis_gates: list[str] | None = None, coupling_map: list[list[int]] | None = None) -> Any:
    """A ``Target`` of ``num_qubits`` qubits from what a provider lists.

    Its operations: the names of ``basis_gates`` Qiskit knows (its standard gates,
    ``measure``, ``reset``, ``delay``, and control flow: ``if_else``, ``for_loop``,
    ``while_loop``, ``switch_case``, ``box``), others left out (``barrier``, a
    vendor's own names); :data:`DEFAULT_BASIS` when no gate remains; ``measure``
    always (every job of the HAL measures). Its couplings: the pairs of
    ``coupling_map`` within its qubits (others ignored), its two-qubit gates on
    those pairs only and gates on three qubits or more left out; none: every pair.
    """
    from qiskit.circuit import Gate
    from qiskit.circuit.controlflow import get_control_flow_name_mapping
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.transpiler import CouplingMap, Target

    if not num_qubits:
        return Target(num_qubits=0)
    edges = list(dict.fromkeys(tuple(pair) for pair in coupling_map or () if _is_edge(pair, num_qubits)))
    control_flow = get_control_flow_name_mapping()
    known = {**get_standard_gate_name_mapping(), **control_flow}

    def usable(name: Any) -> bool:
        operation = known.get(name) if isinstance(name, str) else None
        if operation is None:
            return False
        # on a coupling map Target.from_configuration places operations of 1 or 2 qubits only
        # (control flow, a class, is global); without one every operation is global
        return not edges or isinstance(operation, type) or operation.num_qubits in (1, 2)

    names = [name for name in dict.fromkeys(basis_gates or ()) if usable(name)]
    if not any(isinstance(known[name], Gate) and known[name].num_qubits > 0 for name in names):
        names = [name for name in DEFAULT_BASIS if usable(name)]
    if "measure" not in names:
        names.append("measure")
    coupling = CouplingMap([list(edge) for edge in edges]) if edges else None
    return Target.from_configuration(basis_gates=names, num_qubits=num_qubits, coupling_map=coupling, custom_name_mapping=control_flow)


def _is_edge(pair: Any, num_qubits: int) -> bool:
    """A pair of two distinct qubits among the first ``num_qubits``."""
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return False
    if not all(isinstance(q, int) and not isinstance(q, bool) and 0 <= q < num_qubits for q in pair):
        return False
    return pair[0] != pair[1]


def shots_for(precision: float) -> int:
    """Shots that give one Pauli term a standard error of at most ``precision`` (capped at the HAL's limit)."""
    return max(1, min(MAX_SHOTS, math.ceil(precision**-2)))
