"""The job lifecycle, enforced by the database: every transition from every status.

Each case puts one job in a status and asks the store for one transition: the
store moves it exactly when the transition may leave that status, in ONE
conditional statement, and refuses a stale fencing token or another engine.
``tests/test_lifecycle_postgres.py`` runs this module again on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from hal_jupyter.engine.schema import jobs

from hal_jupyter.engine import lifecycle
from hal_jupyter.engine.lifecycle import JobStatus, Transition

STAMP = "2026-01-01T00:00:00.000000Z"
LATER = "2026-01-01T00:00:05.000000Z"
#: the transitions a driving engine makes through the store (claims and accept are elsewhere)
MOVES = [t for t in lifecycle.TRANSITIONS if t not in (lifecycle.ACCEPT, lifecycle.CLAIM, lifecycle.RESUME)]


def row(job_id: str, status: str = "QUEUED", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id, "kind": "quantum", "provider": "scripted", "backend": "fake", "name": None, "tags": [],
        "priority": "standard", "status": status, "status_message": None, "created_at": STAMP, "updated_at": STAMP,
        "shots": 10, "payload": {"circuit": "x"}, "attempts": 0, "group_key": "g", **extra,
    }


def put(stores: Any, *rows: dict[str, Any], engine: str = "e-1") -> None:
    """Jobs driven by ``engine`` (fence 1); HELD ones too (accepted HELD, nobody drives them: claimed here)."""
    stores.jobs.insert_jobs(list(rows), engine_id=engine)
    with stores.jobs.db.write() as conn:
        conn.execute(jobs.update().where(jobs.c.id.in_([r["id"] for r in rows])).values(engine_id=engine, fence=1))


def fields_for(t: Transition) -> dict[str, Any]:
    values = {
        "status_message": "moved", "batch_id": "b-1", "remote_id": "r-1", "error": {"type": "ProviderError", "message": "no"},
        "cost_estimate": {"currency": "USD", "amount": 1.0, "basis": "x"}, "cost_actual": {"currency": "USD", "amount": 0.5, "basis": "y"},
    }
    return {name: values[name] for name in t.fields}


def move(stores: Any, t: Transition, changes: list[tuple[str, int, dict[str, Any], Any]], engine: str = "e-1") -> set[str]:
    if t is lifecycle.INTEND:
        batch = {"id": "b-1", "provider": "scripted", "backend": "fake", "trigger": "size"}
        return stores.jobs.start_batch(engine, LATER, batch, changes)
    return stores.jobs.transition(t, engine, LATER, changes)


@pytest.mark.parametrize("status", list(JobStatus), ids=lambda s: s.value)
@pytest.mark.parametrize("t", MOVES, ids=lambda t: t.name)
def test_the_database_moves_a_job_exactly_when_the_transition_may_leave_its_status(stores, t, status):
    put(stores, row("j", status.value, cancel_requested=True))
    moved = move(stores, t, [("j", 1, fields_for(t), {"counts": {"0": 1}} if t.stores_result else None)])
    after = stores.jobs.get_job("j")
    if status not in t.sources:
        assert moved == set() and after["status"] == status.value and after["updated_at"] == STAMP
        assert stores.jobs.get_result("j") is None
        return
    assert moved == {"j"}
    assert after["status"] == (t.target or status).value and after["updated_at"] == LATER
    for name, value in fields_for(t).items():
        assert after[name] == value
    for name in t.clears:
        assert after[name] is None
    if t.ends:
        assert after["finished_at"] == LATER and after["cancel_requested"] is False
    if t.stores_result:
        assert stores.jobs.get_result("j") == {"counts": {"0": 1}}


def test_every_transition_of_the_contract_is_declared_with_its_from_statuses():
    """docs/API.md, "Job lifecycle": the table, as declared."""
    S = JobStatus
    table = {
        "hold": ({S.QUEUED}, S.HELD), "release": ({S.HELD}, S.QUEUED), "intend": ({S.QUEUED}, S.SUBMITTING),
        "requeue": ({S.SUBMITTING}, S.QUEUED), "sent": ({S.SUBMITTING}, S.SUBMITTED), "start": ({S.SUBMITTED}, S.RUNNING),
        "complete": ({S.SUBMITTING, S.SUBMITTED, S.RUNNING}, S.COMPLETED), "fail": ({S.SUBMITTING, S.SUBMITTED, S.RUNNING}, S.FAILED),
        "refuse": ({S.QUEUED, S.HELD, S.SUBMITTING}, S.FAILED), "lose_contact": ({S.SUBMITTING, S.SUBMITTED, S.RUNNING}, S.UNKNOWN),
        "cancel": ({S.QUEUED, S.HELD, S.SUBMITTING, S.SUBMITTED, S.RUNNING, S.UNKNOWN}, S.CANCELLED),
        "resume": ({S.SUBMITTING, S.SUBMITTED, S.RUNNING}, None),
    }
    for name, (sources, target) in table.items():
        t = lifecycle.BY_NAME[name]
        assert (set(t.sources), t.target) == (sources, target), name
    assert lifecycle.ACCEPT.target == S.QUEUED and not lifecycle.ACCEPT.sources
    # beyond the table: a progress note and a claim keep the status; a free local run lost with its engine runs again
    assert lifecycle.PROGRESS.target is None and lifecycle.CLAIM.sources == {S.QUEUED}
    assert lifecycle.RERUN.sources == {S.SUBMITTED, S.RUNNING} and lifecycle.RERUN.target == S.QUEUED


@pytest.mark.parametrize("t", [t for t in lifecycle.TRANSITIONS if t.sources], ids=lambda t: t.name)
def test_nothing_leaves_a_terminal_status(t):
    assert not (t.sources & lifecycle.TERMINAL)


def test_a_stale_fence_or_another_engine_changes_nothing(stores):
    put(stores, row("j", "RUNNING"))
    assert stores.jobs.transition(lifecycle.COMPLETE, "e-1", LATER, [("j", 0, {}, {"counts": {}})]) == set()  # an old token
    assert stores.jobs.transition(lifecycle.COMPLETE, "e-2", LATER, [("j", 1, {}, {"counts": {}})]) == set()  # not its driver
    assert stores.jobs.get_job("j")["status"] == "RUNNING" and stores.jobs.get_result("j") is None


def test_a_transition_refuses_fields_it_does_not_set(stores):
    put(stores, row("j", "RUNNING"))
    with pytest.raises(ValueError, match="does not set remote_id"):
        stores.jobs.transition(lifecycle.START, "e-1", LATER, [("j", 1, {"remote_id": "r"}, None)])


def test_a_late_answer_after_completion_changes_nothing(stores):
    put(stores, row("j", "RUNNING"))
    assert stores.jobs.transition(lifecycle.COMPLETE, "e-1", LATER, [("j", 1, {}, {"counts": {"0": 10}})]) == {"j"}
    for late in (lifecycle.START, lifecycle.PROGRESS, lifecycle.FAIL, lifecycle.COMPLETE):
        assert move(stores, late, [("j", 1, fields_for(late), {"counts": {"1": 1}} if late.stores_result else None)]) == set()
    after = stores.jobs.get_job("j")
    assert after["status"] == "COMPLETED" and stores.jobs.get_result("j") == {"counts": {"0": 10}}


def _count_updates(stores: Any) -> list[str]:
    statements: list[str] = []
    stores.listen("before_cursor_execute", lambda *a, **k: statements.append(a[2]) if a[2].lstrip().upper().startswith("UPDATE") else None)
    return statements


def test_a_batch_moves_in_one_statement_with_values_per_job(stores):
    put(stores, *[row(f"j{k}", "SUBMITTING", batch_id="b-1") for k in range(40)])
    statements = _count_updates(stores)
    changes = [(f"j{k}", 1, {"remote_id": f"task-{k}", "status_message": "accepted"}, None) for k in range(40)]
    assert stores.jobs.transition(lifecycle.SENT, "e-1", LATER, changes) == {f"j{k}" for k in range(40)}
    assert len(statements) == 1
    rows = {r["id"]: r for r in stores.jobs.get_jobs([f"j{k}" for k in range(40)])}
    assert all(rows[f"j{k}"]["remote_id"] == f"task-{k}" and rows[f"j{k}"]["submitted_at"] == LATER for k in range(40))
    statements.clear()
    results = [(f"j{k}", 1, {"status_message": None}, {"counts": {"1": k}}) for k in range(40)]
    assert len(stores.jobs.transition(lifecycle.COMPLETE, "e-1", LATER, results)) == 40
    assert len(statements) == 1 and stores.jobs.get_results(["j7"]) == {"j7": {"counts": {"1": 7}}}


def test_a_transition_of_many_jobs_moves_those_in_a_source_status_only(stores):
    put(stores, row("a", "SUBMITTED"), row("b", "RUNNING"), row("c", "COMPLETED"))
    changes = [(j, 1, {"status_message": "on"}, None) for j in "abc"]
    assert stores.jobs.transition(lifecycle.START, "e-1", LATER, changes) == {"a"}
    assert {r["id"]: r["status"] for r in stores.jobs.get_jobs("abc")} == {"a": "RUNNING", "b": "RUNNING", "c": "COMPLETED"}


def test_more_jobs_than_a_statement_carries_move_in_chunks(stores):
    put(stores, *[row(f"j{k}", "QUEUED") for k in range(1200)])
    statements = _count_updates(stores)
    moved = stores.jobs.transition(lifecycle.CANCEL, "e-1", LATER, [(f"j{k}", 1, {"status_message": "x"}, None) for k in range(1200)])
    assert len(moved) == 1200 and len(statements) == 3  # 500 jobs a statement


def test_an_intent_records_its_batch_and_counts_an_attempt(stores):
    put(stores, row("a"), row("b"), row("c", "CANCELLED"))
    batch = {"id": "b-9", "provider": "scripted", "backend": "fake", "trigger": "size"}
    changes = [(j, 1, {"batch_id": "b-9", "status_message": "submitting"}, None) for j in "abc"]
    assert stores.jobs.start_batch("e-1", LATER, batch, changes) == {"a", "b"}
    assert stores.jobs.batch_count() == 1
    assert [r["attempts"] for r in stores.jobs.get_jobs("ab")] == [1, 1]


def test_a_cancel_request_is_recorded_for_unfinished_jobs_only(stores):
    put(stores, row("live", "RUNNING"), row("done", "FAILED"))
    assert stores.jobs.request_cancel("live") is True and stores.jobs.request_cancel("done") is False
    assert stores.jobs.cancel_requests("e-1") == ["live"] and stores.jobs.cancel_requests("e-2") == []
    stores.jobs.transition(lifecycle.CANCEL, "e-1", LATER, [("live", 1, {"status_message": "by request"}, None)])
    assert stores.jobs.get_job("live")["cancel_requested"] is False and stores.jobs.cancel_requests("e-1") == []
