"""The OpenAPI 3.1 document of the REST API, built from the pydantic models.

The response schemas are tightened to docs/API.md (every field of a record or result
is always present; a job record has no other fields) because clients and the
schemathesis run in tests/test_fuzz.py validate answers against this document.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from ..engine.budgets import BudgetBody
from ..engine.errors import ErrorType
from ..engine.models import (
    BackendInfo,
    ClassicalJobRequest,
    ClassicalResult,
    EstimationResult,
    JobList,
    JobRecord,
    ProviderInfo,
    QuantumJobRequest,
    SamplingResult,
)

REF = "#/components/schemas/{model}"
#: Answers whose every field is always sent (docs/API.md), although the models give some a default.
ALWAYS_COMPLETE = ("JobRecord", "JobList", "ProviderInfo", "BackendInfo", "CostEstimate")
#: v1.2: a result is one of three, told apart by "type"; the fields each always has (a sampling
#: result has "parameters" only for a sweep, "memory" only when asked for)
RESULTS = {
    "sampling": ("SamplingResult", ["type", "id", "counts", "shots", "backend", "metadata"]),
    "estimation": ("EstimationResult", ["type", "id", "evs", "stds", "parameters", "shots", "backend", "metadata"]),
    "classical": ("ClassicalResult", ["type", "id", "value", "stdout", "stderr", "duration_s"]),
}
RESULT = {
    "description": "A completed job's result: 'type' says which of the three it is (docs/API.md, Results).",
    "oneOf": [{"$ref": REF.format(model=name)} for name, _ in RESULTS.values()],
    "discriminator": {"propertyName": "type", "mapping": {t: REF.format(model=name) for t, (name, _) in RESULTS.items()}},
}
ERROR_BODY = {
    "type": "object",
    "description": "Every error: 'type' is stable (for programs), 'message' is for people.",
    "required": ["type", "message"],
    "properties": {
        "type": {"type": "string", "enum": [t.value for t in ErrorType], "description": "One of a closed set (docs/API.md, Errors)."},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "description": "Where the input is wrong: line and column for a circuit, the field for a request.",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "line": {"type": "integer"},
                    "column": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
EXAMPLES = {
    "QuantumJobRequest": {"provider": "local_simulator", "circuit": BELL, "shots": 1024, "tags": ["exp-1"]},
    "ClassicalJobRequest": {"provider": "local_python", "code": "def main(x, y):\n    return x + y\n", "args": {"x": 1, "y": 2}},
}
#: Where a job's id, once known, leads: stateful clients (and schemathesis) follow these.
JOB_LINKS = {
    "GetJob": {"operationId": "get_job", "parameters": {"job_id": "$response.body#/id"}},
    "GetResult": {"operationId": "get_result", "parameters": {"job_id": "$response.body#/id"}},
    "CancelJob": {"operationId": "cancel_job", "parameters": {"job_id": "$response.body#/id"}},
}
ERRORS = {
    "400": "Invalid input (a circuit error carries details with line and column)",
    "402": "A 'refuse' budget has no room for the estimate; nothing stored (v1.2)",
    "403": "Not authenticated",
    "404": "Unknown job or provider",
    "409": "State conflict",
    "413": "Body or circuit too large",
    "503": "Provider unavailable",
}
NUMBER = {"type": "number"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_COST = {"anyOf": [{"$ref": "#/components/schemas/CostEstimate"}, {"type": "null"}]}
OUTCOME = {"type": "string", "enum": ["accept", "hold", "refuse"]}
#: v1.2 spend control (docs/API.md, "Spend control"): what the engine's Spending answers
SPEND_SCHEMAS: dict[str, Any] = {
    "Budget": {
        "type": "object",
        "description": "A spending limit with what is spent and reserved in its current period.",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "limit": NUMBER,
            "currency": {"type": "string"},
            "period": {"type": "string", "enum": ["day", "month", "total"]},
            "scope": {"$ref": "#/components/schemas/Scope"},
            "action": {"type": "string", "enum": ["refuse", "hold"]},
            "spent": NUMBER,
            "reserved": NUMBER,
            "remaining": NUMBER,
            "resets_at": {**NULLABLE_STRING, "description": "When the period starts again (null: period 'total')."},
        },
    },
    "BudgetList": {"type": "object", "properties": {"budgets": {"type": "array", "items": {"$ref": "#/components/schemas/Budget"}}}},
    "SpendRow": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"key": NULLABLE_STRING, "estimated": NUMBER, "reserved": NUMBER, "actual": NUMBER, "currency": {"type": "string"}},
    },
    "Spend": {
        "type": "object",
        "properties": {
            "group_by": {"type": "string", "enum": ["owner", "provider", "tag", "day"]},
            "rows": {"type": "array", "items": {"$ref": "#/components/schemas/SpendRow"}},
        },
    },
    "DryRunBudget": {"type": "object", "properties": {"name": {"type": "string"}, "remaining_after": NUMBER}},
    "DryRunJob": {
        "type": "object",
        "properties": {
            "cost_estimate": NULLABLE_COST,
            "reserved": NULLABLE_COST,
            "outcome": OUTCOME,
            "budgets": {"type": "array", "items": {"$ref": "#/components/schemas/DryRunBudget"}},
            "provider": {"type": "string"},
            "backend": NULLABLE_STRING,
            "shots": {"type": ["integer", "null"]},
        },
    },
    "DryRun": {
        "type": "object",
        "description": "What submitting would do (?dry_run=true): priced, judged against the budgets, nothing stored.",
        "properties": {
            "dry_run": {"type": "boolean", "const": True},
            "outcome": OUTCOME,
            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/DryRunJob"}},
        },
    },
    "BudgetExceededBody": {
        "type": "object",
        "description": "402: the budget that refused, its figures and what the request asked for.",
        "properties": {
            "type": {"type": "string", "const": ErrorType.BUDGET_EXCEEDED.value},
            "message": {"type": "string"},
            "budget": {"type": "string"},
            "limit": NUMBER,
            "spent": NUMBER,
            "reserved": NUMBER,
            "requested": NUMBER,
        },
    },
    "Session": {
        "type": "object",
        "description": "An open provider session (execution mode 'session') and its jobs.",
        "properties": {
            "name": {"type": "string"},
            "owner": NULLABLE_STRING,
            "provider": {"type": "string"},
            "backend": NULLABLE_STRING,
            "session_id": NULLABLE_STRING,
            "state": {"type": "string"},
            "opened_at": NULLABLE_STRING,
            "last_used_at": NULLABLE_STRING,
            "jobs": {"type": "array", "items": {"type": "string"}},
        },
    },
    "SessionList": {"type": "object", "properties": {"sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str = "OK", links: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if links:
        response["links"] = links
    return response


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(_ref("BudgetExceededBody" if code == "402" else "ErrorBody"), ERRORS[code]) for code in ("403", *codes)}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


def _path_param(name: str) -> dict[str, Any]:
    """A path segment; one that is not valid UTF-8 once %-decoded is answered 400 (hence the 400s below)."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _submit(kind: str, request: str) -> dict[str, Any]:
    bulk = _obj(jobs={"type": "array", "items": _ref(request), "minItems": 1})
    records = {"oneOf": [_ref("JobRecord"), _obj(jobs={"type": "array", "items": _ref("JobRecord")})]}
    return {
        "post": {
            "summary": f"Submit one {kind} job, or several at once (all or none)",
            "operationId": f"submit_{kind}",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "Same key and body: the original record(s), 200. Same key, other body: 409.",
                },
                {
                    "name": "dry_run",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
                    "description": "v1.2: 'true' answers 200 with what submitting would do (DryRun); nothing stored.",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [_ref(request), bulk]},
                        "examples": {
                            "one": {"value": EXAMPLES[request]},
                            "bulk": {"value": {"jobs": [EXAMPLES[request], {**EXAMPLES[request], "priority": "high"}]}},
                        },
                    }
                },
            },
            "responses": {
                "201": _json(records, "Created", JOB_LINKS),
                "200": _json({"oneOf": [*records["oneOf"], _ref("DryRun")]}, "Replayed by Idempotency-Key, or a dry run", JOB_LINKS),
                **_errors("400", "402", "404", "409", "413", "503"),
            },
        }
    }


def _schemas() -> dict[str, Any]:
    """Request schemas as validated; response schemas as docs/API.md promises them."""
    models = [
        QuantumJobRequest, ClassicalJobRequest, JobRecord, SamplingResult, EstimationResult, ClassicalResult,
        ProviderInfo, BackendInfo, JobList, BudgetBody,
    ]
    _, schemas = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization") for m in models], ref_template=REF
    )
    defs: dict[str, Any] = schemas["$defs"]
    for name in ALWAYS_COMPLETE:
        defs[name]["required"] = list(defs[name]["properties"])
    defs["ErrorInfo"]["required"] = ["type", "message"]  # "exception" only for a UserCodeError
    for name, required in RESULTS.values():
        defs[name]["required"] = required
    defs["Result"] = RESULT
    defs["JobRecord"]["additionalProperties"] = False
    # v1.1: with include=result, a listed record also carries its result (null until COMPLETED)
    with_result = copy.deepcopy(defs["JobRecord"])
    with_result["title"] = "JobRecordWithResult"
    with_result["properties"]["result"] = {"anyOf": [_ref("Result"), {"type": "null"}]}
    with_result["required"] = [*with_result["required"], "result"]
    defs["JobRecordWithResult"] = with_result
    # exactly one matches (a record has no other field); the one with a result first, since
    # generated clients try each in turn and would otherwise read it as a JobRecord, dropping it
    defs["JobList"]["properties"]["jobs"]["items"] = {"oneOf": [_ref("JobRecordWithResult"), _ref("JobRecord")]}
    defs["ErrorBody"] = ERROR_BODY
    for name, schema in SPEND_SCHEMAS.items():
        defs[name] = {**schema, "required": list(schema["properties"])}
    return defs


def _spend_paths() -> dict[str, Any]:
    """v1.2: budgets, spend and sessions (docs/API.md, "Spend control", "Execution modes")."""
    name = _path_param("name")
    since_until = [
        {"name": key, "in": "query", "required": False, "schema": {"type": "string"}, "description": f"ISO 8601: jobs created {key} then"}
        for key in ("since", "until")
    ]
    return {
        "/hal/api/budgets": {
            "get": {
                "summary": "The budgets that apply to you, with what is spent and reserved",
                "operationId": "list_budgets",
                "responses": {"200": _json(_ref("BudgetList")), **_errors()},
            }
        },
        "/hal/api/budgets/{name}": {
            "get": {
                "summary": "One budget",
                "operationId": "get_budget",
                "parameters": [name],
                "responses": {"200": _json(_ref("Budget")), **_errors("400", "404")},
            },
            "put": {
                "summary": "Set a budget (admin_users only)",
                "operationId": "put_budget",
                "parameters": [name],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BudgetBody"), "example": {"limit": 50.0, "period": "month", "action": "hold"}}},
                },
                "responses": {"200": _json(_ref("Budget")), **_errors("400")},
            },
            "delete": {
                "summary": "Remove a budget (admin_users only)",
                "operationId": "delete_budget",
                "parameters": [name],
                "responses": {"204": {"description": "Removed"}, **_errors("400", "404")},
            },
        },
        "/hal/api/spend": {
            "get": {
                "summary": "Estimated, reserved and actual cost, grouped",
                "operationId": "get_spend",
                "parameters": [
                    {"name": "group_by", "in": "query", "required": False, "schema": {"type": "string", "enum": ["owner", "provider", "tag", "day"], "default": "provider"}},
                    *since_until,
                ],
                "responses": {"200": _json(_ref("Spend")), **_errors("400")},
            }
        },
        "/hal/api/sessions": {
            "get": {
                "summary": "Open provider sessions with their jobs",
                "operationId": "list_sessions",
                "responses": {"200": _json(_ref("SessionList")), **_errors()},
            }
        },
        "/hal/api/sessions/{name}/close": {
            "post": {
                "summary": "Close a session now",
                "operationId": "close_session",
                "parameters": [name],
                "responses": {"200": _json(_ref("SessionList")), **_errors("400", "404")},
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    job = _path_param("job_id")
    jobs_query = [
        {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": [s.value for s in JobRecord.model_fields["status"].annotation]}},  # type: ignore[union-attr]
        {"name": "provider", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "enum": ["quantum", "classical"]}},
        {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "ids", "in": "query", "required": False, "description": "v1.1: only these jobs (comma-separated, at most 500)", "schema": {"type": "string"}},
        {"name": "include", "in": "query", "required": False, "description": "v1.1: 'result' embeds each job's result (null until COMPLETED)", "schema": {"type": "string", "enum": ["result"]}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "hal_jupyter", "version": "1.2", "description": "Quantum and classical jobs through one API."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": {
            "/hal/api/providers": {
                "get": {
                    "summary": "Providers with their availability",
                    "operationId": "list_providers",
                    "responses": {"200": _json(_obj(providers={"type": "array", "items": _ref("ProviderInfo")})), **_errors()},
                }
            },
            "/hal/api/providers/{name}/backends": {
                "get": {
                    "summary": "A provider's backends",
                    "operationId": "list_backends",
                    "parameters": [_path_param("name")],
                    "responses": {
                        "200": _json(_obj(backends={"type": "array", "items": _ref("BackendInfo")})),
                        **_errors("400", "404", "503"),
                    },
                }
            },
            "/hal/api/quantum/jobs": _submit("quantum", "QuantumJobRequest"),
            "/hal/api/classical/jobs": _submit("classical", "ClassicalJobRequest"),
            "/hal/api/jobs": {
                "get": {
                    "summary": "Jobs, newest first",
                    "operationId": "list_jobs",
                    "parameters": jobs_query,
                    "responses": {"200": _json(_ref("JobList")), **_errors("400")},
                }
            },
            "/hal/api/jobs/{job_id}": {
                "get": {
                    "summary": "One job's record",
                    "operationId": "get_job",
                    "parameters": [job],
                    "responses": {"200": _json(_ref("JobRecord"), links=JOB_LINKS), **_errors("400", "404")},
                }
            },
            "/hal/api/jobs/{job_id}/result": {
                "get": {
                    "summary": "A completed job's result",
                    "operationId": "get_result",
                    "parameters": [job],
                    "responses": {
                        "200": _json(_ref("Result")),
                        **_errors("400", "404", "409"),
                    },
                }
            },
            "/hal/api/jobs/{job_id}/cancel": {
                "post": {
                    "summary": "Cancel a job (also at the provider)",
                    "operationId": "cancel_job",
                    "parameters": [job],
                    "responses": {"200": _json(_ref("JobRecord"), links=JOB_LINKS), **_errors("400", "404", "409")},
                }
            },
            **_spend_paths(),
            "/hal/api/scheduler": {
                "get": {
                    "summary": "Queue depth per group, batches flushed, current settings",
                    "operationId": "get_scheduler",
                    "responses": {"200": _json({"type": "object"}), **_errors()},
                }
            },
            "/hal/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "get_openapi",
                    "responses": {"200": _json({"type": "object"}), **_errors()},
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "'token <Jupyter token>'"}
            },
        },
        "x-websocket": {
            "/hal/api/events": "Job records as they change: {type: 'job', job} or, when several changed within 100 ms, {type: 'jobs', jobs: [...]}."
        },
    }


if __name__ == "__main__":  # python -m hal_jupyter.server.openapi > openapi.json: the document without a server
    import json

    print(json.dumps(openapi_document(), indent=2))
