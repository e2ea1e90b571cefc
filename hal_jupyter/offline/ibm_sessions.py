"""The sessions and batches of the local IBM Quantum Platform (:mod:`.ibm_quantum`).

Routes, as qiskit-ibm-runtime 0.51's ``api/rest/runtime_session.py`` calls them
(under the Runtime API's base path):

``POST /sessions`` (``mode``: ``dedicated`` or ``batch``, ``backend``, ``max_ttl``)
    opens one. On an instance of the Open Plan a dedicated session is refused as
    IBM refuses it: 400, code 1352, "You are not authorized to run a session when
    using the open plan." (batches are allowed there).
``GET /sessions/{id}``
    its details (``state``: open, active, closed; ``accepting_jobs``; ``mode``;
    ``backend_name``; the ids of its jobs in ``jobs``, a field of this stand-in).
``PATCH /sessions/{id}`` (``{"accepting_jobs": false}``)
    ``Session.close()``: no new jobs; it is closed once its jobs ended.
``DELETE /sessions/{id}/close``
    ``Session.cancel()``: its queued jobs are cancelled and it is closed.

A job created with a ``session_id`` is recorded in that session; one for a
session that is closed or takes no more jobs is refused (400, this stand-in's
wording).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

#: IBM's answer to a dedicated session on an Open Plan instance (its own words and code)
OPEN_PLAN_REFUSAL = {
    "code": 1352,
    "message": "You are not authorized to run a session when using the open plan.",
    "solution": "Create an instance of a different plan type or use a different execution mode.",
    "more_info": "https://cloud.ibm.com/apidocs/quantum-computing#error-handling",
}
MAX_TTL_S = 28800
INTERACTIVE_TTL_S = 60


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _errors(status: int, *errors: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, {"errors": list(errors), "trace": uuid.uuid4().hex}


class Sessions:
    """Every session opened, by id; ``opened`` counts them by mode (``dedicated``, ``batch``).
    ``pending(session_id)``: how many of its jobs have not ended (the jobs' owner knows)."""

    def __init__(self, pending: Callable[[str], int]) -> None:
        self.pending = pending
        self.by_id: dict[str, dict[str, Any]] = {}
        self.opened: Counter[str] = Counter()
        self.guard = threading.Lock()

    def create(self, spec: dict[str, Any], open_plan: bool, backends: Any) -> tuple[int, dict[str, Any]]:
        mode = spec.get("mode") or "dedicated"
        backend = spec.get("backend") or spec.get("backend_name")
        if mode not in ("dedicated", "batch"):
            return _errors(400, {"code": 1208, "message": f"Request validation of body failed: mode {mode!r} is not one of batch, dedicated."})
        if backend not in backends:
            return _errors(400, {"code": 1211, "message": f"Backend {backend} not found."})
        if open_plan and mode == "dedicated":
            return _errors(400, OPEN_PLAN_REFUSAL)
        session = {
            "id": "s" + uuid.uuid4().hex[:19], "backend_name": backend, "mode": mode, "state": "open", "accepting_jobs": True,
            "max_ttl": int(spec.get("max_ttl") or MAX_TTL_S), "interactive_ttl": INTERACTIVE_TTL_S, "active_ttl": None,
            "started_at": _now(), "activated_at": None, "closed_at": None, "last_job_started": None, "last_job_completed": None,
            "timestamps": [{"status": "open", "timestamp": _now()}], "user_id": "hal-offline", "elapsed_time": 0.0, "jobs": [],
        }
        with self.guard:
            self.by_id[session["id"]] = session
            self.opened[mode] += 1
        return 200, dict(session)

    def details(self, session_id: str) -> dict[str, Any] | None:
        with self.guard:
            session = self.by_id.get(session_id)
            return None if session is None else {**session, "jobs": list(session["jobs"])}

    def admit(self, session_id: str, job_id: str, backend: str) -> tuple[int, dict[str, Any]] | None:
        """Record a new job in its session; the refusal when the session takes no jobs."""
        with self.guard:
            session = self.by_id.get(session_id)
            if session is None:
                return _errors(404, {"code": 1404, "message": f"Session {session_id} not found."})
            if session["state"] == "closed" or not session["accepting_jobs"]:
                return _errors(400, {"code": 1219, "message": f"Session {session_id} is closed and accepts no more jobs."})
            if session["backend_name"] != backend:
                return _errors(400, {"code": 1211, "message": f"Session {session_id} runs on {session['backend_name']}, not {backend}."})
            session["jobs"].append(job_id)
        return None

    def job_started(self, session_id: str | None) -> None:
        with self.guard:
            session = self.by_id.get(session_id or "")
            if session is not None:
                session["last_job_started"] = _now()
                if session["state"] == "open":
                    self._move(session, "active")
                    session["activated_at"] = _now()

    def job_ended(self, session_id: str | None, quantum_seconds: float) -> None:
        with self.guard:
            session = self.by_id.get(session_id or "")
            if session is not None:
                session["last_job_completed"] = _now()
                session["elapsed_time"] = round(session["elapsed_time"] + quantum_seconds, 6)
        self._close_if_done(session_id)

    def stop_accepting(self, session_id: str, spec: dict[str, Any]) -> tuple[int, Any]:
        """``PATCH``: ``accepting_jobs`` false is ``Session.close()``."""
        with self.guard:
            session = self.by_id.get(session_id)
            if session is None:
                return _errors(404, {"code": 1404, "message": f"Session {session_id} not found."})
            if spec.get("accepting_jobs") is False:
                session["accepting_jobs"] = False
        self._close_if_done(session_id)
        return 204, None

    def close(self, session_id: str) -> list[str]:
        """``DELETE .../close``: closed now; the ids of its jobs (the caller cancels those still queued)."""
        with self.guard:
            session = self.by_id[session_id]
            session["accepting_jobs"] = False
            if session["state"] != "closed":
                self._move(session, "closed")
            return list(session["jobs"])

    def _close_if_done(self, session_id: str | None) -> None:
        if not session_id or self.pending(session_id):
            return
        with self.guard:
            session = self.by_id.get(session_id)
            if session is not None and not session["accepting_jobs"] and session["state"] != "closed":
                self._move(session, "closed")

    @staticmethod
    def _move(session: dict[str, Any], state: str) -> None:
        session["state"] = state
        session["timestamps"].append({"status": state, "timestamp": _now()})
        if state == "closed":
            session["closed_at"] = _now()

    def stats(self) -> dict[str, int]:
        """``sessions``: dedicated sessions opened; ``batches``: batches opened."""
        with self.guard:
            return {"sessions": self.opened["dedicated"], "batches": self.opened["batch"]}


__all__ = ["OPEN_PLAN_REFUSAL", "Sessions"]
