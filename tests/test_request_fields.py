"""Every JSON type in every field of every request kind, single and bulk.

A value of a JSON type the field does not take is a 400 whose message names
the field (and, in a bulk request, the job's index) and stores nothing. A
value of a type the field takes is never a 500: it is accepted, or refused
with a 4xx/503 for what it says.
"""

from __future__ import annotations

import json

import pytest

from .conftest import BELL_QASM2

#: one value of each JSON type (and the shapes that matter inside arrays and objects)
VALUES = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -1,
    "float": 1.5,
    "string": "text",
    "empty string": "",
    "array": ["x"],
    "array of numbers": [1],
    "empty array": [],
    "object": {"k": 1},
    "empty object": {},
}
TYPE_OF = {
    "null": "null", "true": "boolean", "false": "boolean", "zero": "integer", "negative": "integer",
    "float": "number", "string": "string", "empty string": "string", "array": "array",
    "array of numbers": "array", "empty array": "array", "object": "object", "empty object": "object",
}
REQUESTS = {
    "quantum": (
        {
            "provider": "local_simulator", "backend": "aer_simulator", "circuit": BELL_QASM2, "shots": 10,
            "priority": "standard", "name": "n", "tags": ["t"], "options": {}, "memory": False,
        },
        {
            "provider": {"string"}, "backend": {"string", "null"}, "circuit": {"string"}, "shots": {"integer"},
            "priority": {"string"}, "name": {"string", "null"}, "tags": {"array"}, "options": {"object"}, "memory": {"boolean"},
        },
    ),
    "classical": (
        {
            "provider": "local_python", "code": "def main():\n    return 1\n", "entrypoint": "main", "args": {},
            "function": None, "timeout_s": 5, "priority": "standard", "name": "n", "tags": ["t"],
        },
        {
            "provider": {"string"}, "code": {"string", "null"}, "entrypoint": {"string"}, "args": {"object"},
            "function": {"string", "null"}, "timeout_s": {"integer", "number"}, "priority": {"string"},
            "name": {"string", "null"}, "tags": {"array"},
        },
    ),
}
CASES = [pytest.param(kind, field, id=f"{kind}-{field}") for kind, (_, accepted) in REQUESTS.items() for field in accepted]


async def _send(api, kind: str, request: dict, bulk: bool) -> tuple[int, dict]:
    if not bulk:
        return await api.post(f"{kind}/jobs", request)
    good = REQUESTS[kind][0]
    return await api.post(f"{kind}/jobs", {"jobs": [good, request, good]})


@pytest.mark.parametrize("bulk", [False, True], ids=["single", "bulk"])
@pytest.mark.parametrize("kind, field", CASES)
async def test_every_json_type_in_every_field(api, kind, field, bulk):
    base, accepted = REQUESTS[kind]
    created = 0
    for value_name, value in VALUES.items():
        case = (field, value_name)
        status, body = await _send(api, kind, {**base, field: value}, bulk)
        assert isinstance(body, dict) and status in (201, 400, 404, 413, 503), (case, status, body)
        created += len(body.get("jobs", [body])) if status == 201 else 0
        if status >= 400:
            assert body.get("type") and body.get("message") and "Traceback" not in json.dumps(body), (case, body)
        if TYPE_OF[value_name] in accepted[field]:
            continue  # a value of a type the field takes: accepted, or refused for what it says
        assert status == 400, (case, status, body)
        assert field in body["message"], (case, body)
        if bulk:
            assert body["message"].startswith("jobs[1]: "), (case, body)
            assert all(d["field"].startswith("jobs[1].") for d in body.get("details") or [] if "field" in d), body
    code, listing = await api.get("jobs", limit="500")
    assert code == 200 and len(listing["jobs"]) == created, "refused requests stored nothing"


@pytest.mark.parametrize("kind", ["quantum", "classical"])
@pytest.mark.parametrize("item_name", list(VALUES))
async def test_every_json_type_as_a_bulk_item(api, kind, item_name):
    """``{"jobs": [good, <anything but an object>]}`` names the item."""
    good = REQUESTS[kind][0]
    status, body = await api.post(f"{kind}/jobs", {"jobs": [good, VALUES[item_name]]})
    if isinstance(VALUES[item_name], dict):
        assert status in (201, 400), body  # {} is a request with every default
        return
    assert status == 400, body
    assert body["message"].startswith("jobs[1]"), body


@pytest.mark.parametrize("kind", ["quantum", "classical"])
@pytest.mark.parametrize("value_name", list(VALUES))
async def test_every_json_type_as_the_jobs_list(api, kind, value_name):
    status, body = await api.post(f"{kind}/jobs", {"jobs": VALUES[value_name]})
    assert status == 400, body
    assert "jobs" in body["message"], body


@pytest.mark.parametrize("value_name", list(VALUES))
async def test_every_json_type_as_the_whole_body(api, value_name):
    status, body = await api.post("quantum/jobs", raw=json.dumps(VALUES[value_name]))
    assert status in (201, 400), body  # {} is a Bell-less request: 400 for the missing circuit
    if status == 400:
        assert body["type"] == "InvalidRequest" and body["message"], body


async def test_the_embedded_engine_refuses_the_same_shapes(tmp_path):
    """The shape checks live in the engine: a kernel's embedded engine has them too."""
    from hal_jupyter.engine import errors
    from hal_jupyter.engine.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(db_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", env_file=None))
    try:
        deep: dict = {}
        node = deep
        for _ in range(100):
            node["a"] = {}
            node = node["a"]
        bad = [
            ({"jobs": [{"provider": {}, "circuit": BELL_QASM2}]}, "jobs[0]: provider"),
            ({"circuit": BELL_QASM2, "options": deep}, "nested"),
            ({"circuit": "OPENQASM 2.0; \udcff"}, "surrogate"),
            ({"circuit": BELL_QASM2, "shots": True}, "shots"),
        ]
        for body, words in bad:
            with pytest.raises(errors.InvalidRequest, match=words.replace("[", r"\[").replace("]", r"\]")):
                await engine.submit("quantum", body)
    finally:
        await engine.stop()
