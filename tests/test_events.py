"""The events WebSocket: every change pushed, coalesced per connection."""

from __future__ import annotations

import asyncio
import json
import time

from .conftest import BELL_QASM2
import pytest

pytestmark = pytest.mark.both_stores  # on SQLite and on a real PostgreSQL


async def _collect(ws, until, timeout=20.0):
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            raw = await asyncio.wait_for(ws.read_message(), timeout=max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        assert raw is not None, "socket closed"
        messages.append((time.monotonic(), json.loads(raw)))
        if until(messages):
            return messages
    raise AssertionError(f"condition not met; got {messages[-3:]}")


def _records(messages):
    for _, message in messages:
        if message["type"] == "job":
            yield message["job"]
        else:
            assert message["type"] == "jobs"
            yield from message["jobs"]


async def test_a_job_is_pushed_from_queued_to_completed(api, jp_ws_fetch):
    ws = await jp_ws_fetch("hal", "api", "events")
    code, record = await api.post("quantum/jobs", {"circuit": BELL_QASM2, "shots": 100})
    done = lambda ms: any(r["id"] == record["id"] and r["status"] == "COMPLETED" for r in _records(ms))  # noqa: E731
    messages = await _collect(ws, done)
    seen = [r["status"] for r in _records(messages) if r["id"] == record["id"]]
    assert seen[0] == "QUEUED" and seen[-1] == "COMPLETED"
    ws.close()


async def test_many_changes_are_coalesced_to_about_ten_messages_a_second(api, jp_ws_fetch):
    ws = await jp_ws_fetch("hal", "api", "events")
    jobs = [{"circuit": BELL_QASM2, "shots": 10} for _ in range(300)]
    code, body = await api.post("quantum/jobs", {"jobs": jobs})
    ids = {r["id"] for r in body["jobs"]}
    finished: set[str] = set()

    def all_done(ms):
        finished.update(r["id"] for r in _records(ms[-1:]) if r["status"] == "COMPLETED")
        return ids <= finished

    messages = await _collect(ws, all_done, timeout=60)
    span = max(messages[-1][0] - messages[0][0], 0.1)
    # 300 jobs x 4 states each arrive in a few messages, at most ~10 per second
    assert len(messages) <= 10 * span + 2, (len(messages), span)
    assert len(messages) < 300
    ws.close()
