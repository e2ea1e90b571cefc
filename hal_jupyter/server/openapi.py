"""The OpenAPI 3.1 document of the REST API, built from the pydantic models."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from ..engine.models import (
    BackendInfo,
    ClassicalJobRequest,
    ClassicalResult,
    ErrorBody,
    JobList,
    JobRecord,
    ProviderInfo,
    QuantumJobRequest,
    QuantumResult,
)

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "Invalid input (a circuit error carries details with line and column)",
    "403": "Not authenticated",
    "404": "Unknown job or provider",
    "409": "State conflict",
    "413": "Body or circuit too large",
    "503": "Provider unavailable",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(_ref("ErrorBody"), ERRORS[code]) for code in ("403", *codes)}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


def _path_param(name: str) -> dict[str, Any]:
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
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"oneOf": [_ref(request), bulk]}}},
            },
            "responses": {
                "201": _json(records, "Created"),
                "200": _json(records, "Replayed by Idempotency-Key"),
                **_errors("400", "404", "409", "413", "503"),
            },
        }
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    models = [QuantumJobRequest, ClassicalJobRequest, JobRecord, QuantumResult, ClassicalResult, ProviderInfo, BackendInfo, JobList, ErrorBody]
    _, schemas = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization") for m in models], ref_template=REF
    )
    job = _path_param("job_id")
    jobs_query = [
        {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": [s.value for s in JobRecord.model_fields["status"].annotation]}},  # type: ignore[union-attr]
        {"name": "provider", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "enum": ["quantum", "classical"]}},
        {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "hal_jupyter", "version": "1", "description": "Quantum and classical jobs through one API."},
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
                        **_errors("404", "503"),
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
                    "responses": {"200": _json(_ref("JobRecord")), **_errors("404")},
                }
            },
            "/hal/api/jobs/{job_id}/result": {
                "get": {
                    "summary": "A completed job's result",
                    "operationId": "get_result",
                    "parameters": [job],
                    "responses": {
                        "200": _json({"oneOf": [_ref("QuantumResult"), _ref("ClassicalResult")]}),
                        **_errors("404", "409"),
                    },
                }
            },
            "/hal/api/jobs/{job_id}/cancel": {
                "post": {
                    "summary": "Cancel a job (also at the provider)",
                    "operationId": "cancel_job",
                    "parameters": [job],
                    "responses": {"200": _json(_ref("JobRecord")), **_errors("404", "409")},
                }
            },
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
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "'token <Jupyter token>'"}
            },
        },
        "x-websocket": {
            "/hal/api/events": "Job records as they change: {type: 'job', job} or, when several changed within 100 ms, {type: 'jobs', jobs: [...]}."
        },
    }
