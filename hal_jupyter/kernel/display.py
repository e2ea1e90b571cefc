"""HTML for results and records: a counts histogram, classical output, job tables.

Plain HTML and inline CSS only (no JavaScript), so it renders in JupyterLab,
Notebook, VS Code and static exports alike. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

STATUS_COLOURS = {
    "QUEUED": "#6c757d",
    "SUBMITTING": "#0d6efd",
    "SUBMITTED": "#0d6efd",
    "RUNNING": "#fd7e14",
    "COMPLETED": "#198754",
    "FAILED": "#dc3545",
    "CANCELLED": "#6c757d",
    "UNKNOWN": "#6f42c1",
}
MAX_BARS = 32


def status_badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#6c757d")
    return (
        f'<span class="hal-status hal-status-{escape(status.lower())}" style="background:{colour};color:white;'
        f'padding:1px 6px;border-radius:8px;font-size:0.85em">{escape(status)}</span>'
    )


def histogram(counts: dict[str, int], shots: int | None = None, title: str = "") -> str:
    """Horizontal bars, one per outcome, most frequent first (at most 32 shown)."""
    total = shots or sum(counts.values()) or 1
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = []
    for outcome, count in items[:MAX_BARS]:
        width = max(1.0, 100.0 * count / total)
        rows.append(
            "<tr>"
            f'<td style="font-family:monospace;padding-right:6px;text-align:right">{escape(outcome)}</td>'
            f'<td style="width:320px"><div class="hal-bar" style="background:#6f42c1;height:12px;width:{width:.1f}%"></div></td>'
            f'<td style="padding-left:6px">{count}</td>'
            "</tr>"
        )
    more = f"<div>... and {len(items) - MAX_BARS} more outcomes</div>" if len(items) > MAX_BARS else ""
    heading = f"<div><b>{escape(title)}</b></div>" if title else ""
    return f'<div class="hal-histogram">{heading}<table style="border-collapse:collapse">{"".join(rows)}</table>{more}</div>'


def classical_output(value: Any, stdout: str = "", stderr: str = "") -> str:
    import json

    try:
        shown = json.dumps(value, indent=2)
    except (TypeError, ValueError):
        shown = repr(value)
    parts = [f'<div class="hal-value"><b>value</b> <code>{escape(shown)}</code></div>']
    if stdout:
        parts.append(f'<div><b>stdout</b><pre style="margin:0">{escape(stdout)}</pre></div>')
    if stderr:
        parts.append(f'<div><b>stderr</b><pre style="margin:0;color:#dc3545">{escape(stderr)}</pre></div>')
    return "".join(parts)


def error_block(error: dict[str, Any]) -> str:
    return (
        f'<div class="hal-error" style="color:#dc3545"><b>{escape(error.get("type", "Error"))}</b>: '
        f'<pre style="margin:0;white-space:pre-wrap">{escape(error.get("message", ""))}</pre></div>'
    )


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            cells.append(status_badge(value) if column == "status" and value else escape("" if value is None else str(value)))
        body.append("<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
