"""The throwaway PostgreSQL cluster of ``tests/postgres.py`` is a real server."""

from __future__ import annotations

import secrets

import psycopg
import pytest
import sqlalchemy as sa

from .postgres import PostgresCluster  # noqa: F401 - the fixtures come from tests/conftest.py


def test_select_1(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            assert conn.execute(sa.text("show server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


def test_each_test_has_its_own_database(pg_cluster: PostgresCluster, pg_url: str) -> None:
    name = sa.make_url(pg_url).database
    assert name is not None and name.startswith("hal_") and len(name) == len("hal_") + 8
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table jobs (id serial primary key, status text not null)"))
            conn.execute(sa.text("insert into jobs (status) values ('queued')"))
        assert "jobs" in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(sa.text("select status from jobs")).scalars().all() == ["queued"]
    finally:
        engine.dispose()
    # a fresh database for the next test: the superuser sees this one, without the table elsewhere
    assert pg_cluster.execute("select count(*) from pg_database where datname = %s", params=(name,)) == [(1,)]


def test_restart_keeps_the_url_and_the_data(pg_cluster: PostgresCluster, pg_url: str) -> None:
    engine = sa.create_engine(pg_url, pool_pre_ping=True)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (42)"))
        port = pg_cluster.port
        old = engine.connect()  # held across the restart: the server ends it
        pg_cluster.restart()
        assert pg_cluster.port == port
        with pytest.raises(sa.exc.DBAPIError):
            old.execute(sa.text("select 1"))
        old.close()
        with sa.create_engine(pg_url).connect() as conn:  # a new connection, the same URL
            assert conn.execute(sa.text("select x from t")).scalar_one() == 42
        with engine.connect() as conn:  # the pool replaces its dead connection
            assert conn.execute(sa.text("select x from t")).scalar_one() == 42
    finally:
        engine.dispose()


def test_recovers_after_a_crash(pg_cluster: PostgresCluster, pg_url: str) -> None:
    engine = sa.create_engine(pg_url, pool_pre_ping=True)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (7)"))  # committed: survives the crash (WAL)
        pending = engine.connect()
        pending.execute(sa.text("insert into t values (8)"))  # never committed: lost
        pg_cluster.kill()
        assert not pg_cluster.is_running()
        with pytest.raises(sa.exc.OperationalError):
            with sa.create_engine(pg_url, connect_args={"connect_timeout": 5}).connect():
                pass
        with pytest.raises(sa.exc.DBAPIError):
            pending.commit()
        pending.close()
        pg_cluster.start()
        with engine.connect() as conn:
            assert conn.execute(sa.text("select x from t")).scalars().all() == [7]
    finally:
        engine.dispose()


def test_role_logs_in_with_its_password_only(pg_cluster: PostgresCluster, pg_url: str) -> None:
    dbname = sa.make_url(pg_url).database
    assert dbname is not None
    role, password = f"hal_role_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    pg_cluster.create_role(role, password)
    try:
        engine = sa.create_engine(pg_cluster.url(dbname, user=role, password=password))
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("select current_user")).scalar_one() == role
                superuser = conn.execute(sa.text("select rolsuper from pg_roles where rolname = current_user"))
                assert superuser.scalar_one() is False
        finally:
            engine.dispose()
        wrong = sa.create_engine(pg_cluster.url(dbname, user=role, password=password + "x"))
        with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
            with wrong.connect():
                pass
        wrong.dispose()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            pg_cluster.connect(dbname, user=role, password="wrong").close()
    finally:
        pg_cluster.execute(f'drop role if exists "{role}"')  # it owns nothing


def test_superuser_needs_its_password(pg_cluster: PostgresCluster) -> None:
    assert pg_cluster.superuser_url() == pg_cluster.url("postgres")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg_cluster.connect(password="not-the-password").close()
