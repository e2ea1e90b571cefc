"""The job store: durable, versioned, usable by URL."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from hal_jupyter.engine.store import SCHEMA_VERSION, JobStore


def _row(job_id: str, **extra):
    stamp = "2026-01-01T00:00:00.000000Z"
    return {
        "id": job_id, "kind": "quantum", "provider": "local_simulator", "backend": "aer_simulator",
        "name": None, "tags": ["a"], "priority": "standard", "status": "QUEUED", "status_message": None,
        "created_at": stamp, "updated_at": stamp, "shots": 10, "payload": {"circuit": "x"}, "attempts": 0, **extra,
    }


def test_sqlite_file_in_wal_mode_with_a_schema_version(tmp_path):
    path = tmp_path / "deep" / "jobs.sqlite"
    store = JobStore(f"sqlite:///{path}")
    store.insert_jobs([_row("j1")])
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM hal_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_newer_schema_is_refused_not_damaged(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    JobStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE hal_meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(RuntimeError, match="newer than this hal-jupyter"):
        JobStore(url)


def test_rows_round_trip_and_result_lands_with_its_status(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    store.insert_jobs([_row("j1"), _row("j2", tags=["b"])], idempotency_key=("k", "hash"))
    assert store.get_job("j1")["payload"] == {"circuit": "x"}
    assert [r["id"] for r in store.list_jobs(tag="b")] == ["j2"]
    assert [r["id"] for r in store.list_jobs()] == ["j2", "j1"]
    assert store.find_idempotency_key("k") == ("hash", ["j1", "j2"])
    store.finish_jobs([("j1", {"status": "COMPLETED"}, {"counts": {"0": 10}})])
    assert store.get_job("j1")["status"] == "COMPLETED" and store.get_result("j1") == {"counts": {"0": 10}}
    assert [r["id"] for r in store.unfinished_jobs()] == ["j2"]


def test_a_failed_transaction_changes_nothing(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    store.insert_jobs([_row("j1")])
    with pytest.raises(sa.exc.IntegrityError):
        store.insert_jobs([_row("j2"), _row("j1")])
    assert store.get_job("j2") is None
