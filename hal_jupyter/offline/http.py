"""What every stand-in here shares: its state (a :class:`World`, with the
counters ``GET /__offline__/stats`` answers), a quiet handler that reads bodies
and answers JSON (or raw bytes), serving it on 127.0.0.1 from a daemon thread,
and faults injected into a share of its answers (:class:`Faults`)."""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any



def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Faults:
    """Faults an emulator injects into a share (``rate``) of the requests it gets, as a
    flaky cloud does:

    ``throttle`` / ``unavailable``
        429 / 503 before the request is carried out (a client may send it again);
    ``server_error``
        500 *after* the request was carried out (the answer is lost, the work is not);
    ``timeout``
        the answer after ``timeout_s``, longer than the client waits: carried out, answer lost;
    ``slow``
        the right answer after ``slow_s``.

    Draws are seeded, so a run injects the same faults in the same order.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("throttle", "unavailable", "server_error", "timeout", "slow")
    timeout_s: float = 3.0
    slow_s: float = 0.3
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def set(self, rate: float, **changes: Any) -> None:
        """Inject from now on at ``rate`` (0 stops), with other settings changed."""
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)
            self.rate = rate

    def draw(self) -> str | None:
        with self._lock:
            if self.rate <= 0 or self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self.injected[kind] += 1
            return kind


FAULT_STATUS = {"throttle": 429, "unavailable": 503, "server_error": 500}
STATS_PATH = "/__offline__/stats"


class World:
    """A stand-in's state: what it was asked to do, counted, and its :class:`Faults`.

    ``creates``/``cancels`` (jobs and tasks) and ``deploys``/``invokes``
    (functions) list names or ids in order, so tests can check exactly what
    was created; :meth:`stats` counts them for ``GET /__offline__/stats``.
    """

    service = "a cloud service"

    def __init__(self) -> None:
        self.faults = Faults()  # set its rate to make this service flaky
        self.creates: list[str] = []
        self.cancels: list[str] = []
        self.deploys: list[str] = []
        self.invokes: list[str] = []
        self.guard = threading.Lock()

    def stats(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "creates": len(self.creates),
            "cancels": len(self.cancels),
            "deploys": len(self.deploys),
            "invocations": len(self.invokes),
            "faults_injected": dict(self.faults.injected),
        }


class JsonHandler(BaseHTTPRequestHandler):
    _fault: str | None = None

    def log_message(self, *args: Any) -> None:
        pass

    def fault_body(self, status: int, message: str) -> tuple[Any, dict[str, str]]:
        """The error body and headers of an injected fault, in the emulated service's format."""
        return {"error": {"code": {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "InternalServerError"), "message": message}}, {}

    def faulty(self) -> bool:
        """Whether this request may get an injected fault (all, unless an emulator says)."""
        return True

    def parse_request(self) -> bool:
        """Answer ``GET /__offline__/stats``; else draw this request's fault: throttling
        and unavailability answer before any work."""
        if not super().parse_request():
            return False
        world: World | None = getattr(self.server, "world", None)
        if self.command == "GET" and self.path.partition("?")[0] == STATS_PATH and world is not None:
            self._reply(200, world.stats())  # never faulted: it is how people watch the faults
            return False
        faults: Faults | None = getattr(self.server, "faults", None)
        self._fault = faults.draw() if faults is not None and self.faulty() else None
        if self._fault in ("throttle", "unavailable"):
            self._body()
            self._fault_reply()
            return False
        return True

    def _fault_reply(self) -> None:
        status = FAULT_STATUS[self._fault or "server_error"]
        self._fault = None
        body, headers = self.fault_body(status, "injected fault")
        self._reply(status, body, headers={"Retry-After": "0", **headers} if status != 500 else headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: Any = None, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        """``body``: bytes or text as they are, anything else as JSON."""
        fault, self._fault = self._fault, None
        if fault == "server_error":
            self._fault = fault
            return self._fault_reply()
        if fault in ("timeout", "slow"):
            faults = getattr(self.server, "faults")
            time.sleep(faults.timeout_s if fault == "timeout" else faults.slow_s)
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that stopped waiting (an injected timeout) is expected; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(handler: type[BaseHTTPRequestHandler], name: str, port: int | None = None, faults: Faults | None = None, world: World | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``handler`` on 127.0.0.1 (a free port unless given), injecting ``faults``
    (by default the ``world``'s, whose stats answer ``GET /__offline__/stats``);
    the server and its base URL."""
    server = _Server(("127.0.0.1", port or free_port()), handler)
    server.faults = faults if faults is not None or world is None else world.faults  # type: ignore[attr-defined]
    server.world = world  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
