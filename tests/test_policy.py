"""The batching policy on its own, with a fake clock."""

from __future__ import annotations

import pytest

from hal_jupyter.engine.policy import BatchPolicy, GroupKey

A = GroupKey("local_simulator", "aer_simulator", 1024)
B = GroupKey("local_simulator", "aer_simulator", 100)


def test_size_trigger_flushes_exactly_at_max_size():
    policy = BatchPolicy(window_s=60, max_size=10)
    flushes = [f for i in range(20) for f in policy.add(A, f"j{i}", now=0.0)]
    assert [len(f.job_ids) for f in flushes] == [10, 10]
    assert flushes[0].job_ids == [f"j{i}" for i in range(10)]
    assert all(f.trigger == "size" for f in flushes)
    assert len(policy) == 0


def test_time_trigger_flushes_when_the_oldest_job_has_waited_the_window():
    policy = BatchPolicy(window_s=2.0, max_size=50)
    policy.add(A, "a", now=10.0)
    policy.add(A, "b", now=11.5)
    assert policy.next_deadline() == 12.0
    assert policy.due(now=11.9) == []
    (flush,) = policy.due(now=12.0)
    assert flush.job_ids == ["a", "b"] and flush.trigger == "window"
    assert policy.next_deadline() is None


def test_groups_are_separate_by_provider_backend_and_shots():
    policy = BatchPolicy(window_s=1.0, max_size=2)
    assert policy.add(A, "a1", 0) == []
    assert policy.add(B, "b1", 0) == []
    (flush,) = policy.add(A, "a2", 0)
    assert flush.key == A and flush.job_ids == ["a1", "a2"]
    assert policy.position("b1") == (1, 2)


def test_cost_strategy_ignores_the_window_but_not_the_max_wait():
    policy = BatchPolicy(window_s=1.0, max_size=5, strategy="cost", max_wait_s=30)
    policy.add(A, "a", now=0)
    assert policy.due(now=10) == []
    (flush,) = policy.due(now=30)
    assert flush.trigger == "max_wait"


def test_time_strategy_ignores_the_size_but_respects_the_provider_cap():
    policy = BatchPolicy(window_s=1.0, max_size=2, strategy="time")
    assert policy.add(A, "a", 0, cap=3) == []
    assert policy.add(A, "b", 0, cap=3) == []
    (flush,) = policy.add(A, "c", 0, cap=3)
    assert flush.job_ids == ["a", "b", "c"]


def test_remove_takes_a_job_out_of_its_group():
    policy = BatchPolicy(window_s=1.0, max_size=10)
    policy.add(A, "a", 0)
    policy.add(A, "b", 0.5)
    assert policy.remove("a") and not policy.remove("a")
    assert policy.next_deadline() == 1.5
    (flush,) = policy.due(2)
    assert flush.job_ids == ["b"]


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        BatchPolicy(strategy="fastest")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BatchPolicy(max_size=0)
