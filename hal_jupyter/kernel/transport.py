"""How the kernel reaches an engine: the REST API of a Jupyter server, or an
engine embedded in the kernel. Both give the same synchronous calls and the
same job-change events.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..engine import errors

T = TypeVar("T")
Listener = Callable[[list[dict[str, Any]]], None]
log = logging.getLogger("hal_jupyter")
_ERRORS = {
    cls.type: cls
    for cls in (
        errors.InvalidRequest, errors.InvalidCircuit, errors.PayloadTooLarge, errors.JobNotFound, errors.ProviderNotFound,
        errors.BackendNotFound, errors.NotFound, errors.Conflict, errors.JobNotFinished, errors.JobAlreadyFinished,
        errors.IdempotencyConflict, errors.ProviderUnavailable, errors.StoreUnavailable, errors.Forbidden,
    )
}
#: the figures a ``BudgetExceeded`` body carries beside its message
_BUDGET_FIGURES = ("budget", "limit", "spent", "reserved", "requested")


class Transport(Protocol):
    description: str

    def submit(self, kind: str, body: Any) -> list[dict[str, Any]]: ...
    def job(self, job_id: str) -> dict[str, Any]: ...
    def jobs(
        self,
        *,
        status: str | None = None,
        provider: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        ids: list[str] | None = None,
        include_result: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]: ...
    def result(self, job_id: str) -> dict[str, Any]: ...
    def cancel(self, job_id: str) -> dict[str, Any]: ...
    def providers(self) -> list[dict[str, Any]]: ...
    def backends(self, name: str) -> list[dict[str, Any]]: ...
    def scheduler(self) -> dict[str, Any]: ...
    # v1.2: spend control and sessions (docs/API.md)
    def dry_run(self, kind: str, body: Any) -> dict[str, Any]: ...
    def budgets(self) -> list[dict[str, Any]]: ...
    def put_budget(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def delete_budget(self, name: str) -> None: ...
    def spend(self, group_by: str, since: str | None, until: str | None) -> dict[str, Any]: ...
    def sessions(self) -> list[dict[str, Any]]: ...
    def close_session(self, name: str) -> list[dict[str, Any]]: ...
    def subscribe(self, listener: Listener) -> Callable[[], None]: ...
    def close(self) -> None: ...


def error_from(status: int, body: Any) -> errors.HalError:
    """The client-side twin of an error the server sent."""
    if not isinstance(body, dict):
        body = {"message": str(body)}
    message = body.get("message") or f"HTTP {status}"
    if body.get("type") == errors.ErrorType.BUDGET_EXCEEDED.value and all(k in body for k in _BUDGET_FIGURES):
        return errors.BudgetExceeded(message, **{k: body[k] for k in _BUDGET_FIGURES})
    cls = _ERRORS.get(body.get("type", ""))
    if cls is None:
        cls = {400: errors.InvalidRequest, 404: errors.NotFound, 409: errors.Conflict, 413: errors.PayloadTooLarge, 503: errors.ProviderUnavailable}.get(status, errors.HalError)
    return cls(message, details=body.get("details"))


class RemoteTransport:
    """The hal_jupyter REST API and events WebSocket of a Jupyter server."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        import requests

        self.url = url.rstrip("/") + "/"
        self.description = f"Jupyter server at {self.url}"
        self._token = token
        self._timeout = timeout
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"token {token}"
        self._listeners: list[Listener] = []
        self._socket_thread: threading.Thread | None = None
        self._socket: Any = None
        self._guard = threading.Lock()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        import requests

        try:
            response = self._session.request(
                method, self.url + "hal/api/" + path, json=body, params=params or None, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise errors.HalError(f"the Jupyter server at {self.url} did not answer: {type(exc).__name__}") from None
        data = response.json() if response.content else None
        if response.status_code >= 400:
            raise error_from(response.status_code, data)
        return data

    def probe(self) -> bool:
        """True when this server runs the hal_jupyter extension and accepts the token."""
        try:
            self._call("GET", "scheduler")
        except errors.HalError:
            return False
        return True

    def submit(self, kind: str, body: Any) -> list[dict[str, Any]]:
        data = self._call("POST", f"{kind}/jobs", body)
        return data["jobs"] if "jobs" in data else [data]

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"jobs/{_quote(job_id)}")

    def jobs(self, *, ids: list[str] | None = None, include_result: bool = False, **filters: Any) -> dict[str, Any]:
        """``GET jobs``: ``ids`` go comma-separated (at most 500), ``include_result`` as ``include=result``."""
        params = {k: v for k, v in filters.items() if v is not None}
        if ids is not None:
            params["ids"] = ",".join(ids)
        if include_result:
            params["include"] = "result"
        return self._call("GET", "jobs", **params)

    def result(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"jobs/{_quote(job_id)}/result")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"jobs/{_quote(job_id)}/cancel")

    def providers(self) -> list[dict[str, Any]]:
        return self._call("GET", "providers")["providers"]

    def backends(self, name: str) -> list[dict[str, Any]]:
        return self._call("GET", f"providers/{_quote(name)}/backends")["backends"]

    def scheduler(self) -> dict[str, Any]:
        return self._call("GET", "scheduler")

    def dry_run(self, kind: str, body: Any) -> dict[str, Any]:
        return self._call("POST", f"{kind}/jobs", body, dry_run="true")

    def budgets(self) -> list[dict[str, Any]]:
        return self._call("GET", "budgets")["budgets"]

    def put_budget(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"budgets/{_quote(name)}", body)

    def delete_budget(self, name: str) -> None:
        self._call("DELETE", f"budgets/{_quote(name)}")

    def spend(self, group_by: str, since: str | None, until: str | None) -> dict[str, Any]:
        return self._call("GET", "spend", **{k: v for k, v in {"group_by": group_by, "since": since, "until": until}.items() if v is not None})

    def sessions(self) -> list[dict[str, Any]]:
        return self._call("GET", "sessions")["sessions"]

    def close_session(self, name: str) -> list[dict[str, Any]]:
        return self._call("POST", f"sessions/{_quote(name)}/close")["sessions"]

    # -- events --------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._guard:
            self._listeners.append(listener)
            if self._socket_thread is None:
                self._socket_thread = threading.Thread(target=self._listen, name="hal-events", daemon=True)
                self._socket_thread.start()

        def unsubscribe() -> None:
            with self._guard:
                if listener in self._listeners:
                    self._listeners.remove(listener)
                if not self._listeners and self._socket is not None:
                    self._socket.close()  # ends the blocking recv; the thread then stops

        return unsubscribe

    def _still_wanted(self) -> bool:
        """Under the lock, so that a concurrent subscribe() starts a new thread if this one stops."""
        with self._guard:
            if self._listeners:
                return True
            self._socket_thread = None
            self._socket = None
            return False

    def _listen(self) -> None:
        """One WebSocket per client, whatever the number of monitors; reconnects with backoff."""
        import websocket

        delay = 0.2
        ws_url = "ws" + self.url[4:] + "hal/api/events"
        header = [f"Authorization: token {self._token}"] if self._token else []
        while self._still_wanted():
            try:
                socket = websocket.create_connection(ws_url, header=header, timeout=None, skip_utf8_validation=True)
                with self._guard:
                    self._socket = socket
                    wanted = bool(self._listeners)
                delay = 0.2
                while wanted:
                    raw = socket.recv()
                    if not raw:
                        break
                    message = json.loads(raw)
                    records = [message["job"]] if message.get("type") == "job" else message.get("jobs", [])
                    for listener in list(self._listeners):
                        listener(records)
                socket.close()
            except Exception as exc:  # noqa: BLE001 - the socket closed or the server restarted
                log.debug("hal_jupyter: events socket: %s", exc)
            if self._still_wanted():
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        with self._guard:
            self._listeners.clear()
            if self._socket is not None:
                self._socket.close()
        self._session.close()


class EmbeddedTransport:
    """The engine itself, on an event loop of its own in a daemon thread.

    The kernel's own loop must stay free (a blocking ``job.result()`` would
    otherwise stall the engine), hence the thread. Its job store is a SQLite
    file that one process at a time owns; a second process gets a private one.
    """

    def __init__(self, db_url: str | None = None, **config: Any) -> None:
        import qiskit.qasm2  # noqa: F401 - first import on the caller's thread (see docs/PROVIDERS.md)

        from ..engine.engine import Engine, EngineConfig

        self._lock_file = None
        if db_url is None:
            db_url = self._claim_store()
        self.db_url = db_url
        self.description = f"embedded engine (job store {db_url.removeprefix('sqlite:///')})"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hal-engine", daemon=True)
        self._thread.start()
        self.engine = Engine(EngineConfig(db_url=db_url, **config))
        self._run(self.engine.start())
        atexit.register(self.close)

    def _claim_store(self) -> str:
        from jupyter_core.paths import jupyter_data_dir

        folder = Path(jupyter_data_dir()) / "hal_jupyter"
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "embedded.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            private = Path(tempfile.mkdtemp(prefix="hal-jupyter-")) / "jobs.sqlite"
            log.warning("hal_jupyter: another process uses the embedded job store; this one keeps its jobs in %s", private)
            return f"sqlite:///{private}"
        self._lock_file = handle
        return f"sqlite:///{folder / 'embedded.sqlite'}"

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def submit(self, kind: str, body: Any) -> list[dict[str, Any]]:
        records, _, _ = self._run(self.engine.submit(kind, body))
        return records

    def job(self, job_id: str) -> dict[str, Any]:
        return self._run(self.engine.get_job(job_id))

    def jobs(self, *, ids: list[str] | None = None, include_result: bool = False, **filters: Any) -> dict[str, Any]:
        return self._run(self.engine.list_jobs(ids=ids, include_result=include_result, **filters))

    def result(self, job_id: str) -> dict[str, Any]:
        return self._run(self.engine.get_result(job_id))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._run(self.engine.cancel(job_id))

    def providers(self) -> list[dict[str, Any]]:
        return self._run(self.engine.providers())

    def backends(self, name: str) -> list[dict[str, Any]]:
        return self._run(self.engine.backends(name))

    def scheduler(self) -> dict[str, Any]:
        async def info() -> dict[str, Any]:
            return self.engine.scheduler_info()

        return self._run(info())

    def dry_run(self, kind: str, body: Any) -> dict[str, Any]:
        return self._run(self.engine.dry_run(kind, body))

    def budgets(self) -> list[dict[str, Any]]:
        return self._run(self.engine.budgets())

    def put_budget(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._run(self.engine.put_budget(name, body))

    def delete_budget(self, name: str) -> None:
        self._run(self.engine.delete_budget(name))

    def spend(self, group_by: str, since: str | None, until: str | None) -> dict[str, Any]:
        return self._run(self.engine.spend(group_by, since, until))

    def sessions(self) -> list[dict[str, Any]]:
        return self._run(self.engine.sessions())

    def close_session(self, name: str) -> list[dict[str, Any]]:
        return self._run(self.engine.close_session(name))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        async def add() -> Callable[[], None]:
            return self.engine.subscribe(listener)

        unsubscribe = self._run(add())

        def remove() -> None:
            async def drop() -> None:
                unsubscribe()

            if self._loop.is_running():
                self._run(drop())

        return remove

    def close(self) -> None:
        atexit.unregister(self.close)
        if self._loop.is_running():
            self._run(self.engine.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if self._lock_file is not None:
            self._lock_file.close()


def _quote(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="")
