"""Limits and defaults of the public API (docs/API.md), in a module that imports
nothing, so the HTTP handlers and the server's traits read them without
loading the engine at server start. Each default is defined here once."""

from __future__ import annotations

#: The most job ids one ``GET /hal/api/jobs`` names, and its largest page (docs/API.md v1.1).
MAX_LIST_IDS = 500
#: deeper JSON would make recursive code further on (validation, re-serialising,
#: the job runner) hit Python's recursion limit
MAX_JSON_DEPTH = 64
TOO_DEEP = f"the request body is nested more than {MAX_JSON_DEPTH} levels deep"

#: the defaults of :class:`hal_jupyter.engine.contract.Settings`, which are also
#: ``HalExtension`` traits of the same names
MAX_SHOTS = 100_000
MAX_CIRCUIT_BYTES = 1_000_000
MAX_LOCAL_QUBITS = 26
LOCAL_PYTHON_TIMEOUT_S = 300.0
LOCAL_PYTHON_MEMORY_MB = 2048
PROVIDER_TIMEOUT_S = 60.0
SUBMIT_ATTEMPTS = 5
RETRY_BASE_S = 1.0
RETRY_MAX_S = 60.0
MAX_POLL_FAILURES = 30
DEGRADED_AFTER = 3
#: where local work (local_simulator batches, local_python jobs) runs: the server's own
#: worker processes, or a Dask cluster (docs/dask.md)
LOCAL_EXECUTORS = ("process", "dask")
LOCAL_EXECUTOR = "process"
