"""The one place where a provider's own exceptions become the HAL's errors.

Provider code runs SDKs that raise whatever they raise: a ``ValueError`` for a
channel name that does not exist, ``ProfileNotFound`` for an ``AWS_PROFILE``
that names nothing, a parse error for a garbled connection string. At request
time (availability, backends, default backend, validation, cost) every such
exception crosses :func:`provider_calls`, which turns it into a 503
``ProviderUnavailable`` that carries the SDK's message, or a 400 where the
exception is about the job's circuit. Either way the client gets an answer
that says what is wrong, and nothing else changes. The message never carries
a credential: values of the environment's credential variables are masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from . import errors
from .retry import classify

#: environment variables whose values are secrets wherever they appear
_SECRET_NAME = re.compile(r"(TOKEN|KEY|SECRET|PASSWORD|PASSWD|CONNECTION_STRING|CREDENTIAL|APIKEY|AUTH)", re.I)
#: exceptions from these packages, raised while checking a job, concern the circuit, not the service
_CIRCUIT_MODULES = ("qiskit.circuit", "qiskit.transpiler", "qiskit.qasm", "qiskit.exceptions", "qiskit.passmanager", "braket.circuits")
MAX_MESSAGE = 500


@contextmanager
def provider_calls(provider: str, doing: str, *, about_job: bool = False) -> Iterator[None]:
    """Run provider code; anything it raises that is not a ``HalError`` becomes one.

    ``doing`` completes "provider X could not ...". With ``about_job`` (validation
    and cost of one job), an exception from Qiskit's or Braket's circuit code is a
    400 ``InvalidCircuit``; everything else is a 503.
    """
    try:
        yield
    except errors.HalError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: never a 500 for a provider's state
        raise provider_error(provider, doing, exc, about_job=about_job) from None


def provider_error(provider: str, doing: str, exc: BaseException, *, about_job: bool = False) -> errors.HalError:
    """The HAL error for an exception that escaped provider code."""
    text = describe(exc)
    if about_job and type(exc).__module__.startswith(_CIRCUIT_MODULES):
        return errors.InvalidCircuit(f"{provider} cannot take this circuit: {text}")
    if classify(exc) is not None:
        return errors.ProviderUnavailable(f"provider {provider!r} is not answering (try again): {text}")
    return errors.ProviderUnavailable(f"provider {provider!r} could not {doing}: {text}")


def message_of(exc: BaseException) -> str:
    """What a job's status or error says of an exception: the HAL's message, or the
    exception's type and text (credentials masked)."""
    return exc.message if isinstance(exc, errors.HalError) else describe(exc)


def describe(exc: BaseException) -> str:
    """``Type: message``, credentials masked, at most :data:`MAX_MESSAGE` characters."""
    message = str(exc).strip() or "(no message)"
    text = mask_secrets(f"{type(exc).__name__}: {message}")
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def mask_secrets(text: str) -> str:
    """``text`` with the value of every credential-like environment variable replaced by ``***``."""
    for name, value in os.environ.items():
        if len(value) >= 6 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, "***")
    return text
