"""What every HTTP emulator here shares: a quiet handler that reads bodies and
answers JSON (or raw bytes), and serving it on 127.0.0.1 from a daemon thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..server_process import free_port


class JsonHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: Any = None, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        """``body``: bytes or text as they are, anything else as JSON."""
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


def serve(handler: type[BaseHTTPRequestHandler], name: str, port: int | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``handler`` on 127.0.0.1 (a free port unless given); the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
