"""The provider contract, where third-party providers written for hal-jupyter 0.1
import it from. It lives in :mod:`hal_jupyter.engine.contract` (imports point down:
providers depend on the engine's contract, never the other way)."""

from __future__ import annotations

from ..engine.contract import *  # noqa: F403
from ..engine.contract import __all__  # noqa: F401
