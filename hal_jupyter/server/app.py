"""The Jupyter server extension: ``HalExtension`` hosts the engine and its REST API."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, List, Unicode, default

from ..engine.engine import Engine, EngineConfig
from ..engine.policy import STRATEGIES
from ..providers.base import Settings
from .handlers import handlers


class HalExtension(ExtensionApp):
    """The hal_jupyter server extension (``c.HalExtension.<trait>`` configures it)."""

    name = "hal_jupyter"
    description = "Hardware abstraction layer: quantum and classical cloud jobs behind one REST API"
    load_other_extensions = True

    db_url = Unicode(
        "",
        config=True,
        help="Job store URL (SQLAlchemy). Empty: a SQLite file hal_jupyter/jobs.sqlite in the Jupyter data directory.",
    )
    batch_window_s = Float(
        1.0, config=True, help="Time trigger: a standard group flushes once its oldest job has waited this long (s)."
    )
    batch_max_size = Int(50, config=True, help="Size (cost) trigger: a standard group flushes when it holds this many jobs.")
    batch_strategy = Enum(
        list(STRATEGIES), "time_or_cost", config=True, help="Which batch triggers apply: time, cost or time_or_cost."
    )
    batch_max_wait_s = Float(
        300.0, config=True, help="Under the 'cost' strategy, a group that never fills still flushes after this long (s)."
    )
    allowed_providers = List(
        Unicode(), default_value=None, allow_none=True, config=True, help="Only these providers (None: all installed)."
    )
    blocked_providers = List(Unicode(), config=True, help="Providers never offered, even if installed.")
    max_shots = Int(100_000, config=True, help="Most shots one quantum job may ask for.")
    max_circuit_bytes = Int(1_000_000, config=True, help="Largest circuit (or classical args) accepted, in bytes (413 above).")
    max_request_bytes = Int(20_000_000, config=True, help="Largest request body accepted, in bytes (413 above).")
    max_local_qubits = Int(26, config=True, help="Most qubits the local simulator runs (memory grows as 2**qubits).")
    local_python_timeout_s = Float(
        300.0, config=True, help="Longest a local_python job may run (s); a job's own timeout_s is capped by it."
    )
    local_python_memory_mb = Int(2048, config=True, help="Memory (address space) a local_python job may use, in MiB.")
    provider_timeout_s = Float(60.0, config=True, help="How long a call to a cloud provider may wait for its answer, in seconds.")
    submit_attempts = Int(5, config=True, help="Attempts at a submission that meets transient faults (5xx, throttling, timeouts).")
    retry_base_s = Float(1.0, config=True, help="First backoff between submission attempts, in seconds; it doubles each time, with jitter.")
    retry_max_s = Float(60.0, config=True, help="Longest backoff between submission attempts, in seconds.")
    max_poll_failures = Int(30, config=True, help="Failed status checks in a row after which a job is UNKNOWN.")
    degraded_after = Int(3, config=True, help="Failed calls in a row after which a provider is listed as degraded.")
    env_file = Unicode(
        ".env",
        config=True,
        help="Providers' credential variables read from this file (relative to the server's working directory) "
        "where the environment does not set them; empty: none.",
    )

    @default("allowed_providers")
    def _default_allowed(self) -> None:
        return None

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            db_url=self.db_url or None,
            batch_window_s=self.batch_window_s,
            batch_max_size=self.batch_max_size,
            batch_strategy=self.batch_strategy,
            batch_max_wait_s=self.batch_max_wait_s,
            allowed_providers=self.allowed_providers,
            blocked_providers=list(self.blocked_providers),
            env_file=self.env_file or None,
            # every Settings field is a trait of the same name
            settings=Settings(**{f.name: getattr(self, f.name) for f in fields(Settings)}),
        )

    def initialize_settings(self) -> None:
        hal_log = logging.getLogger("hal_jupyter")
        hal_log.handlers = list(self.log.handlers)
        hal_log.setLevel(self.log.level)
        hal_log.propagate = False
        self.engine = Engine(self.engine_config())
        self.settings.update(hal_engine=self.engine, hal_max_request_bytes=self.max_request_bytes)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await self.engine.start()
        self.log.info("hal_jupyter: engine started, job store %s", _safe_url(self.engine.store.url))

    async def stop_extension(self) -> None:
        await self.engine.stop()


def _safe_url(url: str) -> str:
    """The store URL without a password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
