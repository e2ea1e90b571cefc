"""HTML for results and records: a counts histogram, sweep and estimate plots,
classical output, job tables.

Plain HTML, inline CSS and inline SVG only (no JavaScript, no plotting library),
so it renders in JupyterLab, Notebook, VS Code and static exports alike. Every
value is escaped.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from ..engine.errors import error_line

STATUS_COLOURS = {
    "QUEUED": "#6c757d",
    "HELD": "#b8860b",
    "SUBMITTING": "#0d6efd",
    "SUBMITTED": "#0d6efd",
    "RUNNING": "#fd7e14",
    "COMPLETED": "#198754",
    "FAILED": "#dc3545",
    "CANCELLED": "#6c757d",
    "UNKNOWN": "#6f42c1",
}
MAX_BARS = 32
#: a dry run's outcome: accepted, held by a ``hold`` budget, refused by a ``refuse`` budget
OUTCOME_COLOURS = {"accept": "#198754", "hold": "#b8860b", "refuse": "#dc3545"}
#: jobs a dry run's table lists one by one (a bulk estimate's total covers every job)
MAX_ESTIMATE_ROWS = 50
#: one colour per plotted series (observables, or a sweep's most frequent outcomes)
PALETTE = ("#6f42c1", "#198754", "#fd7e14", "#0d6efd", "#dc3545", "#20c997")
#: points per series drawn as markers with error bars; past that, the line alone keeps the SVG small
MAX_MARKERS = 200
#: parameters named in a point's label
LABEL_PARAMETERS = 3
PLOT_WIDTH, PLOT_HEIGHT = 440, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 12, 10, 36
#: (label, y values, standard errors or None)
Series = tuple[str, list[float], list[float] | None]


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


def quantum_result(result: dict[str, Any], point: int = 0, title: str = "") -> str:
    """A quantum result as JSON: its counts; a sampling sweep's plot and the counts of
    ``point``; an estimate's values (plotted for a sweep)."""
    if result.get("evs") is not None:
        return estimates(result["evs"], result.get("stds"), result.get("parameters"), title)
    counts = result.get("counts") or {}
    if isinstance(counts, list):
        return sweep_counts(counts, result.get("parameters"), result.get("shots"), point, title)
    return histogram(counts, result.get("shots"), title=title)


def estimates(evs: list[Any], stds: list[Any] | None, parameters: dict[str, list[float]] | None, title: str = "") -> str:
    """Expectation values and standard errors: a table, or for a sweep (``evs[observable][point]``)
    a plot of each observable against the first parameter."""
    heading = f"<div><b>{escape(title)}</b></div>" if title else ""
    if not parameters:
        rows = []
        for k, value in enumerate(evs):
            error = f"<td style='font-family:monospace'>&plusmn; {stds[k]:.2g}</td>" if stds else ""
            rows.append(f"<tr><td>observable {k}</td><td style='font-family:monospace;text-align:right'>{value:.6g}</td>{error}</tr>")
        return f'<div class="hal-estimates">{heading}<table>{"".join(rows)}</table></div>'
    name, xs = _first(parameters)
    series = [(f"observable {k}", list(row), list(stds[k]) if stds else None) for k, row in enumerate(evs)]
    notes = _plot_notes(parameters, len(series), "observables")
    return f'<div class="hal-estimates">{heading}{line_plot(xs, series, name, "expectation value")}{notes}</div>'


def sweep_counts(counts: list[dict[str, int]], parameters: dict[str, list[float]] | None, shots: int | None, point: int = 0, title: str = "") -> str:
    """A sampling sweep: the probabilities of its most frequent outcomes against the
    first parameter, and the histogram of one ``point``."""
    heading = f"<div><b>{escape(title)}</b></div>" if title else ""
    if not counts:
        return f'<div class="hal-sweep">{heading}<i>no points</i></div>'
    name, xs = _first(parameters) if parameters else ("point", [float(i) for i in range(len(counts))])
    totals: Counter[str] = Counter()
    for table in counts:
        totals.update(table)
    outcomes = [outcome for outcome, _ in totals.most_common(len(PALETTE))]
    series = [(f"P({outcome})", [table.get(outcome, 0) / (sum(table.values()) or 1) for table in counts], None) for outcome in outcomes]
    notes = _plot_notes(parameters or {}, len(totals), "outcomes")
    point = min(max(point, 0), len(counts) - 1)
    shown = histogram(counts[point], shots, title=f"point {point} of {len(counts)}: {point_label(parameters, point)}")
    return f'<div class="hal-sweep">{heading}{line_plot(xs, series, name, "probability")}{notes}{shown}</div>'


def point_label(parameters: dict[str, list[float]] | None, point: int) -> str:
    """The values of one point of a sweep, e.g. ``theta=0.785, phi=0``."""
    if not parameters:
        return f"#{point}"
    shown = [f"{name}={values[point]:.4g}" for name, values in list(parameters.items())[:LABEL_PARAMETERS]]
    return ", ".join(shown) + (", ..." if len(parameters) > LABEL_PARAMETERS else "")


def _first(parameters: dict[str, list[float]]) -> tuple[str, list[float]]:
    name = next(iter(parameters))
    return name, [float(v) for v in parameters[name]]


def _plot_notes(parameters: dict[str, list[float]], series: int, what: str) -> str:
    notes = []
    if series > len(PALETTE):
        notes.append(f"the first {len(PALETTE)} of {series} {what} shown")
    if len(parameters) > 1:
        notes.append(f"plotted against {next(iter(parameters))}; also swept: {', '.join(list(parameters)[1:])}")
    return "".join(f"<div><small>{escape(note)}</small></div>" for note in notes)


def line_plot(x: list[float], series: list[Series], x_label: str, y_label: str) -> str:
    """An SVG plot of each series (the first ``len(PALETTE)``) against ``x`` in order
    of x: a line, and while there are few points, markers (``hal-point``, with a
    tooltip) and error bars; a legend below."""
    series = [s for s in series[: len(PALETTE)] if s[1]]
    if not x or not series:
        return ""
    order = sorted(range(len(x)), key=x.__getitem__)
    low = [y - (e[i] if e else 0.0) for _, ys, e in series for i, y in enumerate(ys)]
    high = [y + (e[i] if e else 0.0) for _, ys, e in series for i, y in enumerate(ys)]
    x0, x1 = _span(x, 0.03)
    y0, y1 = _span(low + high, 0.08)
    width, height = PLOT_WIDTH - _LEFT - _RIGHT, PLOT_HEIGHT - _TOP - _BOTTOM

    def px(v: float) -> float:
        return _LEFT + (v - x0) / (x1 - x0) * width

    def py(v: float) -> float:
        return _TOP + (y1 - v) / (y1 - y0) * height

    parts = [
        f'<rect x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}" fill="none" stroke="#adb5bd"/>',
        _text(px(min(x)), PLOT_HEIGHT - 22, f"{min(x):.4g}", "middle"),
        _text(px(max(x)), PLOT_HEIGHT - 22, f"{max(x):.4g}", "middle"),
        _text(_LEFT + width / 2, PLOT_HEIGHT - 4, x_label, "middle"),
        _text(_LEFT - 4, py(max(high)) + 3, f"{max(high):.4g}", "end"),
        _text(_LEFT - 4, py(min(low)) + 3, f"{min(low):.4g}", "end"),
        _text(12, _TOP + height / 2, y_label, "middle", f' transform="rotate(-90 12 {_TOP + height / 2:.1f})"'),
    ]
    if y0 < 0 < y1:
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + width}" y1="{py(0):.1f}" y2="{py(0):.1f}" stroke="#dee2e6"/>')
    for (label, ys, errors), colour in zip(series, PALETTE):
        line = " ".join(f"{px(x[i]):.1f},{py(ys[i]):.1f}" for i in order)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        if len(x) > MAX_MARKERS:
            continue
        for i in order:
            cx, cy = px(x[i]), py(ys[i])
            error = errors[i] if errors else 0.0
            if error > 0:
                parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{py(ys[i] - error):.1f}" y2="{py(ys[i] + error):.1f}" stroke="{colour}"/>')
            tip = f"{label}: {x_label}={x[i]:.4g}, {ys[i]:.4g}" + (f" ± {error:.2g}" if errors else "")
            parts.append(f'<circle class="hal-point" cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour}"><title>{escape(tip)}</title></circle>')
    legend = "".join(
        f'<span style="white-space:nowrap;margin-right:10px"><span style="display:inline-block;width:10px;height:10px;background:{colour}"></span> '
        f'<code>{escape(label)}</code></span>'
        for (label, _, _), colour in zip(series, PALETTE)
    )
    svg = (
        f'<svg class="hal-plot" xmlns="http://www.w3.org/2000/svg" width="{PLOT_WIDTH}" height="{PLOT_HEIGHT}" '
        f'viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT}" style="font:10px sans-serif">{"".join(parts)}</svg>'
    )
    return f"<div>{svg}<div>{legend}</div></div>"


def _span(values: list[float], margin: float) -> tuple[float, float]:
    """An axis' range: the values' own widened by ``margin`` of it each side (around a single value: by 0.5)."""
    low, high = min(values), max(values)
    pad = (high - low) * margin if high > low else 0.5
    return low - pad, high + pad


def _text(x: float, y: float, text: str, anchor: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="#495057"{extra}>{escape(text)}</text>'


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
    kind, _, message = error_line(error).partition(": ")
    return (
        f'<div class="hal-error" style="color:#dc3545"><b>{escape(kind)}</b>: '
        f'<pre style="margin:0;white-space:pre-wrap">{escape(message)}</pre></div>'
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


# -- spend control (v1.2) ------------------------------------------------------------------
def money(cost: dict[str, Any] | None) -> str:
    """A cost estimate as ``0.5 USD`` (empty where the provider gave none)."""
    if not cost:
        return ""
    return f"{float(cost.get('amount') or 0):.6g} {cost.get('currency', 'USD')}"


def outcome_badge(outcome: str) -> str:
    colour = OUTCOME_COLOURS.get(outcome, "#6c757d")
    return (
        f'<span class="hal-outcome hal-outcome-{escape(outcome)}" style="background:{colour};color:white;'
        f'padding:1px 6px;border-radius:8px;font-size:0.85em">{escape(outcome)}</span>'
    )


def budgets_table(budgets: list[dict[str, Any]]) -> str:
    """Budgets with their figures this period; scope ``all`` where none is set."""
    if not budgets:
        return "<i>no budgets</i>"
    rows = []
    for b in budgets:
        unit = f" {b.get('currency', 'USD')}"
        rows.append({
            "name": b["name"], "scope": ", ".join(f"{k}={v}" for k, v in (b.get("scope") or {}).items()) or "all",
            "period": b["period"], "action": b.get("action"), "limit": f"{b['limit']:g}{unit}",
            "spent": f"{b['spent']:.6g}{unit}", "reserved": f"{b['reserved']:.6g}{unit}",
            "remaining": f"{b['remaining']:.6g}{unit}", "resets": b.get("resets_at") or "never",
        })
    columns = ["name", "scope", "period", "action", "limit", "spent", "reserved", "remaining", "resets"]
    return f'<div class="hal-budgets">{table(rows, columns)}</div>'


def spend_table(report: dict[str, Any]) -> str:
    """``GET /spend`` as a table: one row per key (and currency), a total per currency below."""
    rows = report.get("rows") or []
    if not rows:
        return "<i>nothing spent</i>"
    group = report.get("group_by", "key")
    figures = ("estimated", "reserved", "actual")
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        total = totals.setdefault(row["currency"], dict.fromkeys(figures, 0.0))
        for figure in figures:
            total[figure] += row[figure]
    shown = [{group: "(none)" if r["key"] is None else r["key"], **{f: f"{r[f]:.6g}" for f in figures}, "currency": r["currency"]} for r in rows]
    shown += [{group: "total", **{f: f"{t[f]:.6g}" for f in figures}, "currency": c} for c, t in totals.items()]
    return f'<div class="hal-spend">{table(shown, [group, *figures, "currency"])}</div>'


def estimate(answer: dict[str, Any]) -> str:
    """A dry run: its outcome, the total per currency, and each job's price and the budgets it touches."""
    jobs = answer.get("jobs") or []
    totals: dict[str, float] = {}
    for job in jobs:
        cost = job.get("cost_estimate") or {}
        if cost:
            totals[cost.get("currency", "USD")] = totals.get(cost.get("currency", "USD"), 0.0) + float(cost.get("amount") or 0)
    total = ", ".join(f"{amount:.6g} {currency}" for currency, amount in totals.items()) or "no estimate"
    rows = []
    for index, job in enumerate(jobs[:MAX_ESTIMATE_ROWS]):
        touched = "; ".join(f"{b['name']}: {b['remaining_after']:.6g} left after" for b in job.get("budgets") or []) or "none"
        cost = job.get("cost_estimate") or {}
        rows.append(
            f"<tr><td>{index}</td><td>{escape(str(job.get('provider')))}/{escape(str(job.get('backend')))}</td>"
            f"<td>{escape(str(job.get('shots') or ''))}</td><td>{escape(money(cost))}</td>"
            f"<td><small>{escape(str(cost.get('basis') or ''))}</small></td><td>{outcome_badge(job.get('outcome', ''))}</td>"
            f"<td>{escape(touched)}</td></tr>"
        )
    head = "".join(f"<th style='text-align:left'>{c}</th>" for c in ("#", "provider/backend", "shots", "cost estimate", "basis", "outcome", "budgets"))
    more = f"<div>... and {len(jobs) - MAX_ESTIMATE_ROWS} more jobs</div>" if len(jobs) > MAX_ESTIMATE_ROWS else ""
    return (
        f'<div class="hal-estimate"><div><b>Dry run</b> ({len(jobs)} job{"s" if len(jobs) != 1 else ""}, nothing submitted): '
        f"{outcome_badge(answer.get('outcome', ''))} total {escape(total)}</div>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}</div>"
    )
