"""The job store's tables, its clock, and its migrations.

One schema serves SQLite (the embedded default) and PostgreSQL (one store
shared by many servers and workers). Alembic upgrades an existing store in
place; a store made before Alembic (schema version 1) is stamped first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

#: ``hal_meta.schema_version``: an older hal-jupyter refuses a store newer than itself.
SCHEMA_VERSION = 4
#: the Alembic revision this code expects (migrations/versions)
HEAD = "0004"
#: ``pg_advisory_xact_lock`` key of migrations (transaction-scoped: released at commit, never leaked by a pool)
MIGRATION_LOCK = 0x4A11_0001

metadata = sa.MetaData()

jobs = sa.Table(
    "hal_jobs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(200), nullable=False, index=True),
    sa.Column("backend", sa.String(200)),
    sa.Column("name", sa.String(200)),
    sa.Column("tags", sa.Text, nullable=False, default="[]"),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # (v3: ix_hal_jobs_queued_groups serves it)
    sa.Column("status_message", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False, index=True),
    sa.Column("submitted_at", sa.String(40)),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("batch_id", sa.String(64), index=True),
    sa.Column("remote_id", sa.String(400)),
    sa.Column("shots", sa.Integer),
    sa.Column("cost_estimate", sa.Text),
    sa.Column("error", sa.Text),
    # What the provider needs to (re)submit the job: circuit or code, args, options.
    sa.Column("payload", sa.Text, nullable=False),
    # How many provider calls carried this job (more than 1 only for free local
    # runs that were lost in a crash and run again).
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    # v2: who submitted it; which jobs may share a batch; the lease.
    sa.Column("owner", sa.String(200), index=True),
    sa.Column("group_key", sa.String(64)),
    # The engine driving the job (its lease: live while hal_engines says so) ...
    sa.Column("engine_id", sa.String(64), index=True),
    # ... and the fencing token, raised by every claim: a write carries the token
    # it was claimed with, so an engine that lost the job changes nothing.
    sa.Column("fence", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # v4: what it cost (JSON, as cost_estimate); the execution it asked for (JSON); the
    # budgets its estimate is reserved against (JSON list of names; NULL: none)
    sa.Column("cost_actual", sa.Text),
    sa.Column("execution", sa.Text),
    sa.Column("budgets", sa.Text),
    # which groups other engines hold queued (every claim asks)
    sa.Index("ix_hal_jobs_queued_groups", "status", "group_key", "engine_id"),
)

results = sa.Table(
    "hal_results",
    metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
)

batches = sa.Table(
    "hal_batches",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("backend", sa.String(200)),
    sa.Column("job_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
)

idempotency = sa.Table(
    "hal_idempotency",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("job_ids", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

meta = sa.Table(
    "hal_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: what an event needs of a job: everything but its payload
RECORD_COLUMNS = tuple(c for c in jobs.c if c.name != "payload")

#: v2: every engine (server or worker) that drives jobs; its lease is live until ``expires_at``.
engines = sa.Table(
    "hal_engines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("dispatch", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    # v3: the providers it drives, a JSON list (NULL: every provider)
    sa.Column("providers", sa.Text),
)


#: v4: spending limits (docs/API.md, "Spend control"); ``source``: "config" (HalExtension.budgets) or "api"
budgets = sa.Table(
    "hal_budgets",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("limit_amount", sa.Float, nullable=False),
    sa.Column("currency", sa.String(16), nullable=False),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # JSON: owner, provider, tag (each optional)
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

#: v4: a job's estimate reserved against a budget in a period, then what it cost (``spent``)
charges = sa.Table(
    "hal_charges",
    metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("budget", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(16), nullable=False),  # "2026-12-03", "2026-12" or "total"
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("spent", sa.Boolean, nullable=False, default=False),
)

#: v4: each budget's totals per period, kept with its charges (a reservation reads and locks one row,
#: however many jobs the period holds)
budget_usage = sa.Table(
    "hal_budget_usage",
    metadata,
    sa.Column("budget", sa.String(200), primary_key=True),
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("spent", sa.Float, nullable=False, default=0.0),
    sa.Column("reserved", sa.Float, nullable=False, default=0.0),
)

#: v4: provider sessions opened for a session name (one owner's, on one provider and backend)
sessions = sa.Table(
    "hal_sessions",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("backend", sa.String(200), nullable=False),
    sa.Column("session_id", sa.String(400), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # open, closed
    sa.Column("opened_at", sa.String(40), nullable=False),
    sa.Column("last_used_at", sa.String(40), nullable=False),
    sa.Column("closed_at", sa.String(40)),
    sa.Column("job_ids", sa.Text, nullable=False),  # JSON list
    sa.Column("reason", sa.Text),
)

JSON_COLUMNS = ("tags", "cost_estimate", "error", "payload", "cost_actual", "execution", "budgets")


def encode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in JSON_COLUMNS:
        if col in out and out[col] is not None and not isinstance(out[col], str):
            out[col] = json.dumps(out[col])
    return out


def dump_result(result: Any) -> str:
    """A result as the results table keeps it: orjson (~7x faster than json on the
    per-shot bitstrings of a large sampling result), json for what orjson refuses
    (integers beyond 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(result).decode()
    except TypeError:
        return json.dumps(result)


def load_result(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN and Infinity, which json writes and orjson does not read
        return json.loads(text)


def decode(row: sa.Row[Any] | Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for col in JSON_COLUMNS:
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out


def db_now(dialect: str) -> sa.ColumnElement[float]:
    """The database's clock in epoch seconds: every engine judges leases by one clock."""
    if dialect == "postgresql":
        return sa.literal_column("extract(epoch from clock_timestamp())::float8", sa.Float)
    return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)


def migrate(engine: sa.Engine, url: str) -> None:
    """Bring the store to :data:`HEAD`: create it, upgrade it in place, or refuse a newer one."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        version = None
        if "alembic_version" in tables:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        found = None
        if "hal_meta" in tables:
            found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if found is not None and int(found) > SCHEMA_VERSION:
        raise RuntimeError(
            f"the job store at {url} has schema version {found}, newer than this "
            f"hal-jupyter ({SCHEMA_VERSION}); upgrade hal-jupyter"
        )
    if version == HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # servers starting together migrate one at a time
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config.attributes["connection"] = conn
        try:
            if "hal_jobs" in tables and version is None:  # a store from before Alembic: schema v1
                command.stamp(config, "0001")
            command.upgrade(config, "head")
        except CommandError as exc:
            raise RuntimeError(
                f"the job store at {url} is at migration {version!r}, which this hal-jupyter does not know "
                f"(a newer release made it?): {exc}"
            ) from exc
