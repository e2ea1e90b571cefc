"""The job store and the leases: migrations, idempotency keys, claims and takeovers.

``tests/test_stores_on_postgres.py`` runs this module again on a real PostgreSQL.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from hal_jupyter.engine import errors, lifecycle
from hal_jupyter.engine.database import Database
from hal_jupyter.engine.schema import SCHEMA_VERSION, engines

from .test_lifecycle import LATER, STAMP, row


def register(stores, name: str, lease_s: float = 30.0, providers=None) -> str:
    stores.leases.register(name, label=name, host="elsewhere", pid=1, dispatch=True, lease_s=lease_s, providers=providers)
    return name


def expire(stores, name: str) -> None:
    with stores.db.write() as conn:
        conn.execute(engines.update().where(engines.c.id == name).values(expires_at=0.0))


def test_sqlite_file_in_wal_mode_with_a_schema_version(tmp_path):
    path = tmp_path / "deep" / "jobs.sqlite"
    Database(f"sqlite:///{path}").close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM hal_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_a_newer_schema_is_refused_not_damaged(stores):
    url = stores.db.url
    with stores.db.write() as conn:
        conn.execute(sa.text("UPDATE hal_meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(RuntimeError, match="newer than this hal-jupyter"):
        Database(url)


def test_a_store_from_before_alembic_upgrades_in_place_and_its_jobs_are_taken_up(empty_db_url):
    from alembic import command
    from alembic.config import Config

    from hal_jupyter.engine import schema
    from hal_jupyter.engine.leases import Leases
    from hal_jupyter.engine.store import JobStore

    engine = sa.create_engine(empty_db_url)
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
    db = Database(empty_db_url)
    try:
        found = JobStore(db).get_job("old")
        assert found["status"] == "RUNNING" and found["fence"] == 0 and found["owner"] is None
        leases = Leases(db)
        leases.register("e-new", label="new", host="here", pid=1, dispatch=True, lease_s=30)
        assert [r["id"] for r in leases.claim("e-new")] == ["old"]  # in flight with no engine: taken up
        with db.read() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == schema.HEAD
    finally:
        db.close()
    Database(empty_db_url).close()  # a second open finds it current


def test_an_idempotency_key_taken_is_told_by_the_constraint(stores):
    stores.jobs.insert_jobs([row("j1")], idempotency_key=("k", "hash"))
    assert stores.jobs.find_idempotency_key("k") == ("hash", ["j1"])
    with pytest.raises(errors.IdempotencyKeyTaken):
        stores.jobs.insert_jobs([row("j2")], idempotency_key=("k", "hash"))
    assert stores.jobs.get_job("j2") is None  # the transaction changed nothing


def test_listing_filters_by_tag_owner_and_cursor(stores):
    stores.jobs.insert_jobs([row("a", tags=["x"], owner="alice"), row("b", tags=["y"], owner="bob"), row("c", tags=["x_y"], owner=None)])
    assert [r["id"] for r in stores.jobs.list_jobs(tag="x")] == ["a"]  # "x_y" is not tag "x": LIKE's _ is escaped
    assert [r["id"] for r in stores.jobs.list_jobs(owner="alice")] == ["c", "a"]  # newest first, unowned jobs too
    first = stores.jobs.list_jobs(limit=1)
    assert [r["id"] for r in stores.jobs.list_jobs(before_seq=first[0]["seq"])] == ["b", "a"]


def test_a_group_held_by_one_engine_gathers_the_jobs_other_servers_accept(stores):
    a, b = register(stores, "e-a"), register(stores, "e-b")
    held = stores.leases.held_groups
    stores.jobs.insert_jobs([row("a1")], engine_id=a, held_elsewhere=held)
    stores.jobs.insert_jobs([row("b1"), row("b2", group_key="g2"), row("b3", priority="high")], engine_id=b, held_elsewhere=held)
    # b1's group is a's: b hands it to a in the accepting transaction (and notifies it)
    assert {r["id"]: (r["engine_id"], r["fence"]) for r in stores.jobs.list_jobs()} == {
        "a1": ("e-a", 1), "b1": ("e-a", 1), "b2": ("e-b", 1), "b3": ("e-b", 1),
    }
    assert stores.leases.claim(a) == stores.leases.claim(b) == []


def test_alone_an_engine_asks_the_store_nothing_about_other_engines_when_it_accepts(stores):
    a = register(stores, "e-a")
    statements: list[str] = []
    stores.listen("before_cursor_execute", lambda conn, cursor, sql, *args: statements.append(sql))
    stores.jobs.insert_jobs([row("a1")], engine_id=a, held_elsewhere=stores.leases.held_groups)
    # the insert goes straight to the driver; PostgreSQL also notifies
    assert [s for s in statements if "pg_notify" not in s] == [] and stores.jobs.get_job("a1")["engine_id"] == a
    register(stores, "e-b")  # not alone any more: which groups does e-b hold?
    statements.clear()
    stores.jobs.insert_jobs([row("a2")], engine_id=a, held_elsewhere=stores.leases.held_groups)
    assert len([s for s in statements if "hal_engines" in s]) == 1


def test_an_engine_claims_and_takes_over_only_jobs_of_the_providers_it_drives(stores):
    python, sim = register(stores, "e-python", providers=["local_python"]), register(stores, "e-sim", providers=["scripted"])
    old = register(stores, "e-old")
    stores.jobs.insert_jobs([row("free-py", provider="local_python", group_key="gp"), row("free-sim")])
    stores.jobs.insert_jobs([row("left", provider="local_python", group_key="gp2")], engine_id=old)
    batch = {"id": "b1", "provider": "scripted", "backend": None, "trigger": "size"}
    stores.jobs.insert_jobs([row("left-sim", group_key="g3")], engine_id=old)
    stores.jobs.start_batch(old, STAMP, batch, [("left-sim", 1, {"status_message": "x", "batch_id": "b1"}, None)])
    expire(stores, old)
    assert stores.leases.has_work(python, ["local_python"]) and stores.leases.has_work(sim, ["scripted"])
    assert not stores.leases.has_work(python, ["nothing-queued"])
    assert sorted(r["id"] for r in stores.leases.claim(python, ["local_python"])) == ["free-py", "left"]
    assert sorted(r["id"] for r in stores.leases.claim(sim, ["scripted"])) == ["free-sim", "left-sim"]
    fleet = {e.id: e for e in stores.leases.refresh()}
    assert set(fleet) == {"e-python", "e-sim"}  # e-old's lease expired
    assert fleet["e-python"].providers == ("local_python",)
    assert stores.leases.driven_anywhere("local_python") and not stores.leases.driven_anywhere("ibm_quantum")


def test_a_cancel_claims_a_queued_job_of_any_provider_but_an_in_flight_one_only_where_it_can_be_cancelled(stores):
    old = register(stores, "e-old")
    stores.jobs.insert_jobs([row("queued", provider="elsewhere", group_key="q"), row("sent", provider="elsewhere", group_key="s")], engine_id=old)
    batch = {"id": "b1", "provider": "elsewhere", "backend": None, "trigger": "size"}
    stores.jobs.start_batch(old, STAMP, batch, [("sent", 1, {"status_message": "x", "batch_id": "b1"}, None)])
    expire(stores, old)
    me = register(stores, "e-me", providers=["scripted"])
    assert stores.leases.claim_job(me, "sent", ["scripted"]) is None
    assert stores.leases.claim_job(me, "queued", ["scripted"])["engine_id"] == me
    assert stores.leases.claim_job(me, "sent", ["elsewhere"])["engine_id"] == me


def test_free_jobs_of_a_group_go_to_an_engine_that_holds_it_even_when_another_does_too(stores):
    a, b, c = register(stores, "e-a"), register(stores, "e-b"), register(stores, "e-c")
    stores.jobs.insert_jobs([row("a1")], engine_id=a)
    stores.jobs.insert_jobs([row("b1")], engine_id=b)  # (held_elsewhere not asked: both hold group g)
    stores.jobs.insert_jobs([row("free")])
    assert stores.leases.claim(c) == []  # c holds nothing of g: it leaves g's job to those that do
    assert [r["id"] for r in stores.leases.claim(a)] == ["free"]


def test_an_expired_lease_is_taken_over_and_the_old_engine_is_fenced_off(stores):
    old = register(stores, "e-old")
    stores.jobs.insert_jobs([row("j1")], engine_id=old)
    batch = {"id": "b1", "provider": "scripted", "backend": None, "trigger": "size"}
    stores.jobs.start_batch(old, STAMP, batch, [("j1", 1, {"status_message": "x", "batch_id": "b1"}, None)])
    new = register(stores, "e-new")
    assert stores.leases.claim(new) == []  # still live
    expire(stores, old)  # its heartbeat stopped: the database's clock passed its expiry
    (taken,) = stores.leases.claim(new)
    assert (taken["id"], taken["engine_id"], taken["fence"], taken["status"]) == ("j1", "e-new", 2, "SUBMITTING")
    assert stores.leases.heartbeat(old, 30.0) is False
    sent = {"remote_id": "r", "status_message": "sent"}
    assert stores.jobs.transition(lifecycle.SENT, old, LATER, [("j1", 1, sent, None)]) == set()
    assert stores.jobs.transition(lifecycle.SENT, new, LATER, [("j1", 2, sent, None)]) == {"j1"}


def test_an_engine_never_claims_its_own_jobs_after_its_lease_lapsed(stores):
    me = register(stores, "e-me")
    stores.jobs.insert_jobs([row("mine")], engine_id=me)
    expire(stores, me)
    assert stores.leases.has_work(me) is False and stores.leases.claim(me) == []  # its heartbeat finds out first
    other = register(stores, "e-other")
    assert [r["id"] for r in stores.leases.claim(other)] == ["mine"]


def test_a_clean_stop_releases_queued_and_in_flight_jobs_at_once(stores):
    a, b = register(stores, "e-a"), register(stores, "e-b")
    stores.jobs.insert_jobs([row("q1"), row("f1", group_key="g9")], engine_id=a)
    batch = {"id": "b1", "provider": "scripted", "backend": None, "trigger": "size"}
    stores.jobs.start_batch(a, STAMP, batch, [("f1", 1, {"status_message": "x", "batch_id": "b1"}, None)])
    assert stores.leases.release(a) == 2
    assert sorted(r["id"] for r in stores.leases.claim(b)) == ["f1", "q1"]


def test_cancel_a_free_job_by_claiming_it_or_ask_the_live_engine_that_drives_it(stores):
    a, b = register(stores, "e-a"), register(stores, "e-b")
    stores.jobs.insert_jobs([row("free")])
    stores.jobs.insert_jobs([row("driven", group_key="g3")], engine_id=a)
    assert stores.leases.claim_job(b, "free")["engine_id"] == "e-b"
    assert stores.leases.claim_job(b, "driven") is None
    assert stores.jobs.request_cancel("driven") is True
    assert stores.jobs.cancel_requests(a) == ["driven"] and stores.jobs.cancel_requests(b) == []


def test_a_held_job_is_not_driven_until_released(stores):
    a = register(stores, "e-a")
    stores.jobs.insert_jobs([row("h", "HELD")])
    assert stores.leases.claim(a) == []  # HELD waits for a release, no engine drives it
    assert stores.leases.claim_job(a, "h")["engine_id"] == "e-a"  # but it can be cancelled
    assert stores.jobs.transition(lifecycle.RELEASE, a, LATER, [("h", 1, {"status_message": "released"}, None)]) == {"h"}


def test_the_drivers_errors_on_the_accept_path_come_as_sqlalchemys(stores):
    """The accepting insert goes straight to the driver; its errors still map to 503s and
    409s like every other statement's (Ledger.db and the idempotency constraint)."""
    from hal_jupyter.engine.schema import jobs

    with pytest.raises(sa.exc.IntegrityError):
        with stores.db.write() as conn:
            stores.db.insert(conn, jobs, [{"id": "no-kind"}])  # NOT NULL columns missing
    stores.jobs.insert_jobs([row("after")])  # the connection is fine afterwards
    assert stores.jobs.get_job("after") is not None
