"""The results :class:`~hal_jupyter.Hal` hands back: the engine's result models with
what a notebook adds (numpy arrays for estimates, an HTML view)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, PlainSerializer

from ..engine.models import ClassicalResult, QuantumResult
from . import display


def _array(values: Any) -> Any:
    import numpy as np

    return None if values is None else np.asarray(values, dtype=float)


def _listed(values: Any) -> Any:
    return None if values is None else values.tolist()


#: ``evs``/``stds`` arrive as JSON lists, are numpy arrays on the result (so
#: ``evs[0] - 1``, ``evs.shape`` work) and are lists again in ``model_dump()``
Estimates = Annotated[list[float] | list[list[float]] | None, AfterValidator(_array), PlainSerializer(_listed)]


class QuantumJobResult(QuantumResult):
    """The outcome of a quantum job.

    Sampling: ``counts`` (Qiskit bit order: the rightmost character is bit 0); for
    a sweep one dict per point, ``counts[i]`` at the values ``parameters[name][i]``.
    Estimation: ``evs`` and ``stds``, numpy arrays of shape (observables,) or,
    for a sweep, (observables, points).
    """

    evs: Estimates = None
    stds: Estimates = None

    def __eq__(self, other: object) -> bool:
        """Equal when their JSON is (pydantic's own ``==`` would ask numpy arrays for one truth value)."""
        return isinstance(other, QuantumJobResult) and self.model_dump() == other.model_dump()

    def _repr_html_(self) -> str:
        return display.quantum_result(self.model_dump(), title=f"{self.backend} - {self.shots} shots")


class ClassicalJobResult(ClassicalResult):
    """The value, stdout and stderr of a classical job."""

    def _repr_html_(self) -> str:
        return display.classical_output(self.value, self.stdout, self.stderr)


JobResult = QuantumJobResult | ClassicalJobResult


__all__ = ["ClassicalJobResult", "JobResult", "QuantumJobResult"]
