"""Every endpoint needs Jupyter authentication (allow_unauthenticated_access=False)."""

from __future__ import annotations

import pytest
import tornado.websocket
from tornado.httpclient import HTTPRequest

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL

ENDPOINTS = [
    ("GET", "providers"),
    ("GET", "providers/local_simulator/backends"),
    ("POST", "quantum/jobs"),
    ("POST", "classical/jobs"),
    ("GET", "jobs"),
    ("GET", "jobs/abc"),
    ("GET", "jobs/abc/result"),
    ("POST", "jobs/abc/cancel"),
    ("GET", "scheduler"),
    ("GET", "openapi.json"),
    ("GET", "budgets"),
    ("GET", "budgets/team"),
    ("PUT", "budgets/team"),
    ("DELETE", "budgets/team"),
    ("GET", "spend"),
    ("GET", "sessions"),
    ("POST", "sessions/vqe/close"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
async def test_every_endpoint_without_a_token_is_403(api, method, path):
    for bad in ("", "token not-the-token"):
        code, body = await api.call(method, path, {"circuit": "x"}, headers={"Authorization": bad})
        assert code == 403, (method, path, body)
        assert body["type"] == "Forbidden"


async def test_events_socket_without_a_token_is_refused(api, jp_http_port, jp_base_url):
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}hal/api/events"
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await tornado.websocket.websocket_connect(HTTPRequest(url, headers={"Authorization": ""}))
    assert refused.value.code == 403
