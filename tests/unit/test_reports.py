"""What a provider's report of a job does, from each status: a transition, or nothing."""

from __future__ import annotations

import pytest

from hal_jupyter.engine import lifecycle
from hal_jupyter.engine.errors import ErrorType
from hal_jupyter.engine.lifecycle import JobStatus
from hal_jupyter.engine.models import ErrorInfo
from hal_jupyter.engine.reports import Cancelled, Failed, Finished, Running, Waiting, transition_for

S = JobStatus
ERROR = ErrorInfo(type=ErrorType.PROVIDER_ERROR, message="x")
#: report -> {status it may come in: transition}; any other status: ignored
EXPECTED = {
    "waiting": (Waiting("queued"), {S.SUBMITTING: lifecycle.PROGRESS, S.SUBMITTED: lifecycle.PROGRESS}),
    "running": (Running("on"), {S.SUBMITTED: lifecycle.START, S.RUNNING: lifecycle.PROGRESS}),
    "finished": (Finished({"counts": {}}), dict.fromkeys((S.SUBMITTING, S.SUBMITTED, S.RUNNING), lifecycle.COMPLETE)),
    "failed": (Failed(ERROR), dict.fromkeys((S.SUBMITTING, S.SUBMITTED, S.RUNNING), lifecycle.FAIL)),
    "cancelled": (Cancelled(), dict.fromkeys((S.QUEUED, S.HELD, S.SUBMITTING, S.SUBMITTED, S.RUNNING, S.UNKNOWN), lifecycle.CANCEL)),
}


@pytest.mark.parametrize("status", list(JobStatus), ids=lambda s: s.value)
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_report_makes_its_transition_only_from_the_statuses_it_fits(kind, status):
    report, fits = EXPECTED[kind]
    assert transition_for(report, status) is fits.get(status)


def test_something_that_is_not_a_report_is_a_programming_error():
    with pytest.raises(TypeError, match="not a report"):
        transition_for({"status": "COMPLETED"}, "RUNNING")  # type: ignore[arg-type]
