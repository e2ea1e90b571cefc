"""The HAL's error tree, and the closed set of error types.

Every error a client can cause or see is a :class:`HalError` with a stable
``type`` (for programs), a ``message`` (for people) and the HTTP status the
server answers with. Input errors also subclass :class:`ValueError`, as in
qiskit-ibm-runtime, so plain Python callers can catch them naturally.

:class:`ErrorType` is every ``type`` there is: of an error response, and of
a failed job's ``error``. It is declared once, here; docs/API.md and the
OpenAPI document list it as an enum.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorType(str, enum.Enum):
    """Every ``type`` an error response or a job's ``error`` can carry."""

    # -- error responses (HTTP) ------------------------------------------------
    INVALID_REQUEST = "InvalidRequest"
    INVALID_CIRCUIT = "InvalidCircuit"  # also a job's: a circuit that could not be prepared for its target
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"  # also a job's: a deployed function that does not exist
    JOB_NOT_FOUND = "JobNotFound"
    PROVIDER_NOT_FOUND = "ProviderNotFound"
    BACKEND_NOT_FOUND = "BackendNotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    CONFLICT = "Conflict"
    JOB_NOT_FINISHED = "JobNotFinished"
    JOB_ALREADY_FINISHED = "JobAlreadyFinished"
    IDEMPOTENCY_CONFLICT = "IdempotencyConflict"
    STORE_UNAVAILABLE = "StoreUnavailable"
    PROVIDER_UNAVAILABLE = "ProviderUnavailable"
    DOCS_NOT_BUILT = "DocsNotBuilt"
    BUDGET_EXCEEDED = "BudgetExceeded"  # v1.2: a budget with action "refuse" has no room for the request (402)
    HTTP_ERROR = "HTTPError"  # any other status Tornado answers by itself
    INTERNAL_ERROR = "InternalError"  # also a job's: the HAL failed to dispatch it (a bug: see the server log)
    # -- the Python API (kernel) -------------------------------------------------------
    JOB_FAILED = "JobFailed"  # a result was asked of jobs that ended without one
    # -- a failed job's error ----------------------------------------------------
    PROVIDER_ERROR = "ProviderError"  # the provider reported the job failed, or lost it
    SIMULATOR_ERROR = "SimulatorError"  # the local simulator could not run the circuit
    USER_CODE_ERROR = "UserCodeError"  # the job's Python code raised (its class in ``error.exception``)
    TIMEOUT = "Timeout"  # the job ran past its time limit
    PROCESS_EXIT = "ProcessExit"  # the job's process ended before returning a value
    FUNCTION_ERROR = "FunctionError"  # the serverless platform refused or failed the invocation

    def __str__(self) -> str:
        return self.value


#: the types a failed job's ``error`` can carry
JOB_ERROR_TYPES = (
    ErrorType.PROVIDER_ERROR, ErrorType.INVALID_CIRCUIT, ErrorType.SIMULATOR_ERROR, ErrorType.USER_CODE_ERROR,
    ErrorType.TIMEOUT, ErrorType.PROCESS_EXIT, ErrorType.FUNCTION_ERROR, ErrorType.NOT_FOUND, ErrorType.INTERNAL_ERROR,
)


def error_line(error: dict[str, Any]) -> str:
    """A job's error in one line for a person: ``Type: message``, or for a ``UserCodeError``
    its message alone (which starts with the exception's class: ``ValueError: bad``)."""
    if error.get("type") == ErrorType.USER_CODE_ERROR.value:
        return str(error.get("message", ""))
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


class HalError(Exception):
    """Base of every error the HAL raises on purpose."""

    http_status = 500
    type = ErrorType.INTERNAL_ERROR

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": str(self.type), "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequest(HalError, ValueError):
    """The request is malformed or out of range (HTTP 400)."""

    http_status = 400
    type = ErrorType.INVALID_REQUEST


class InvalidCircuit(InvalidRequest):
    """The circuit text does not parse, or cannot run on the target (HTTP 400).

    ``details`` holds ``{"line", "column", "message"}`` entries where known.
    """

    type = ErrorType.INVALID_CIRCUIT


class PayloadTooLarge(HalError, ValueError):
    """A request body or circuit is over the configured size limit (HTTP 413)."""

    http_status = 413
    type = ErrorType.PAYLOAD_TOO_LARGE


class NotFound(HalError, LookupError):
    """Base for unknown names and ids (HTTP 404)."""

    http_status = 404
    type = ErrorType.NOT_FOUND


class JobNotFound(NotFound):
    type = ErrorType.JOB_NOT_FOUND


class ProviderNotFound(NotFound):
    type = ErrorType.PROVIDER_NOT_FOUND


class BackendNotFound(NotFound):
    type = ErrorType.BACKEND_NOT_FOUND


class Conflict(HalError):
    """The request conflicts with the job's current state (HTTP 409)."""

    http_status = 409
    type = ErrorType.CONFLICT


class JobNotFinished(Conflict):
    type = ErrorType.JOB_NOT_FINISHED


class JobAlreadyFinished(Conflict):
    type = ErrorType.JOB_ALREADY_FINISHED


class IdempotencyConflict(Conflict):
    type = ErrorType.IDEMPOTENCY_CONFLICT


class IdempotencyKeyTaken(IdempotencyConflict):
    """The store already holds this key (its constraint said so); the engine replays it."""


class StoreUnavailable(HalError):
    """The job store cannot be reached (a database restart, a network fault): try again."""

    http_status = 503
    type = ErrorType.STORE_UNAVAILABLE


class ProviderUnavailable(HalError):
    """The provider's SDK or credentials are missing (HTTP 503)."""

    http_status = 503
    type = ErrorType.PROVIDER_UNAVAILABLE


class DocsNotBuilt(HalError):
    """Swagger UI's files, which the JavaScript build adds, are missing: ``GET /hal/api/docs`` (HTTP 503)."""

    http_status = 503
    type = ErrorType.DOCS_NOT_BUILT


class BudgetExceeded(HalError):
    """v1.2: a ``refuse`` budget has no room for the request's estimate (HTTP 402); nothing
    was stored. The body carries the budget's figures."""

    http_status = 402
    type = ErrorType.BUDGET_EXCEEDED

    def __init__(self, message: str, *, budget: str, limit: float, spent: float, reserved: float, requested: float) -> None:
        super().__init__(message)
        self.figures = {"budget": budget, "limit": limit, "spent": round(spent, 6), "reserved": round(reserved, 6), "requested": round(requested, 6)}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.figures}
