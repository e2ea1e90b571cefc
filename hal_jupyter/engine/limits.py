"""Limits of the public API (API.md), in a module that imports nothing, so the
HTTP handlers read them without loading the engine at server start."""

from __future__ import annotations

#: The most job ids one ``GET /hal/api/jobs`` names, and its largest page (docs/API.md v1.1).
MAX_LIST_IDS = 500
#: deeper JSON would make recursive code further on (validation, re-serialising,
#: the job runner) hit Python's recursion limit
MAX_JSON_DEPTH = 64
TOO_DEEP = f"the request body is nested more than {MAX_JSON_DEPTH} levels deep"
