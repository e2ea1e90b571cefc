"""The job store decides: conditional, fenced writes; claims and leases; migrations.

Every test here runs on SQLite and on a real PostgreSQL (``both_stores``).
"""

from __future__ import annotations

import sqlite3
import time

import pytest
import sqlalchemy as sa

from hal_jupyter.engine import errors
from hal_jupyter.engine.store import SCHEMA_VERSION, JobStore

pytestmark = pytest.mark.both_stores
STAMP = "2026-01-01T00:00:00.000000Z"


def _row(job_id: str, **extra):
    return {
        "id": job_id, "kind": "quantum", "provider": "local_simulator", "backend": "aer_simulator",
        "name": None, "tags": ["a"], "priority": "standard", "status": "QUEUED", "status_message": None,
        "created_at": STAMP, "updated_at": STAMP, "shots": 10, "payload": {"circuit": "x"}, "attempts": 0,
        "group_key": "g1", **extra,
    }


@pytest.fixture
def store(db_url):
    store = JobStore(db_url)
    yield store
    store.close()


def _engine(store: JobStore, name: str, lease_s: float = 30.0) -> str:
    store.leases.register(name, label=name, host="elsewhere", pid=1, dispatch=True, lease_s=lease_s)
    return name


def test_sqlite_file_in_wal_mode_with_a_schema_version(tmp_path, store_kind):
    path = tmp_path / "deep" / "jobs.sqlite"
    store = JobStore(f"sqlite:///{path}")
    store.insert_jobs([_row("j1")])
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM hal_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_newer_schema_is_refused_not_damaged(db_url):
    JobStore(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE hal_meta SET value='99' WHERE key='schema_version'"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="newer than this hal-jupyter"):
        JobStore(db_url)


def test_a_store_from_before_alembic_upgrades_in_place_and_its_jobs_are_taken_up(db_url):
    from alembic import command
    from alembic.config import Config

    from hal_jupyter.engine import schema

    engine = sa.create_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(schema.__file__).replace("schema.py", "migrations"))
    with engine.begin() as conn:  # schema version 1, as hal-jupyter 0.1 left it: no alembic_version
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(
            sa.text(
                "INSERT INTO hal_jobs (id, kind, provider, tags, priority, status, created_at, updated_at, payload, attempts, batch_id)"
                " VALUES ('old', 'quantum', 'local_simulator', '[]', 'standard', 'RUNNING', :s, :s, '{}', 1, 'b-old')"
            ),
            {"s": STAMP},
        )
    engine.dispose()
    store = JobStore(db_url)
    try:
        row = store.get_job("old")
        assert row["status"] == "RUNNING" and row["fence"] == 0 and row["owner"] is None
        me = _engine(store, "e-new")
        assert [r["id"] for r in store.leases.claim(me)] == ["old"]  # in flight with no engine: taken up
        with store._engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD
    finally:
        store.close()
    JobStore(db_url).close()  # a second open finds it current


def test_a_result_lands_with_its_status_and_a_terminal_job_never_changes_again(store):
    me = _engine(store, "e-1")
    store.insert_jobs([_row("j1"), _row("j2", tags=["b"])], engine_id=me)
    assert store.get_job("j1")["payload"] == {"circuit": "x"}
    assert [r["id"] for r in store.list_jobs(tag="b")] == ["j2"]
    assert store.apply(me, [("j1", 1, {"status": "COMPLETED"}, {"counts": {"0": 10}})]) == {"j1"}
    assert store.get_job("j1")["status"] == "COMPLETED" and store.get_result("j1") == {"counts": {"0": 10}}
    # a late answer: refused by the store, result untouched
    assert store.apply(me, [("j1", 1, {"status": "FAILED"}, {"counts": {"1": 10}})]) == set()
    assert store.get_job("j1")["status"] == "COMPLETED" and store.get_result("j1") == {"counts": {"0": 10}}


def test_writes_of_another_engine_or_an_old_fencing_token_change_nothing(store):
    me, other = _engine(store, "e-1"), _engine(store, "e-2")
    store.insert_jobs([_row("j1")], engine_id=me)
    assert store.apply(other, [("j1", 1, {"status_message": "x"}, None)]) == set()
    assert store.apply(me, [("j1", 0, {"status_message": "x"}, None)]) == set()
    assert store.start_batch(other, {"id": "b1", "provider": "p", "backend": None, "job_ids": ["j1"], "created_at": STAMP, "trigger": "size"}, {"j1": 1}, {"status": "SUBMITTING"}) == set()
    assert store.batch_count() == 0
    assert store.get_job("j1")["status_message"] is None


def test_an_idempotency_key_taken_is_told_by_the_constraint(store):
    store.insert_jobs([_row("j1")], idempotency_key=("k", "hash"))
    assert store.find_idempotency_key("k") == ("hash", ["j1"])
    with pytest.raises(errors.IdempotencyKeyTaken):
        store.insert_jobs([_row("j2")], idempotency_key=("k", "hash"))
    assert store.get_job("j2") is None  # the transaction changed nothing


def test_a_group_held_by_one_engine_gathers_the_jobs_other_servers_accept(store):
    a, b = _engine(store, "e-a"), _engine(store, "e-b")
    store.insert_jobs([_row("a1")], engine_id=a)
    store.insert_jobs([_row("b1"), _row("b2", group_key="g2"), _row("b3", priority="high")], engine_id=b)
    held = {r["id"]: r["engine_id"] for r in store.list_jobs()}
    assert held == {"a1": "e-a", "b1": None, "b2": "e-b", "b3": "e-b"}
    assert store.leases.claim(b) == []  # b1's group is a's
    assert [r["id"] for r in store.leases.claim(a)] == ["b1"]


def test_an_expired_lease_is_taken_over_and_the_old_engine_is_fenced_off(store):
    old = _engine(store, "e-old", lease_s=0.3)
    store.insert_jobs([_row("j1")], engine_id=old)
    store.start_batch(old, {"id": "b1", "provider": "local_simulator", "backend": None, "job_ids": ["j1"], "created_at": STAMP, "trigger": "size"}, {"j1": 1}, {"status": "SUBMITTING", "batch_id": "b1"})
    new = _engine(store, "e-new")
    assert store.leases.claim(new) == []  # still live
    time.sleep(0.4)
    (row,) = store.leases.claim(new)
    assert (row["id"], row["engine_id"], row["fence"], row["status"]) == ("j1", "e-new", 2, "SUBMITTING")
    assert store.leases.heartbeat(old, 0.3) is False
    assert store.apply(old, [("j1", 1, {"status": "SUBMITTED"}, None)]) == set()
    assert store.apply(new, [("j1", 2, {"status": "SUBMITTED"}, None)]) == {"j1"}


def test_a_clean_stop_releases_queued_and_in_flight_jobs_at_once(store):
    a, b = _engine(store, "e-a"), _engine(store, "e-b")
    store.insert_jobs([_row("q1"), _row("f1", group_key="g9")], engine_id=a)
    store.start_batch(a, {"id": "b1", "provider": "local_simulator", "backend": None, "job_ids": ["f1"], "created_at": STAMP, "trigger": "size"}, {"f1": 1}, {"status": "SUBMITTING", "batch_id": "b1"})
    assert store.leases.release(a) == 2
    assert sorted(r["id"] for r in store.leases.claim(b)) == ["f1", "q1"]


def test_cancel_a_free_job_by_claiming_it_or_ask_the_live_engine_that_drives_it(store):
    a, b = _engine(store, "e-a"), _engine(store, "e-b")
    store.insert_jobs([_row("free")])
    store.insert_jobs([_row("driven", group_key="g3")], engine_id=a)
    assert store.leases.claim_job(b, "free")["engine_id"] == "e-b"
    assert store.leases.claim_job(b, "driven") is None
    assert store.leases.request_cancel("driven") is True
    assert store.leases.cancel_requests(a) == ["driven"] and store.leases.cancel_requests(b) == []
