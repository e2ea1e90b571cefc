"""What an engine is told: its configuration, whose jobs a request sees, and the
``.env`` file of providers' credentials."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from .contract import Settings
from .policy import Strategy

log = logging.getLogger("hal_jupyter")


@dataclass
class EngineConfig:
    """Everything the engine needs to know; the server builds it from its traits."""

    db_url: str | None = None
    batch_window_s: float = 1.0
    batch_max_size: int = 50
    batch_strategy: Strategy = "time_or_cost"
    batch_max_wait_s: float = 300.0
    allowed_providers: list[str] | None = None
    blocked_providers: list[str] = field(default_factory=list)
    #: a .env file whose variables (providers' credentials) fill in what the environment lacks
    env_file: str | None = ".env"
    settings: Settings = field(default_factory=Settings)
    #: whether this engine drives jobs (False: a server that only accepts and serves them)
    dispatch: bool = True
    #: how long an engine's lease lasts without a heartbeat; its jobs are taken over after
    lease_s: float = 15.0
    #: how often to look for work other engines left (NOTIFY wakes it sooner on PostgreSQL)
    claim_interval_s: float = 1.0
    #: how this engine names itself in the store and the logs
    label: str = "engine"
    #: prepare providers at start (the local simulator's worker process imports Aer), so the
    #: first job does not wait for it; False: each provider prepares at its first job
    warm_up: bool = True
    #: v1.2: a provider session of a session name closes after this long without jobs
    session_idle_s: float = 300.0
    #: v1.2: budgets given in configuration (``HalExtension.budgets``): bodies with a ``name``
    budgets: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Viewer:
    """Whose jobs a request may see: its user's (and jobs with no owner), or all for an admin."""

    user: str | None
    admin: bool = False

    def sees(self, owner: str | None) -> bool:
        return self.admin or owner is None or owner == self.user

    @property
    def scope(self) -> str | None:
        """The owner to filter a listing by (None: no filter)."""
        return None if self.admin else self.user


def load_env_file(path: str) -> list[str]:
    """Set the variables of a ``.env`` file that the environment does not set
    already; returns their names (values are never logged)."""
    from dotenv import dotenv_values

    if not os.path.isfile(path):
        return []
    values = {name: value for name, value in dotenv_values(path).items() if value is not None}
    added = [name for name in values if name not in os.environ]
    for name in added:
        os.environ[name] = values[name]
    if added:
        log.info("hal_jupyter: %d variable(s) from %s: %s", len(added), os.path.abspath(path), ", ".join(sorted(added)))
    return added


__all__ = ["EngineConfig", "Viewer", "load_env_file"]
