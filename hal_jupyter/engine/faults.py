"""Named crash points in the submission path, for the crash tests.

``HAL_TEST_CRASH_AT=<point>`` (or ``<point>@<provider>``) in a server's
environment makes the server kill itself with SIGKILL the first time it passes
that point, as a power cut would: no shutdown hook, no flush but the store's
own commits. Unset (always, outside the crash tests) a point costs one
environment lookup.

In-process, :func:`arm` makes the next pass raise :class:`SimulatedCrash`
instead: a ``BaseException`` that no handler of the engine catches, so the
task that reached the point stops there, its effects on disk being exactly
those a SIGKILL would have left; the test then abandons that engine (no
clean stop, its lease left to expire) and starts another on the same store.
That runs every point of every provider in seconds, keeping real SIGKILLs for
a few cases per provider family. The points, in the order a job meets them:

``before_reply``
    the job is stored (its id is durable) but the HTTP reply is not sent;
``after_intent``
    the batch and its jobs' ``SUBMITTING`` are on disk, the provider not called;
``after_accept``
    the provider accepted the batch, its remote ids are not stored yet;
``after_remote_id``
    the remote ids are stored, the batch is not being polled yet.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

ENV = "HAL_TEST_CRASH_AT"
POINTS = ("before_reply", "after_intent", "after_accept", "after_remote_id")
log = logging.getLogger("hal_jupyter")
_armed: tuple[str, str | None] | None = None
#: set when an armed point was reached (the test abandons the engine then)
crashed = threading.Event()


class SimulatedCrash(BaseException):
    """An in-process crash at an armed point: not an ``Exception``, so nothing in the engine catches it."""


def arm(point: str, provider: str | None = None) -> None:
    """Make the next pass of ``point`` (of ``provider``, or any) raise :class:`SimulatedCrash`."""
    global _armed
    if point not in POINTS:
        raise ValueError(f"no crash point {point!r}; the points are {', '.join(POINTS)}")
    crashed.clear()
    _armed = (point, provider)


def disarm() -> None:
    global _armed
    _armed = None


def crash_point(name: str, provider: str | None = None) -> None:
    """Die here if ``HAL_TEST_CRASH_AT`` names this point (and provider), or raise
    :class:`SimulatedCrash` if :func:`arm` did."""
    armed = _armed
    if armed is not None and armed[0] == name and armed[1] in (None, provider):
        disarm()
        crashed.set()
        log.warning("hal_jupyter: crash point %s@%s reached (simulated)", name, provider)
        raise SimulatedCrash(f"{name}@{provider}")
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, only = wanted.partition("@")
    if point != name or (only and only != provider):
        return
    log.warning("hal_jupyter: %s=%s: killing the server at this point", ENV, wanted)
    for handler in logging.getLogger().handlers + log.handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["ENV", "POINTS", "SimulatedCrash", "arm", "crash_point", "crashed", "disarm"]
