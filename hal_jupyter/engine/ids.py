"""Opaque ids of jobs, batches and engines."""

from __future__ import annotations

import secrets


def new_id(prefix: str = "") -> str:
    """A random id (64 bits, hex), with a prefix saying what it names (``b-``: a batch, ``e-``: an engine)."""
    return prefix + secrets.token_hex(8)


__all__ = ["new_id"]
