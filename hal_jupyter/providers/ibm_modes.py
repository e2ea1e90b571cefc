"""The execution mode a batch's runtime job runs in at IBM Quantum (docs/API.md, "Execution modes").

``batch`` (the default): the runtime job runs in a Qiskit Runtime ``Batch``
opened for the HAL batch and closed once the job is sent (it then accepts no
more jobs; the job runs on). ``job``: the job alone (``mode=backend``).
``session``: the job joins the dedicated ``Session`` the engine knows for the
session's name (``execution["session_id"]``, from its store, so that one name is
one session across restarts), or a new one when there is none yet or IBM closed
it; the provider answers the id it used, and the engine keeps it.

Opening a session can be refused: IBM's Open Plan answers 400 ("You are not
authorized to run a session when using the open plan", code 1352). That is
raised as :class:`ModeRefused`, with IBM's own words and the HTTP status, which
the engine's ``retry.classify`` reads as permanent: the jobs end FAILED with it.

Local mode (``QISKIT_IBM_CHANNEL=local``) takes ``Session`` and ``Batch`` too;
its sessions have no id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MODES = frozenset({"batch", "session", "job"})


class ModeRefused(Exception):
    """IBM did not open the session or batch; ``status_code`` is its HTTP answer's."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass
class Mode:
    """What a primitive runs in (its ``mode=``), and what to do once the job is sent."""

    target: Any
    #: the id of the dedicated session the job runs in (mode "session"; None in local mode)
    session_id: str | None = None
    #: a Batch of this HAL batch alone: closed once its job is sent
    closes: bool = False

    def sent(self) -> None:
        """The runtime job is sent: a batch of our own accepts no more jobs. A failure here
        is logged, never raised: the job was taken and runs."""
        if not self.closes:
            return
        try:
            self.target.close()
        except Exception as exc:  # noqa: BLE001 - the job is sent; an open batch only idles out at IBM
            log.warning("hal_jupyter: ibm_quantum could not close batch %s: %s", getattr(self.target, "session_id", None), exc)


def mode_of(execution: dict[str, Any] | None) -> str:
    return (execution or {}).get("mode") or "batch"


def open_mode(service: Any, backend: Any, execution: dict[str, Any] | None, known_session: str | None, local: bool) -> Mode:
    """The mode for a batch of ``execution`` on ``backend``. ``known_session``: the id of
    the session to join (the engine's, or one this process opened for the same batch on an
    attempt that did not go through)."""
    from qiskit_ibm_runtime import Batch, Session

    mode = mode_of(execution)
    if mode == "job":
        return Mode(backend)
    if mode == "batch":
        return Mode(_opened(Batch, backend), closes=True)
    session = None if local or not known_session else joined(service, known_session)
    if session is None:
        session = _opened(Session, backend)
    return Mode(session, session_id=session.session_id)


def joined(service: Any, session_id: str) -> Any:
    """The open dedicated session ``session_id``, or None when IBM no longer has it open
    (closed, expired, not accepting jobs, or unknown)."""
    from qiskit_ibm_runtime import Session
    from qiskit_ibm_runtime.exceptions import IBMInputValueError

    try:
        session = Session.from_id(session_id, service)
    except IBMInputValueError:  # not found, or not a dedicated session
        return None
    details = session.details() or {}
    if details.get("state") == "closed" or details.get("accepting_jobs") is False:
        return None
    return session


def close(service: Any, session_id: str) -> None:
    """Close a dedicated session from its id alone (any process): it takes no more jobs,
    those in it run on. One IBM no longer knows is closed already."""
    session = joined(service, session_id)
    if session is not None:
        session.close()


def _opened(kind: type, backend: Any) -> Any:
    """A new Session or Batch; IBM's refusal as :class:`ModeRefused`, in its own words."""
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError

    try:
        return kind(backend)
    except RequestsApiError as exc:
        what = "session" if kind.__name__ == "Session" else "batch"
        raise ModeRefused(f"IBM Quantum did not open a {what}: {ibm_reason(str(exc))}", exc.status_code) from exc


def ibm_reason(message: str) -> str:
    """IBM's ``errors`` (message, solution, code) from an SDK error's text, which ends
    with the response body; the text as it is when it has none."""
    start = message.find('{"errors"')
    if start < 0:
        return message
    try:
        body = json.loads(message[start:].rstrip("'\""))
    except ValueError:
        return message
    parts = []
    for error in body.get("errors") or []:
        text = " ".join(str(error[k]) for k in ("message", "solution") if error.get(k))
        parts.append(f"{text} (code {error['code']})" if error.get("code") else text)
    return "; ".join(parts) or message


__all__ = ["MODES", "Mode", "ModeRefused", "close", "ibm_reason", "joined", "mode_of", "open_mode"]
