"""Qiskit programs on the HAL, unchanged but for their backend and primitives.

``HalProvider`` lists the HAL's quantum backends as Qiskit ``BackendV2``
objects (``HalBackend``); ``HalSampler`` and ``HalEstimator`` are Qiskit's V2
primitives over any of them. Their jobs are HAL jobs: batched, owned, listed,
monitored, durable. See docs/qiskit.md.
"""

from __future__ import annotations

from .backend import HalBackend, HalProvider
from .jobs import HalJob, HalPrimitiveJob
from .primitives import EstimatorOptions, HalEstimator, HalSampler, SamplerOptions

__all__ = ["EstimatorOptions", "HalBackend", "HalEstimator", "HalJob", "HalPrimitiveJob", "HalProvider", "HalSampler", "SamplerOptions"]
