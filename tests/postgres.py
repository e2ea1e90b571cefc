"""The PostgreSQL fixtures (imported by ``conftest.py``): ``pg_cluster``, one
throwaway cluster per session (:class:`hal_jupyter.offline.postgres.PostgresCluster`),
and ``pg_url``, one fresh database per test."""

from __future__ import annotations

import atexit
import secrets
from collections.abc import Iterator

import pytest

from hal_jupyter.offline.postgres import PostgresCluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the test session, stopped and removed at its end."""
    cluster = PostgresCluster()
    atexit.register(cluster.cleanup)  # also when the session ends without teardown
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()
        atexit.unregister(cluster.cleanup)


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database ``hal_<8 hex>`` on ``pg_cluster``: its SQLAlchemy URL; dropped after the test."""
    if not pg_cluster.is_running():  # a test before this one stopped or killed it
        pg_cluster.start()
    name = f"hal_{secrets.token_hex(4)}"
    url = pg_cluster.create_database(name)
    yield url
    try:
        pg_cluster.drop_database(name)
    except Exception:  # the cluster is down (a test stopped it): nothing to drop
        pass
