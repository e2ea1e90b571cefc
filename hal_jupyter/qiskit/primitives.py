"""Qiskit's V2 primitives over the HAL: :class:`HalSampler` (``BaseSamplerV2``)
and :class:`HalEstimator` (``BaseEstimatorV2``) on a :class:`.HalBackend`.

Each PUB of a ``run`` is one HAL job: a sweep over its parameter values (the
values of every point, flattened in the PUB's shape) and, for an estimate, its
observables. The jobs of a run go in ONE bulk request, so they batch into one
provider call (one Runtime Sampler or Estimator job, one Braket program set,
one Aer run). Results are read back into Qiskit's containers by :mod:`.layout`:

- a sampler's ``BitArray`` per classical register comes from the shots' own
  bitstrings (the request's ``memory``) where the provider returns them, else
  from counts, in a random order (counts keep none);
- an estimate's job computes every observable at every point of the PUB (the
  HAL's ``evs`` of shape [observables][points]); the PUB's broadcast of the two
  picks from that grid, so ``evs`` and ``stds`` have the broadcast shape;
- ``precision`` is the HAL's, and becomes shots (``1/precision**2``) where the
  provider samples.

Latency: standard jobs wait for the batch window (``batch_window_s``, 1 s by
default) so that other work may join their provider call; a loop of small
runs (an optimiser's) goes faster with ``options={"priority": "high"}``, each
PUB then sent at once, alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub, EstimatorPubLike
from qiskit.primitives.containers.sampler_pub import SamplerPub, SamplerPubLike

from ..engine import errors
from ..kernel.circuits import Program, to_observables
from .backend import HalBackend, program_of, shots_for
from .jobs import HalPrimitiveJob
from .layout import Layout

_PAULI = frozenset("IXYZ")
#: a precision of 0 asks for exact values: the local simulator computes them; providers that
#: sample take the shots of this precision
EXACT_SHOTS_PRECISION = 0.015625


@dataclass
class SamplerOptions:
    """``default_shots``: shots of a PUB that names none; ``memory``: ask the provider for
    each shot's bitstring (``None``: where it has them, else draw from counts);
    ``priority``, ``tags``: of the HAL jobs; ``provider_options``: the request's ``options``."""

    default_shots: int = 1024
    memory: bool | None = None
    priority: str = "standard"
    tags: list[str] = field(default_factory=list)
    provider_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class EstimatorOptions:
    """``default_precision``: the target standard error of a PUB that names none."""

    default_precision: float = 0.015625
    priority: str = "standard"
    tags: list[str] = field(default_factory=list)
    provider_options: dict[str, Any] = field(default_factory=dict)


def _options(cls: type, options: dict[str, Any] | Any | None) -> Any:
    if options is None:
        return cls()
    if isinstance(options, cls):
        return replace(options)
    if not isinstance(options, dict):
        raise errors.InvalidRequest(f"options must be a dict or a {cls.__name__}, not {type(options).__name__}")
    known = cls.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise errors.InvalidRequest(f"unknown option {unknown[0]!r}; the options are {', '.join(known)}")
    return cls(**options)


class _Primitive:
    def __init__(self, backend: HalBackend, options: Any) -> None:
        if not isinstance(backend, HalBackend):
            raise errors.InvalidRequest(f"give a HalBackend (HalProvider().get_backend(...)), not {type(backend).__name__}")
        self._backend = backend

    @property
    def backend(self) -> HalBackend:
        return self._backend

    def _shared(self) -> dict[str, Any]:
        settings = {"priority": self.options.priority, "tags": self.options.tags, **self.options.provider_options}
        return self._backend.request_fields(settings)

    def _requests(self, coerced: list[Any], build: Any) -> tuple[list[dict[str, Any]], list[Layout]]:
        """Each validated PUB's request and layout, built by ``build(pub, program, shared, index)``."""
        for pub in coerced:
            pub.validate()
        shared = self._shared()
        programs: dict[int, Program] = {}
        built = [build(pub, program_of(pub.circuit, programs), shared, index) for index, pub in enumerate(coerced)]
        return [request for _, request in built], [layout for layout, _ in built]

    def job(self, job_id: str) -> HalPrimitiveJob:
        """A job of an earlier ``run`` (``job.job_id()``), from this kernel or another."""
        from .jobs import attach

        found = attach(self._backend.hal, job_id, self._backend)
        if not isinstance(found, HalPrimitiveJob):
            raise errors.InvalidRequest("that id names a backend.run job: HalProvider().job(id) reads it")
        return found


class HalSampler(_Primitive, BaseSamplerV2):
    """``BaseSamplerV2`` on a HAL backend: ``run(pubs, shots=None)``, a ``BitArray`` per classical register."""

    def __init__(self, backend: HalBackend, *, options: dict[str, Any] | SamplerOptions | None = None) -> None:
        super().__init__(backend, options)
        self.options: SamplerOptions = _options(SamplerOptions, options)

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> HalPrimitiveJob:
        shots = self.options.default_shots if shots is None else shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        requests, layouts = self._requests(coerced, self._request)
        memory = self.options.memory
        if memory is None:
            try:
                return self._backend.submit_calls([{**r, "memory": True} for r in requests], layouts, "sampler", [p.shots for p in coerced])
            except errors.InvalidRequest as exc:
                if "memory" not in exc.message:
                    raise
                memory = False  # this provider returns no per-shot data: counts, drawn in a random order
        return self._backend.submit_calls([{**r, "memory": memory} for r in requests], layouts, "sampler", [p.shots for p in coerced])

    @staticmethod
    def _request(pub: SamplerPub, program: Program, shared: dict[str, Any], index: int) -> tuple[Layout, dict[str, Any]]:
        circuit, shape = pub.circuit, pub.shape
        request: dict[str, Any] = {**shared, "circuit": program.text, "shots": pub.shots, "name": f"sampler pub {index}"}
        if circuit.parameters:
            request["parameters"] = _bindings(pub.parameter_values, circuit, program)
            layout = Layout.of_circuit("sampler", circuit, shape=shape)
        else:
            repeats = math.prod(shape)  # points of a circuit without parameters: one job, its shots split
            request["shots"] = pub.shots * repeats
            layout = Layout.of_circuit("sampler", circuit, shape=shape, repeats=repeats)
        request["tags"] = [*layout.tags(), *shared["tags"]]
        return layout, request


class HalEstimator(_Primitive, BaseEstimatorV2):
    """``BaseEstimatorV2`` on a HAL backend: ``run(pubs, precision=None)``, ``evs`` and ``stds`` of each PUB's shape."""

    def __init__(self, backend: HalBackend, *, options: dict[str, Any] | EstimatorOptions | None = None) -> None:
        super().__init__(backend, options)
        self.options: EstimatorOptions = _options(EstimatorOptions, options)

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> HalPrimitiveJob:
        precision = self.options.default_precision if precision is None else precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        requests, layouts = self._requests(coerced, self._request)
        return self._backend.submit_calls(requests, layouts, "estimator", [r["shots"] for r in requests])

    @staticmethod
    def _request(pub: EstimatorPub, program: Program, shared: dict[str, Any], index: int) -> tuple[Layout, dict[str, Any]]:
        circuit, swept = pub.circuit, bool(pub.circuit.parameters)
        layout = Layout.of_circuit(
            "estimator", circuit, shape=pub.shape, observables_shape=pub.observables.shape,
            values_shape=pub.parameter_values.shape, swept=swept, precision=pub.precision,
        )
        request: dict[str, Any] = {
            **shared, "circuit": program.text, "observables": _observables(pub.observables), "shots": shots_for(pub.precision or EXACT_SHOTS_PRECISION),
            "name": f"estimator pub {index}", "tags": [*layout.tags(), *shared["tags"]],
        }
        if pub.precision:  # 0: exact where the provider computes exactly (Aer), else its shots
            request["precision"] = pub.precision
        if swept:
            request["parameters"] = _bindings(pub.parameter_values, circuit, program)
        return layout, request


def _bindings(values: Any, circuit: Any, program: Program) -> dict[str, list[float]]:
    """The request's ``parameters``: each of the circuit's parameters -> its value at every point (the PUB's shape flattened)."""
    parameters = list(circuit.parameters)
    array = np.asarray(values.as_array(parameters), dtype=float).reshape(-1, len(parameters))
    return program.bind({p: array[:, j] for j, p in enumerate(parameters)})


def _observables(observables: Any) -> list[Any]:
    """Each observable of the (flattened) ``ObservablesArray`` as the request takes it:
    a dense ``{label: coeff}`` object, or sparse terms for projectors (``0``, ``+``, ...)."""
    out: list[Any] = []
    for entry in observables.ravel().tolist():
        if all(_PAULI.issuperset(label) for label in entry):
            out.append({label: float(coeff) for label, coeff in entry.items()})
        else:
            from qiskit.quantum_info import SparseObservable

            out.extend(to_observables([SparseObservable.from_list(list(entry.items()))]))
    return out
