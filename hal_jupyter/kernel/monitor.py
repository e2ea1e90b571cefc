"""The job monitor: a pure-ipywidgets view of jobs that updates itself.

One row per job (name/id, provider/backend, a coloured status and message,
batch, elapsed time, a progress bar by stage, a cancel button) and, when a job
ends, its counts histogram, value and output, or error; for a parameter sweep a
plot against the first parameter (expectation values, or the outcomes'
probabilities with a slider choosing the point whose counts are shown).
Changes arrive through the client's :class:`~hal_jupyter.kernel.hub.EventHub`;
closing the widget stops listening. The widgets hold job records and results
only, never a URL token or credential.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from html import escape
from typing import Any, Protocol

import ipywidgets as widgets

from ..engine.lifecycle import TERMINAL_NAMES
from . import display


class Watched(Protocol):
    """A job as the monitor follows it: its id and its latest record."""

    @property
    def id(self) -> str: ...

    @property
    def record(self) -> dict[str, Any]: ...


class Hub(Protocol):
    def add(self, monitor: Any) -> None: ...
    def remove(self, monitor: Any) -> None: ...


class Source(Protocol):
    """What a monitor needs of the client that made it (``Hal`` is one): records in
    bulk, a cancel, and the kernel's one feed of job changes."""

    hub: Hub

    def records(self, ids: Any, include_result: bool = False) -> list[dict[str, Any]]: ...
    def cancel_job(self, job_id: str) -> dict[str, Any]: ...


TERMINAL = frozenset(TERMINAL_NAMES)
MAX_ROWS = 50
STAGE = {"QUEUED": 0.1, "SUBMITTING": 0.3, "SUBMITTED": 0.5, "RUNNING": 0.75, "UNKNOWN": 0.5}
BAR_STYLE = {"COMPLETED": "success", "FAILED": "danger", "CANCELLED": "warning", "UNKNOWN": "warning", "RUNNING": "info"}
#: What a row shows as its outcome: a result, the reason none could be read, or nothing (not COMPLETED).
Outcome = dict[str, Any] | Exception | None


def _parse(stamp: str | None) -> datetime | None:
    return None if not stamp else datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class _JobRow:
    def __init__(self, monitor: JobMonitor, record: dict[str, Any]) -> None:
        self.monitor = monitor
        self.id = record["id"]
        self.record: dict[str, Any] = {}
        cell = widgets.Layout(width="auto", margin="0 8px 0 0")
        self.name = widgets.HTML(layout=widgets.Layout(width="210px"))
        self.where = widgets.HTML(layout=widgets.Layout(width="230px"))
        self.status = widgets.HTML(layout=widgets.Layout(width="110px"))
        self.batch = widgets.HTML(layout=widgets.Layout(width="190px"))
        self.elapsed = widgets.HTML(layout=widgets.Layout(width="70px"))
        self.progress = widgets.FloatProgress(min=0.0, max=1.0, layout=widgets.Layout(width="110px"))
        self.cancel = widgets.Button(description="Cancel", icon="stop", button_style="", layout=widgets.Layout(width="90px"))
        self.cancel.on_click(self._on_cancel)
        self.message = widgets.HTML(layout=cell)
        self.detail = widgets.HTML()
        # a sampling sweep's result, whose histogram shows the point this slider chooses
        self.result: dict[str, Any] | None = None
        self.point = widgets.IntSlider(description="point", min=0, max=0, layout=widgets.Layout(display="none", width="420px"))
        self.point.observe(self._on_point, names="value")
        header = widgets.HBox([self.name, self.where, self.status, self.batch, self.elapsed, self.progress, self.cancel])
        self.box = widgets.VBox([header, self.message, self.point, self.detail], layout=widgets.Layout(border_bottom="1px solid #ddd"))
        self.box.add_class("hal-job-row")
        self.update(record)

    def update(self, record: dict[str, Any]) -> bool:
        """Show the record; True when the job just ended (call :meth:`show_outcome`)."""
        previous = self.record.get("status")
        self.record = record
        status = record["status"]
        label = escape(record.get("name") or "")
        self.name.value = f"{label} <code>{escape(self.id)}</code>" if label else f"<code>{escape(self.id)}</code>"
        self.where.value = f"{escape(record['provider'])} / {escape(str(record.get('backend') or ''))}"
        self.status.value = display.status_badge(status)
        batch = record.get("batch_id")
        self.batch.value = f"<small style='white-space:nowrap'>batch {escape(batch)}</small>" if batch else ""
        self.progress.value = 1.0 if status in TERMINAL else STAGE.get(status, 0.0)
        self.progress.bar_style = BAR_STYLE.get(status, "")
        self.cancel.disabled = status in TERMINAL
        message = record.get("status_message") or ""
        self.message.value = f"<small>{escape(message)}</small>" if message and status not in TERMINAL else ""
        self.tick()
        return status != previous and status in TERMINAL

    def show_outcome(self, result: Outcome) -> None:
        """Show how the job ended; ``result`` is read by the monitor, for many rows at once."""
        self.result = None
        if isinstance(result, dict) and isinstance(result.get("counts"), list):
            self.result = result
            self.point.max = max(len(result["counts"]) - 1, 0)
        self.point.layout.display = "" if self.result is not None and self.point.max > 0 else "none"
        self.detail.value = self._detail(self.record, result)

    def _on_point(self, change: dict[str, Any]) -> None:
        if self.result is not None:
            self.detail.value = display.quantum_result(self.result, change["new"])

    def _detail(self, record: dict[str, Any], result: Outcome) -> str:
        if record["status"] == "FAILED":
            return display.error_block(record.get("error") or {"type": "Failed", "message": ""})
        if record["status"] != "COMPLETED":
            return f"<small>{escape(record.get('status_message') or record['status'].lower())}</small>"
        if result is None:
            result = LookupError(f"no result for job {self.id}")
        if isinstance(result, Exception):
            return display.error_block({"type": type(result).__name__, "message": str(result)})
        if record["kind"] == "quantum":
            return display.quantum_result(result, self.point.value)
        return display.classical_output(result.get("value"), result.get("stdout", ""), result.get("stderr", ""))

    def tick(self) -> None:
        created = _parse(self.record.get("created_at"))
        if created is None:
            return
        end = _parse(self.record.get("finished_at")) or datetime.now(timezone.utc)
        seconds = max(0.0, (end - created).total_seconds())
        self.elapsed.value = f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60)} s"

    def _on_cancel(self, _button: Any) -> None:
        try:
            if self.update(self.monitor.hal.cancel_job(self.id)):
                self.monitor.show_outcomes([self])
        except Exception as exc:  # noqa: BLE001 - e.g. already finished: show why
            self.message.value = f"<small>cancel failed: {escape(str(exc))}</small>"


class JobMonitor(widgets.VBox):
    """Live status of jobs; ``close()`` stops its listener."""

    def __init__(self, hal: Source, jobs: list[Watched], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("hal-monitor")
        self.hal = hal
        self._ids = {job.id for job in jobs}
        self._latest: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, _JobRow] = {}
        self._guard = threading.RLock()
        self.summary = widgets.HTML()
        self.updates = 0  # record batches applied (the benchmark counts them)
        for job in jobs:
            self._latest[job.id] = job.record
        for job in jobs[-MAX_ROWS:]:
            self._rows[job.id] = _JobRow(self, job.record)
        self.children = [self.summary, *[row.box for row in self._rows.values()]]
        self._summarise()
        self.show_outcomes([row for row in self._rows.values() if row.record["status"] in TERMINAL])
        hal.hub.add(self)
        self._resync(jobs)

    def add(self, jobs: list[Watched]) -> None:
        """Follow more jobs in this monitor (rows for the newest, up to 50)."""
        added = []
        with self._guard:
            for job in jobs:
                self._ids.add(job.id)
                self._latest.setdefault(job.id, job.record)
                if len(self._rows) < MAX_ROWS and job.id not in self._rows:
                    added.append(_JobRow(self, job.record))
                    self._rows[job.id] = added[-1]
            self.children = [self.summary, *[row.box for row in self._rows.values()]]
            self._summarise()
        self.show_outcomes([row for row in added if row.record["status"] in TERMINAL])
        self._resync(jobs)

    def _resync(self, jobs: list[Watched]) -> None:
        """Changes made before the subscription: read the unfinished jobs' records
        (and the results of those now COMPLETED) once, in bulk, after it."""
        unfinished = [job.id for job in jobs if job.record["status"] not in TERMINAL]
        if unfinished:
            self.apply(self.hal.records(unfinished, include_result=True))

    def wants(self, job_id: str) -> bool:
        return job_id in self._ids

    def apply(self, records: list[dict[str, Any]]) -> None:
        """Show these records; a record may carry its job's ``"result"`` (not kept)."""
        ended, carried = [], {}
        with self._guard:
            self.updates += 1
            for record in records:
                if "result" in record:
                    carried[record["id"]] = record["result"]
                    record = {k: v for k, v in record.items() if k != "result"}
                known = self._latest.get(record["id"])
                if known is not None and known["updated_at"] > record["updated_at"]:
                    continue  # an older snapshot than what the events already brought
                self._latest[record["id"]] = record
                row = self._rows.get(record["id"])
                if row is not None and row.update(record):
                    ended.append(row)
            self._summarise()
        self.show_outcomes(ended, carried)  # after every status is shown

    def show_outcomes(self, rows: list[_JobRow], carried: dict[str, Any] | None = None) -> None:
        """Show how these jobs ended; the results not ``carried`` are read in one go."""
        outcomes: dict[str, Outcome] = {i: r for i, r in (carried or {}).items() if r is not None}
        missing = [row.id for row in rows if row.record["status"] == "COMPLETED" and row.id not in outcomes]
        if missing:
            outcomes.update(self._read_results(missing))
        for row in rows:
            row.show_outcome(outcomes.get(row.id))

    def _read_results(self, ids: list[str]) -> dict[str, Outcome]:
        try:
            return {r["id"]: r.get("result") for r in self.hal.records(ids, include_result=True)}
        except Exception as exc:  # noqa: BLE001 - shown in the rows, not raised from a thread
            return dict.fromkeys(ids, exc)

    def tick(self) -> None:
        with self._guard:
            for row in self._rows.values():
                if row.record.get("status") not in TERMINAL:
                    row.tick()

    def _summarise(self) -> None:
        counts: dict[str, int] = {}
        for record in self._latest.values():
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        parts = ", ".join(f"{n} {display.status_badge(s)}" for s, n in sorted(counts.items()))
        hidden = len(self._latest) - len(self._rows)
        more = f" (showing the latest {len(self._rows)})" if hidden > 0 else ""
        self.summary.value = f"<b>{len(self._latest)} job{'s' if len(self._latest) != 1 else ''}</b>: {parts}{more}"

    def status_of(self, job_id: str) -> str | None:
        record = self._latest.get(job_id)
        return None if record is None else record["status"]

    def close(self) -> None:
        self.hal.hub.remove(self)
        super().close()
