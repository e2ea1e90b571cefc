"""What a Qiskit result needs from the program that made it, and the data itself.

A HAL job carries OpenQASM, counts and per-shot bitstrings (Qiskit's bit order:
the rightmost character is classical bit 0 of the flat bit list). A Qiskit
result wants more: the classical registers (a ``BitArray`` per register, a
``Result`` whose ``get_counts`` separates registers by spaces), the PUB's
broadcast shape, and for an estimate which of its observables and parameter
points each entry of ``evs`` combines. That is the job's :class:`Layout`. It
travels with the job, in its tags (``qiskit0:{...}``, JSON in chunks of at most
:data:`CHUNK` characters), so that a job started in one kernel can be read
as the same Qiskit result in another (:meth:`Layout.from_tags`).

The conversions here are pure: records and results in, numpy and Qiskit
containers out, no I/O.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: a tag holds at most 100 characters (API.md "Job record")
CHUNK = 90
PREFIX = "qiskit"
#: what made the job: ``backend.run``, ``HalSampler`` or ``HalEstimator``
KINDS = ("run", "sampler", "estimator")
#: ``0`` and ``1`` as bytes: a bitstring's characters minus this are its bits
_ZERO = ord("0")


@dataclass(frozen=True)
class Register:
    """A classical register: its name and the flat clbit index of each of its bits (bit 0 first)."""

    name: str
    bits: tuple[int, ...]

    def as_json(self) -> list[Any]:
        start = self.bits[0] if self.bits else 0
        if self.bits == tuple(range(start, start + len(self.bits))):
            return [self.name, start, len(self.bits)]  # contiguous: the usual case, kept short
        return [self.name, list(self.bits)]

    @classmethod
    def from_json(cls, data: list[Any]) -> Register:
        if len(data) == 3:
            return cls(data[0], tuple(range(data[1], data[1] + data[2])))
        return cls(data[0], tuple(data[1]))


@dataclass(frozen=True)
class Layout:
    """How to read one HAL job as the Qiskit result of one circuit or PUB."""

    kind: str
    #: the PUB's shape (``()`` for one circuit without parameter values)
    shape: tuple[int, ...] = ()
    num_clbits: int = 0
    registers: tuple[Register, ...] = ()
    #: the circuit's name and metadata (``Result`` headers, ``circuit_metadata``)
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: samplers: the job's points are these many repeats of an unparametrised circuit, its shots split among them
    repeats: int = 1
    #: estimators: the shapes of the observables and of the parameter values, broadcast to ``shape``;
    #: ``swept`` says whether the job has parameter points (the result's second axis)
    observables_shape: tuple[int, ...] = ()
    values_shape: tuple[int, ...] = ()
    swept: bool = False
    precision: float | None = None

    @classmethod
    def of_circuit(cls, kind: str, circuit: Any, **fields: Any) -> Layout:
        registers = tuple(Register(r.name, tuple(circuit.find_bit(b).index for b in r)) for r in circuit.cregs)
        metadata = circuit.metadata if isinstance(circuit.metadata, dict) else {}
        return cls(kind, num_clbits=circuit.num_clbits, registers=registers, name=circuit.name, metadata=_jsonable(metadata), **fields)

    # -- tags --------------------------------------------------------------------------
    def tags(self) -> list[str]:
        data: dict[str, Any] = {"k": self.kind, "s": list(self.shape), "n": self.num_clbits, "r": [r.as_json() for r in self.registers]}
        if self.name:
            data["c"] = self.name
        if self.metadata:
            data["m"] = self.metadata
        if self.repeats != 1:
            data["x"] = self.repeats
        if self.kind == "estimator":
            data.update(o=list(self.observables_shape), v=list(self.values_shape), w=int(self.swept), p=self.precision)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        if len(chunks) > 40:  # tags are at most 50: leave the circuit's metadata out rather than fail
            return Layout(**{**self.__dict__, "metadata": {}}).tags() if self.metadata else chunks[:0]
        return [f"{PREFIX}{i}:{chunk}" for i, chunk in enumerate(chunks)]

    @classmethod
    def from_tags(cls, tags: list[str]) -> Layout | None:
        """The layout a job's tags carry; None for a job no Qiskit interface made."""
        chunks: dict[int, str] = {}
        for tag in tags:
            head, _, chunk = tag.partition(":")
            if head.startswith(PREFIX) and head[len(PREFIX) :].isdigit():
                chunks[int(head[len(PREFIX) :])] = chunk
        if not chunks:
            return None
        try:
            data = json.loads("".join(chunks[i] for i in range(len(chunks))))
            return cls(
                data["k"], tuple(data["s"]), data["n"], tuple(Register.from_json(r) for r in data["r"]), data.get("c"), data.get("m") or {},
                data.get("x", 1), tuple(data.get("o", ())), tuple(data.get("v", ())), bool(data.get("w")), data.get("p"),
            )
        except (KeyError, ValueError, TypeError, IndexError):
            return None

    # -- results ---------------------------------------------------------------------
    def samples(self, result: dict[str, Any], shots: int, seed: Any = None) -> np.ndarray:
        """Every shot of every point as bits: uint8, shape ``shape + (shots, num_clbits)``,
        column ``num_clbits - 1 - i`` holding clbit ``i`` (as in the bitstrings).

        From the result's ``memory`` where it has one; else from its counts, in an
        order drawn at random (counts keep no order of shots)."""
        points, width = math.prod(self.shape), self.num_clbits
        memory = result.get("memory")
        if memory is not None:
            lists = memory if memory and isinstance(memory[0], list) else [memory]
            rows = [_bits(one, width) for one in lists]
        else:
            counts = result.get("counts") or {}
            rng = np.random.default_rng(seed)
            rows = [_drawn(one, width, rng) for one in (counts if isinstance(counts, list) else [counts])]
        bits = np.concatenate(rows) if rows else np.zeros((0, width), dtype=np.uint8)
        if bits.shape != (points * shots, width):
            raise ValueError(f"the job's result has {bits.shape[0]} shots of {bits.shape[1]} bits; expected {points * shots} of {width}")
        return bits.reshape(*self.shape, shots, width)

    def bit_arrays(self, samples: np.ndarray) -> dict[str, Any]:
        """A ``BitArray`` per classical register, of shape ``shape`` with ``shots`` samples."""
        from qiskit.primitives import BitArray

        width = self.num_clbits
        arrays = {}
        for register in self.registers:
            columns = [width - 1 - i for i in reversed(register.bits)]  # the register's highest bit leftmost
            chosen = samples[..., columns]
            pad = -len(columns) % 8
            if pad:
                chosen = np.concatenate([np.zeros((*chosen.shape[:-1], pad), dtype=np.uint8), chosen], axis=-1)
            arrays[register.name] = BitArray(np.packbits(chosen, axis=-1, bitorder="big"), len(register.bits))
        return arrays

    def header(self) -> dict[str, Any]:
        """A ``Result`` experiment's header: registers, so that ``get_counts`` spaces them as Aer's do."""
        return {
            "name": self.name,
            "creg_sizes": [[r.name, len(r.bits)] for r in self.registers],
            "memory_slots": self.num_clbits,
            "metadata": self.metadata,
        }

    def estimates(self, result: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """``evs`` and ``stds`` of the PUB's broadcast shape, from the job's grid of
        every observable at every point (``[observables]`` or ``[observables][points]``)."""
        k = math.prod(self.observables_shape)
        n = math.prod(self.values_shape) if self.swept else 1
        evs = np.asarray(result["evs"], dtype=float).reshape(k, n)
        stds = np.asarray(result.get("stds") if result.get("stds") is not None else np.zeros((k, n)), dtype=float).reshape(k, n)
        which = np.broadcast_to(np.arange(k).reshape(self.observables_shape), self.shape)
        where = np.broadcast_to(np.arange(n).reshape(self.values_shape) if self.swept else np.zeros(self.values_shape, dtype=int), self.shape)
        return evs[which, where], stds[which, where]


def _bits(strings: list[str], width: int) -> np.ndarray:
    """Bitstrings as a (shots, width) array of 0s and 1s."""
    if any(len(s) != width for s in strings[:1]):
        raise ValueError(f"the job's bitstrings have {len(strings[0])} bits; its circuit has {width} classical bits")
    return (np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8) - _ZERO).reshape(len(strings), width)


def _drawn(counts: dict[str, int], width: int, rng: np.random.Generator) -> np.ndarray:
    """As many shots of each bitstring as its count, in a random order: a (shots, width) array."""
    table = _bits(list(counts), width)
    rows = np.repeat(np.arange(len(counts)), np.fromiter(counts.values(), dtype=np.int64, count=len(counts)))
    rng.shuffle(rows)
    return table[rows]


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    """The circuit's metadata as JSON keeps it (what does not convert is left out)."""
    try:
        return json.loads(json.dumps(metadata))
    except (TypeError, ValueError):
        return {}
