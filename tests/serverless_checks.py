"""The checks every serverless provider must pass (issue 5's "same semantics everywhere").

Each takes the test's API client, the provider's name and the emulator's counters.
"""

from __future__ import annotations

from typing import Any

SUM = "def main(n):\n    print('summing', n)\n    return sum(range(n))\n"
SQUARE = "def main(n):\n    return n * n\n"


async def sum_is_45_and_deployed_once(api: Any, provider: str, deploys: list[str], new_deploys: int = 1) -> None:
    """``new_deploys``: what running the cell twice deploys (0 where the code
    travels with the invocation)."""
    before = len(deploys)
    for _ in range(2):
        status, record = await api.post("classical/jobs", {"provider": provider, "code": SUM, "args": {"n": 10}, "priority": "high"})
        assert status == 201, record
        final = await api.wait(record["id"], timeout=60)
        assert final["status"] == "COMPLETED", final
        status, result = await api.get(f"jobs/{record['id']}/result")
        assert result["value"] == 45 and result["stdout"] == "summing 10\n"
    assert len(deploys) == before + new_deploys  # the unchanged cell was deployed once (at most)


async def exception_and_timeout_fail(api: Any, provider: str) -> dict[str, Any]:
    """ValueError('bad') and a sleep past timeout_s are FAILED; returns the timed-out record."""
    status, bad = await api.post("classical/jobs", {"provider": provider, "code": "def main():\n    raise ValueError('bad')\n", "priority": "high"})
    status, slow = await api.post(
        "classical/jobs", {"provider": provider, "code": "import time\ndef main():\n    time.sleep(30)\n", "timeout_s": 2, "priority": "high"}
    )
    bad, slow = await api.wait(bad["id"], timeout=60), await api.wait(slow["id"], timeout=60)
    assert bad["status"] == "FAILED" and bad["error"] == {"type": "UserCodeError", "message": "ValueError: bad", "exception": "ValueError"}
    assert slow["status"] == "FAILED" and slow["error"]["type"] == "Timeout"
    return slow


async def batch_is_one_invocation(api: Any, provider: str, invokes: list[str]) -> None:
    before = len(invokes)
    ids = [(await api.post("classical/jobs", {"provider": provider, "code": SQUARE, "args": {"n": n}}))[1]["id"] for n in range(3)]
    finals = [await api.wait(i, timeout=60) for i in ids]
    assert len({f["batch_id"] for f in finals}) == 1 and len(invokes) == before + 1
    assert [(await api.get(f"jobs/{i}/result"))[1]["value"] for i in ids] == [0, 1, 4]
