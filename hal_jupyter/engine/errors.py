"""The HAL's error tree.

Every error a client can cause or see is a :class:`HalError` with a stable
``type`` (for programs), a ``message`` (for people) and the HTTP status the
server answers with. Input errors also subclass :class:`ValueError`, as in
qiskit-ibm-runtime, so plain Python callers can catch them naturally.
"""

from __future__ import annotations

from typing import Any


class HalError(Exception):
    """Base of every error the HAL raises on purpose."""

    http_status = 500
    type = "HalError"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequest(HalError, ValueError):
    """The request is malformed or out of range (HTTP 400)."""

    http_status = 400
    type = "InvalidRequest"


class InvalidCircuit(InvalidRequest):
    """The circuit text does not parse, or cannot run on the target (HTTP 400).

    ``details`` holds ``{"line", "column", "message"}`` entries where known.
    """

    type = "InvalidCircuit"


class PayloadTooLarge(HalError, ValueError):
    """A request body or circuit is over the configured size limit (HTTP 413)."""

    http_status = 413
    type = "PayloadTooLarge"


class NotFound(HalError, LookupError):
    """Base for unknown names and ids (HTTP 404)."""

    http_status = 404
    type = "NotFound"


class JobNotFound(NotFound):
    type = "JobNotFound"


class ProviderNotFound(NotFound):
    type = "ProviderNotFound"


class BackendNotFound(NotFound):
    type = "BackendNotFound"


class Conflict(HalError):
    """The request conflicts with the job's current state (HTTP 409)."""

    http_status = 409
    type = "Conflict"


class JobNotFinished(Conflict):
    type = "JobNotFinished"


class JobAlreadyFinished(Conflict):
    type = "JobAlreadyFinished"


class IdempotencyConflict(Conflict):
    type = "IdempotencyConflict"


class IdempotencyKeyTaken(Conflict):
    """The store already holds this key (its constraint said so); the engine replays it."""

    type = "IdempotencyConflict"


class StoreUnavailable(HalError):
    """The job store cannot be reached (a database restart, a network fault): try again."""

    http_status = 503
    type = "StoreUnavailable"


class ProviderUnavailable(HalError):
    """The provider's SDK or credentials are missing (HTTP 503)."""

    http_status = 503
    type = "ProviderUnavailable"


class DocsNotBuilt(HalError):
    """Swagger UI's files, which the JavaScript build adds, are missing: ``GET /hal/api/docs`` (HTTP 503)."""

    http_status = 503
    type = "DocsNotBuilt"


class ProviderError(HalError):
    """A provider failed a call; recorded on the job, not raised to clients."""

    http_status = 502
    type = "ProviderError"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class JobTimeout(ProviderError):
    """A job ran past its time limit."""

    type = "Timeout"
