"""Named crash points in the submission path, for the crash tests.

``HAL_TEST_CRASH_AT=<point>`` (or ``<point>@<provider>``) in a server's
environment makes the server kill itself with SIGKILL the first time it passes
that point, as a power cut would: no shutdown hook, no flush but the store's
own commits. Unset (always, outside the crash tests) a point costs one
environment lookup. The points, in the order a job meets them:

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

ENV = "HAL_TEST_CRASH_AT"
POINTS = ("before_reply", "after_intent", "after_accept", "after_remote_id")
log = logging.getLogger("hal_jupyter")


def crash_point(name: str, provider: str | None = None) -> None:
    """Die here if ``HAL_TEST_CRASH_AT`` names this point (and provider)."""
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


__all__ = ["ENV", "POINTS", "crash_point"]
