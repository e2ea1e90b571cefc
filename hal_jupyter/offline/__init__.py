"""Offline clouds: local stand-ins of every cloud service the providers talk to.

Each stand-in is driven by the provider's real SDK and runs real work (Aer and
Braket's local simulators, the user's functions in a child process), so the
cloud providers can be tried, demonstrated and tested without an account:

- ``hal-jupyter offline`` runs them until stopped and writes the provider
  variables to a ``.env`` file, which a Jupyter server started beside it reads;
- :func:`connect` (in a notebook) returns the variables of the stand-ins that
  ``hal-jupyter offline`` runs, or starts them in this process when none runs;
  :func:`start_all` starts them in this process (a kernel, a test), once;
- :func:`stats` reads their counters (``GET /__offline__/stats``).

Install with ``pip install "hal-jupyter[offline]"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OfflineClouds", "connect", "start_all", "stats"]


def __getattr__(name: str) -> Any:
    if name in ("OfflineClouds", "connect", "start_all", "stats", "worlds"):
        from . import stack

        return getattr(stack, name)
    raise AttributeError(name)
