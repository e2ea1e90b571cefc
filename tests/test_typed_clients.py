"""Typed clients (API.md v1.2): ``GET /hal/api/openapi.json`` generates a complete
Python client with openapi-python-client (every schema a model, no warning), and
real results parse into its models, told apart by their ``type``.

The panel's TypeScript types from the same document: tests/test_api_types.py.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import BELL_QASM2

#: the generated package's name (its imports are relative; any name does)
PACKAGE = "hal_api_client"
#: one client per module: generating takes about 2 s, and the document is the same for every test
_generated: dict[str, Any] = {}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def generate(document: dict[str, Any], folder: Path) -> tuple[Any, str]:
    """The generated client package, imported, and the generator's output."""
    key = json.dumps(document, sort_keys=True)
    if key not in _generated:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "openapi.json"
        path.write_text(key)
        run = subprocess.run(
            [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(path), "--meta", "none",
             "--output-path", str(folder / PACKAGE), "--fail-on-warning", "--overwrite"],
            capture_output=True, text=True, timeout=120,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
        _generated.clear()
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        _generated[key] = (importlib.import_module(f"{PACKAGE}.models"), output)
    return _generated[key]


async def generated_client(api: Any, tmp_path_factory: Any) -> tuple[Any, str]:
    """The client generated from this server's live document."""
    code, document = await api.get("openapi.json")
    assert code == 200
    return generate(document, tmp_path_factory.mktemp("client"))


async def _completed(api, kind: str, body: dict[str, Any]) -> str:
    code, record = await api.post(f"{kind}/jobs", body)
    assert code == 201, record
    assert (await api.wait(record["id"]))["status"] == "COMPLETED"
    return record["id"]


async def test_every_schema_is_a_model_and_the_generator_warns_of_nothing(api, tmp_path_factory):
    models, output = await generated_client(api, tmp_path_factory)
    assert not re.search(r"warning|skipp|unable|unsupported|error", output, re.IGNORECASE), output
    _, document = await api.get("openapi.json")
    schemas = document["components"]["schemas"]
    objects = [name for name, schema in schemas.items() if schema.get("type") == "object"]
    assert {"SamplingResult", "EstimationResult", "ClassicalResult", "JobRecord", "JobRecordWithResult"} <= set(objects)
    missing = [name for name in objects if not hasattr(models, name)]
    assert missing == [], f"no model generated for {missing}:\n{output}"
    # the one union is a discriminated one, of models that each require their own "type"
    result = schemas["Result"]
    assert result["discriminator"]["propertyName"] == "type" and "anyOf" not in json.dumps(result)
    for type_, ref in result["discriminator"]["mapping"].items():
        member = schemas[ref.rsplit("/", 1)[1]]
        assert member["properties"]["type"]["const"] == type_ and "type" in member["required"]
    assert {"$ref": "#/components/schemas/Result"} in schemas["JobRecordWithResult"]["properties"]["result"]["anyOf"]
    assert document["paths"]["/hal/api/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Result"
    }


async def test_real_results_parse_into_the_generated_models(api, tmp_path_factory):
    models, _ = await generated_client(api, tmp_path_factory)
    sampling = await _completed(api, "quantum", {"circuit": BELL_QASM2, "shots": 100, "priority": "high"})
    estimation = await _completed(api, "quantum", {"circuit": BELL_QASM2, "shots": 100, "observables": [{"ZZ": 1.0}], "priority": "high"})
    classical = await _completed(api, "classical", {"code": "def main(x):\n    print('hi')\n    return x + 1\n", "args": {"x": 41}})

    answers = {job_id: (await api.get(f"jobs/{job_id}/result"))[1] for job_id in (sampling, estimation, classical)}
    assert [a["type"] for a in answers.values()] == ["sampling", "estimation", "classical"]
    # one endpoint, three models: what a generated client does with the answer of get_result
    parsed = {job_id: _parse_result(models, answer) for job_id, answer in answers.items()}

    counts = parsed[sampling]
    assert isinstance(counts, models.SamplingResult) and counts.type_ == "sampling"
    assert set(counts.counts.to_dict()) <= {"00", "11"} and sum(counts.counts.to_dict().values()) == 100
    assert counts.shots == 100 and counts.backend == answers[sampling]["backend"]
    # per-shot bitstrings (v1.2) when asked for: providers fill them in, the model already types them
    with_memory = _parse_result(models, {**answers[sampling], "memory": ["00", "11"]})
    assert isinstance(with_memory, models.SamplingResult) and with_memory.memory == ["00", "11"]
    estimate = parsed[estimation]
    assert isinstance(estimate, models.EstimationResult) and estimate.evs == [pytest.approx(1.0)] and len(estimate.stds) == 1
    value = parsed[classical]
    assert isinstance(value, models.ClassicalResult) and value.value == 42 and value.stdout == "hi\n" and value.duration_s >= 0

    # include=result: the same results, in the generated JobList
    code, listing = await api.get("jobs", ids=",".join(answers), include="result")
    assert code == 200
    jobs = models.JobList.from_dict(listing).jobs
    assert {j.id: type(j.result).__name__ for j in jobs} == {
        sampling: "SamplingResult", estimation: "EstimationResult", classical: "ClassicalResult"
    }
    assert all(isinstance(j, models.JobRecordWithResult) for j in jobs)
    assert {j["id"]: j["result"] for j in listing["jobs"]} == answers


def _parse_result(models: Any, data: dict[str, Any]) -> Any:
    """As the generated ``get_result`` parses its 200 answer (it tries each member in turn)."""
    api = importlib.import_module(f"{PACKAGE}.api.default.get_result")

    class Answer:
        status_code = 200

        @staticmethod
        def json() -> dict[str, Any]:
            return data

    return api._parse_response(client=None, response=Answer())
