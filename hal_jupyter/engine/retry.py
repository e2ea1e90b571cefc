"""Which provider errors are worth another try, and how long to wait before it.

The SDKs raise their own exception types (botocore, azure-core, requests,
ibm-cloud-sdk-core, qiskit-ibm-runtime). They are told apart here by HTTP
status, error code and class name, without importing any SDK, and following
``__cause__`` / ``__context__`` where a provider wrapped the SDK's error.

A transient fault also says whether the provider may have *received* the
call: a throttled or refused call surely was not taken (safe to send again
anywhere), a timeout or a 5xx may have been (safe to send again only with an
idempotency token, see ``Provider.resubmit_safe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .clock import Clock

#: the provider answered "too many requests" or "unavailable, not now": the call was not taken
THROTTLED = {429, 503}
#: the call may or may not have been carried out
SERVER_FAULTS = {408, 500, 502, 504}
NOT_SENT_CLASSES = {
    "ConnectTimeout", "ConnectTimeoutError", "ConnectionRefusedError", "EndpointConnectionError",
    "NewConnectionError", "ServiceRequestError",
}
MAYBE_SENT_CLASSES = {
    "ReadTimeout", "ReadTimeoutError", "ServiceResponseError", "TimeoutError", "timeout",
    "ConnectionClosedError", "ConnectionResetError", "RemoteDisconnected", "ProtocolError", "ChunkedEncodingError",
}
THROTTLING_CODES = ("Throttl", "TooManyRequests", "SlowDown", "RequestLimitExceeded", "ServiceUnavailable")
SERVER_CODES = ("InternalServer", "InternalService", "InternalFailure", "InternalError")


@dataclass(frozen=True)
class Fault:
    """A transient fault: retrying may succeed."""

    #: False when the provider surely did not take the call; None when it may have
    received: bool | None
    reason: str


def classify(exc: BaseException) -> Fault | None:
    """The transient fault in ``exc`` (or what caused it); ``None`` if it is permanent."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        fault = _classify_one(current)
        if fault is not None:
            return fault
        current = current.__cause__ or current.__context__
    return None


def _classify_one(exc: BaseException) -> Fault | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    status, code = _status(exc), _code(exc)
    if status in THROTTLED or any(c in code for c in THROTTLING_CODES):
        return Fault(False, f"throttled or unavailable ({status or code})")
    if status in SERVER_FAULTS or any(c in code for c in SERVER_CODES):
        return Fault(None, f"server error ({status or code})")
    if names & NOT_SENT_CLASSES:
        return Fault(False, f"could not connect ({type(exc).__name__})")
    if names & MAYBE_SENT_CLASSES:
        return Fault(None, f"no answer ({type(exc).__name__})")
    return None


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    else:
        value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "")
    error = getattr(exc, "error", None)  # azure-core's ODataV4Format
    return str(getattr(error, "code", "") or "")


def backoff(attempt: int, base_s: float, max_s: float, clock: Clock) -> float:
    """Exponential backoff with jitter: about ``base * 2**(attempt-1)``, between half and
    all of it (the jitter drawn from the engine's clock)."""
    return min(max_s, base_s * 2 ** (attempt - 1)) * clock.jitter(0.5, 1.0)


__all__ = ["Fault", "backoff", "classify"]
