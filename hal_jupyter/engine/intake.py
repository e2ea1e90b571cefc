"""What comes in: request bodies checked for shape, then parsed by pydantic.

Validate, then read: no code reads a field of a job request before
:func:`parse_items` has turned it into a model, so a value of the wrong JSON
type anywhere (``"provider": {}``, ``"shots": true``) is a 400 that names the
field (and the index of the job in a bulk request), never a ``TypeError``
further on. The shape checks live here, in the engine, so the embedded engine
of a kernel refuses what the HTTP server refuses.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from . import errors
from .limits import MAX_JSON_DEPTH, TOO_DEEP
from .models import ClassicalJobRequest, QuantumJobRequest

#: most jobs one bulk request may hold
MAX_BULK = 5000

JobRequest = QuantumJobRequest | ClassicalJobRequest


def check_plain_json(value: Any) -> None:
    """Refuse, as 400, JSON that ``json.loads`` accepts but the rest of the engine must never see.

    Nesting deeper than :data:`MAX_JSON_DEPTH`, and an unpaired UTF-16
    surrogate escape (``"\\udcff"``, forbidden by I-JSON, RFC 7493), which makes
    a string that cannot be encoded to store or send it.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_unicode(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise errors.InvalidRequest(TOO_DEEP)
            children = item if isinstance(item, list) else [*item, *item.values()]
            stack.extend((child, depth + 1) for child in children)
        elif not (item is None or isinstance(item, (bool, int, float))):
            raise errors.InvalidRequest(f"the request holds a {type(item).__name__}, which is not JSON")


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("unicode_escape").decode()
        raise errors.InvalidRequest(f"the request body holds an unpaired surrogate ({bad}); JSON text must be valid Unicode") from None


def items_of(body: Any) -> tuple[list[Any], bool]:
    """The job requests of a body (one request, or ``{"jobs": [...]}``) and whether it was bulk."""
    if isinstance(body, dict) and "jobs" in body:
        if set(body) != {"jobs"} or not isinstance(body["jobs"], list):
            raise errors.InvalidRequest('a bulk request is {"jobs": [request, ...]} and nothing else')
        items = body["jobs"]
        if not items:
            raise errors.InvalidRequest("'jobs' must hold at least one job request")
        if len(items) > MAX_BULK:
            raise errors.PayloadTooLarge(f"at most {MAX_BULK} jobs per request")
        return items, True
    if not isinstance(body, dict):
        raise errors.InvalidRequest("the request body must be a JSON object")
    return [body], False


def parse_items(kind: str, body: Any) -> tuple[list[JobRequest], bool]:
    """Check the body's shape and parse every job request (all or none).

    Errors name the field, and in a bulk request the job's index:
    ``jobs[3].shots: Input should be a valid integer``.
    """
    if kind not in ("quantum", "classical"):
        raise errors.NotFound(f"no job kind {kind!r}; use quantum or classical")
    check_plain_json(body)
    items, bulk = items_of(body)
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_request(kind, item))
        except errors.HalError as exc:
            if bulk:
                prefix_error(exc, f"jobs[{index}]")
            raise
    return parsed, bulk


def prefix_error(exc: errors.HalError, where: str) -> None:
    """Say where in a bulk request an error is (message and details)."""
    exc.message = f"{where}: {exc.message}"
    exc.args = (exc.message,)
    for detail in exc.details or []:
        if "field" in detail:
            detail["field"] = f"{where}.{detail['field']}"


def parse_request(kind: str, item: Any) -> JobRequest:
    model = QuantumJobRequest if kind == "quantum" else ClassicalJobRequest
    if not isinstance(item, dict):
        raise errors.InvalidRequest(f"each job request must be a JSON object, not {_json_type(item)}")
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        details = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()[:20]]
        first = details[0]
        raise errors.InvalidRequest(f"{first['field']}: {first['message']}", details=details) from None


def _field(loc: tuple[Any, ...]) -> str:
    """``("tags", 2)`` -> ``tags[2]``; the model's own checks (loc ``()``) concern the whole request."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "a value"


def check_json_size(value: Any, limit: int, what: str) -> None:
    """``what`` as plain JSON (no NaN or Infinity) of at most ``limit`` bytes."""
    try:
        size = len(json.dumps(value, allow_nan=False))
    except ValueError:
        raise errors.InvalidRequest(f"{what} must be plain JSON (no NaN or Infinity)") from None
    if size > limit:
        raise errors.PayloadTooLarge(f"{what} are {size} bytes; the limit is {limit}")


def request_bytes(requests: list[JobRequest]) -> int:
    """The size of the circuits and code of parsed requests (what parsing costs grow with)."""
    total = 0
    for request in requests:
        text = request.circuit if isinstance(request, QuantumJobRequest) else request.code
        total += len(text or "")
    return total
