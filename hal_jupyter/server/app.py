"""The Jupyter server extension: ``HalExtension`` hosts the engine and its REST API.

Loading the extension must not slow ``jupyter server`` down: every server
start pays for it, and most never send a job. So neither this module nor the
handlers import anything heavy, and the engine (SQLAlchemy, pydantic models,
the provider registry, then Qiskit) is built and started off the start path,
once the server serves: on a long-lived thread of its own (Qiskit's first import
must not happen on a thread that exits, see docs/PROVIDERS.md), then on the event
loop, where the engine resumes earlier jobs and warms up its providers.
Requests that come earlier wait for it (:class:`PendingEngine`), as they
already wait for ``Engine.start``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, default

from ..engine import limits
from ..engine.policy import STRATEGIES

if TYPE_CHECKING:
    from ..engine.engine import Engine, EngineConfig, Viewer

STOP_WAIT_S = 30.0  # how long stopping the server waits for an engine still starting
REBUILD_AFTER_S = 2.0  # an engine that could not be built is tried again on a request after this long


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
    max_shots = Int(limits.MAX_SHOTS, config=True, help="Most shots one quantum job may ask for.")
    max_circuit_bytes = Int(limits.MAX_CIRCUIT_BYTES, config=True, help="Largest circuit (or classical args) accepted, in bytes (413 above).")
    max_request_bytes = Int(20_000_000, config=True, help="Largest request body accepted, in bytes (413 above).")
    max_local_qubits = Int(limits.MAX_LOCAL_QUBITS, config=True, help="Most qubits the local simulator runs (memory grows as 2**qubits).")
    local_python_timeout_s = Float(
        limits.LOCAL_PYTHON_TIMEOUT_S, config=True, help="Longest a local_python job may run (s); a job's own timeout_s is capped by it."
    )
    local_python_memory_mb = Int(limits.LOCAL_PYTHON_MEMORY_MB, config=True, help="Memory (address space) a local_python job may use, in MiB.")
    provider_timeout_s = Float(limits.PROVIDER_TIMEOUT_S, config=True, help="How long a call to a cloud provider may wait for its answer, in seconds.")
    submit_attempts = Int(limits.SUBMIT_ATTEMPTS, config=True, help="Attempts at a submission that meets transient faults (5xx, throttling, timeouts).")
    retry_base_s = Float(limits.RETRY_BASE_S, config=True, help="First backoff between submission attempts, in seconds; it doubles each time, with jitter.")
    retry_max_s = Float(limits.RETRY_MAX_S, config=True, help="Longest backoff between submission attempts, in seconds.")
    max_poll_failures = Int(limits.MAX_POLL_FAILURES, config=True, help="Failed status checks in a row after which a job is UNKNOWN.")
    degraded_after = Int(limits.DEGRADED_AFTER, config=True, help="Failed calls in a row after which a provider is listed as degraded.")
    local_executor = Unicode(
        limits.LOCAL_EXECUTOR,
        config=True,
        help="Where local work runs (local_simulator batches, local_python jobs): 'process' (worker processes of "
        "this server) or 'dask' (a Dask cluster, see dask_address; needs pip install 'hal-jupyter[dask]'). "
        "Any other value: the engine does not start and requests answer 503 saying why.",
    )
    dask_address = Unicode(
        "",
        config=True,
        help="The Dask scheduler local work goes to when local_executor is 'dask' (tcp://host:8786, e.g. a "
        "dask-gateway or dask-kubernetes cluster's). Empty: an embedded distributed.LocalCluster started on first use.",
    )
    env_file = Unicode(
        ".env",
        config=True,
        help="Providers' credential variables read from this file (relative to the server's working directory) "
        "where the environment does not set them; empty: none.",
    )

    dispatch = Bool(
        True,
        config=True,
        help="Whether this server drives jobs itself. False: it accepts and serves jobs and leaves driving them "
        "to workers (hal-jupyter worker) and other servers sharing its job store.",
    )
    admin_users = List(Unicode(), config=True, help="Users who see every user's jobs (others see only their own).")
    user = Unicode(
        "",
        config=True,
        help="The user this server's jobs belong to when its login does not name one (Jupyter's own token or "
        "password login). Empty: $JUPYTERHUB_USER, else the operating-system account running the server.",
    )
    warm_up = Bool(
        True,
        config=True,
        help="Prepare providers when the server starts (the local simulator's worker process imports Aer "
        "meanwhile), so the first job does not wait for it. False: each provider prepares at its first job.",
    )
    lease_s = Float(
        15.0,
        config=True,
        help="How long this server's claim on the jobs it drives lasts without a heartbeat (s); when it dies, "
        "the other engines sharing the store take its jobs over after this long.",
    )

    session_idle_s = Float(
        300.0,
        config=True,
        help="v1.2: a provider session opened for a session name (execution.session) closes after this many "
        "seconds without jobs (POST /hal/api/sessions/{name}/close closes it at once).",
    )
    budgets = List(
        Dict(),
        config=True,
        help="v1.2: spending limits, each {name, limit, currency, period: day|month|total, scope: {owner, provider, tag}, "
        "action: refuse|hold}; set in the job store at start (over API changes of the same name). "
        "admin_users may also set them with PUT /hal/api/budgets/{name}.",
    )

    @default("user")
    def _default_user(self) -> str:
        import getpass
        import os

        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    def viewer(self, handler: Any) -> Viewer:
        """Whose jobs a request acts for: the login's user when the identity provider names one
        (JupyterHub's), else this server's user (Jupyter's own token login is anonymous)."""
        from ..engine.engine import Viewer

        name = self.user
        current = getattr(handler, "current_user", None)
        provider = getattr(handler, "identity_provider", None)
        if current is not None and provider is not None and not type(provider).__module__.startswith("jupyter_server."):
            name = current.username
        return Viewer(name, admin=name in self.admin_users)

    @default("allowed_providers")
    def _default_allowed(self) -> None:
        return None

    def engine_config(self) -> EngineConfig:
        from ..engine.engine import EngineConfig
        from ..engine.contract import Settings

        return EngineConfig(
            db_url=self.db_url or None,
            batch_window_s=self.batch_window_s,
            batch_max_size=self.batch_max_size,
            batch_strategy=self.batch_strategy,
            batch_max_wait_s=self.batch_max_wait_s,
            allowed_providers=self.allowed_providers,
            blocked_providers=list(self.blocked_providers),
            env_file=self.env_file or None,
            dispatch=self.dispatch,
            lease_s=self.lease_s,
            warm_up=self.warm_up,
            session_idle_s=self.session_idle_s,
            budgets=[dict(b) for b in self.budgets],
            label=f"jupyter server {self.serverapp.ip or 'localhost'}:{self.serverapp.port}" if self.serverapp else "jupyter server",
            # every Settings field is a trait of the same name
            settings=Settings(**{f.name: getattr(self, f.name) for f in fields(Settings)}),
        )

    def initialize_settings(self) -> None:
        hal_log = logging.getLogger("hal_jupyter")
        hal_log.handlers = list(self.log.handlers)
        hal_log.setLevel(self.log.level)
        hal_log.propagate = False
        self._pending = PendingEngine(self._new_engine)
        self.engine: Engine | PendingEngine = self._pending
        self._started: asyncio.Future[None] | None = None
        self.settings.update(hal_engine=self.engine, hal_max_request_bytes=self.max_request_bytes, hal_viewer=self.viewer)

    def initialize_handlers(self) -> None:
        from . import apidocs, events, handlers, spend_handlers

        self.handlers.extend(handlers.default_handlers + spend_handlers.default_handlers + events.default_handlers + apidocs.default_handlers)

    def _new_engine(self) -> Engine:
        from ..engine.engine import Engine

        return Engine(self.engine_config())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Returns at once: the engine is built and started in the background."""
        self._pending._build()
        self._started = asyncio.ensure_future(self._start_engine(serverapp))

    async def _start_engine(self, serverapp: Any) -> None:
        try:
            engine = await asyncio.wrap_future(self._pending._build())
            self.engine = self.settings["hal_engine"] = serverapp.web_app.settings["hal_engine"] = engine
            await engine.start()
        except Exception as exc:  # noqa: BLE001 - requests answer 503 with the reason and retry the start
            from ..engine.boundary import describe

            self.log.error("hal_jupyter: the engine did not start (requests answer 503 and try again): %s", describe(exc))
            return
        self.log.info("hal_jupyter: engine started, job store %s", _safe_url(engine.store.url))

    async def stop_extension(self) -> None:
        if self._started is not None:
            await asyncio.wait([self._started], timeout=STOP_WAIT_S)
        engine = self._pending._engine()
        if engine is not None:
            await engine.stop()


class PendingEngine:
    """Stands in for the engine in the server's settings until it exists.

    The engine is built on the start thread (:func:`start_thread`) once the
    server serves, or on first use, whichever comes first; any use waits for it
    (at most the time of the imports, once, in the first moment after the
    server starts) and then goes to the engine. The extension swaps the engine
    in as soon as it exists. Its own members start with ``_``, so that they
    never hide the engine's.
    """

    def __init__(self, new_engine: Callable[[], Engine]) -> None:
        self._new_engine = new_engine
        self._built: Future[Engine] | None = None
        self._failed_at = 0.0

    def _build(self) -> Future[Engine]:
        """Starts the build unless it has begun (or failed a while ago: a job store
        that was down may be up now); the engine, when built."""
        built = self._built
        if built is not None and built.done() and built.exception() is not None:
            if not self._failed_at:
                self._failed_at = time.monotonic()
            if time.monotonic() - self._failed_at >= REBUILD_AFTER_S:
                built, self._failed_at = None, 0.0
        if built is None:
            built = self._built = start_thread().submit(self._new_engine)
        return built

    def _engine(self) -> Engine | None:
        """The engine if it was built, else None."""
        built = self._built
        if built is None or not built.done() or built.exception() is not None:
            return None
        return built.result()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            engine = self._build().result()
        except Exception as exc:  # noqa: BLE001 - a 503 that says why, never a 500
            from ..engine import errors
            from ..engine.boundary import describe

            raise errors.StoreUnavailable(f"the job engine could not start: {describe(exc)}") from None
        return getattr(engine, name)


@functools.cache
def start_thread() -> ThreadPoolExecutor:
    """The thread that imports the engine's modules and builds engines.

    It lives as long as the process: a first import of Qiskit (which modules the
    engine loads may pull in) must not happen on a thread that exits (a later parse on another thread crashed, docs/PROVIDERS.md),
    and a test session starts and stops many servers in one process.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="hal-start")


def _safe_url(url: str) -> str:
    """The store URL without a password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
