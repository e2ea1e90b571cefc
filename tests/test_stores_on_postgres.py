"""The job store's unit tests (``tests/unit/test_lifecycle.py``, ``tests/unit/test_store.py``)
again, on a real PostgreSQL: the throwaway cluster of ``tests/postgres.py``.

Every transition from every status is refused or taken by PostgreSQL itself, as by
SQLite. One migrated database serves the module; each test starts from empty tables.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from hal_jupyter.engine.database import Database
from hal_jupyter.engine.leases import Leases
from hal_jupyter.engine.schema import SCHEMA_VERSION
from hal_jupyter.engine.store import JobStore

from .unit.conftest import Stores
from .unit.test_lifecycle import *  # noqa: F403 - the same tests, collected here with this module's fixtures
from .unit.test_store import *  # noqa: F403

del test_sqlite_file_in_wal_mode_with_a_schema_version  # noqa: F821 - SQLite's own

TABLES = ("hal_jobs", "hal_results", "hal_batches", "hal_idempotency", "hal_engines")


@pytest.fixture(scope="module")
def pg_database(pg_cluster) -> Iterator[Database]:
    """One migrated database for the module."""
    name = "hal_lifecycle"
    url = pg_cluster.create_database(name)
    db = Database(url)
    yield db
    db.close()
    pg_cluster.drop_database(name)


@pytest.fixture
def stores(pg_database: Database) -> Iterator[Stores]:
    with pg_database.write() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        conn.execute(sa.text("UPDATE hal_meta SET value = :v WHERE key = 'schema_version'"), {"v": str(SCHEMA_VERSION)})
    stores = Stores(pg_database, JobStore(pg_database), Leases(pg_database))
    yield stores
    for event, fn in stores.listeners:
        sa.event.remove(pg_database.engine, event, fn)


@pytest.fixture
def empty_db_url(pg_url: str) -> str:
    return pg_url
