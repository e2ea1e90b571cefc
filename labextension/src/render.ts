/**
 * DOM for the panel: rows, the budgets, the detail of a job and its result. Text always
 * goes in as text (never as HTML): names, errors and outputs come from users
 * and providers.
 */

import { EstimateTable, JobRecord, TERMINAL, age, estimates, formatNumber, histogram, jobLabel } from './model';
import { Budget, budgetSummary, costBasis, costText } from './spend';

type Child = Node | string | null | undefined | false;

/** `h('div.a.b', {title: 'x'}, child, ...)`: an element with classes, attributes and children. */
export function h(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const [name, ...classes] = tag.split('.');
  const element = document.createElement(name || 'div');
  if (classes.length) {
    element.className = classes.join(' ');
  }
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

export function badge(status: string): HTMLElement {
  return h(`span.hal-badge.hal-status-${status.toLowerCase()}`, { title: status }, status);
}

/** A job's cost, "est $0.42 · actual $0.38" or "—", with each figure's basis as its tooltip. */
export function costView(record: JobRecord): HTMLElement {
  return h('span.hal-job-cost', { title: costBasis(record), 'data-field': 'cost' }, costText(record));
}

/**
 * One row of the list (`data-job-id`, `data-status`; the cancel control `data-action="cancel"`).
 * A HELD job's second line is why it waits (its status message: which budget holds it).
 */
export function jobRow(record: JobRecord, now: Date, selected: boolean): HTMLElement {
  const held = record.status === 'HELD';
  const meta = held
    ? record.status_message || 'held by a budget'
    : [record.provider, record.backend, record.priority === 'high' ? 'high' : null, age(record.created_at, now)]
        .filter(Boolean)
        .join(' · ');
  const row = h(
    `div.hal-job-row${selected ? '.hal-selected' : ''}${held ? '.hal-held' : ''}`,
    { 'data-job-id': record.id, 'data-status': record.status, role: 'listitem', title: record.status_message || record.status },
    h(
      'div.hal-job-line',
      {},
      badge(record.status),
      h('span.hal-job-name', {}, jobLabel(record)),
      TERMINAL.has(record.status)
        ? null
        : h('button.hal-cancel.jp-mod-styled', { 'data-action': 'cancel', title: 'Cancel this job (also at its provider)' }, 'Cancel')
    ),
    h(
      'div.hal-job-meta',
      {},
      costView(record),
      h(`span.hal-job-about${held ? '.hal-held-reason' : ''}`, {}, meta),
      record.tags.length ? h('span.hal-tags', {}, ' ' + record.tags.map(t => `#${t}`).join(' ')) : null
    )
  );
  return row;
}

/**
 * The budgets that apply to the user (`data-budget`): spent + reserved of the
 * limit as a bar and in words, what remains, when it resets. Null without budgets.
 */
export function budgetsView(budgets: readonly Budget[], now: Date): HTMLElement | null {
  if (!budgets.length) {
    return null;
  }
  return h(
    'div.hal-budgets',
    { role: 'list', 'aria-label': 'budgets' },
    ...budgets.map(budget => {
      const summary = budgetSummary(budget, now);
      const spent = h('div.hal-budget-spent');
      spent.style.width = `${(summary.spentFraction * 100).toFixed(1)}%`;
      const reserved = h('div.hal-budget-reserved');
      reserved.style.width = `${(summary.reservedFraction * 100).toFixed(1)}%`;
      return h(
        `div.hal-budget.hal-budget-${summary.state}`,
        { role: 'listitem', 'data-budget': budget.name, 'data-state': summary.state, title: summary.scope },
        h(
          'div.hal-budget-line',
          {},
          h('span.hal-budget-name', {}, summary.name),
          h(`span.hal-budget-action.hal-budget-${summary.action}`, {}, summary.action),
          h('span.hal-budget-remaining', {}, summary.remaining)
        ),
        h('div.hal-budget-bar', {}, spent, reserved),
        h('div.hal-budget-used', {}, `${summary.used} · ${summary.resets}`)
      );
    })
  );
}

const RECORD_FIELDS: [keyof JobRecord, string][] = [
  ['id', 'id'],
  ['kind', 'kind'],
  ['provider', 'provider'],
  ['backend', 'backend'],
  ['priority', 'priority'],
  ['status_message', 'status message'],
  ['tags', 'tags'],
  ['shots', 'shots'],
  ['created_at', 'created'],
  ['submitted_at', 'submitted'],
  ['finished_at', 'finished'],
  ['batch_id', 'batch'],
  ['remote_id', 'remote id'],
  ['cost_estimate', 'cost estimate'],
  ['cost_actual', 'actual cost'],
  ['execution', 'execution'],
  ['owner', 'owner']
];

function fieldText(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (Array.isArray(value)) {
    return value.length ? value.join(', ') : '—';
  }
  if (typeof value === 'object') {
    const cost = value as { amount?: number; currency?: string; basis?: string };
    if ('amount' in cost) {
      return `${formatNumber(cost.amount)} ${cost.currency ?? ''} (${cost.basis ?? ''})`;
    }
    return JSON.stringify(value);
  }
  return String(value);
}

/** The record as a table, and its error in full. */
export function recordView(record: JobRecord): HTMLElement {
  const table = h('table.hal-record');
  for (const [key, label] of RECORD_FIELDS) {
    table.append(h('tr', {}, h('th', {}, label), h('td', { 'data-field': key }, fieldText(record[key]))));
  }
  return h(
    'div.hal-record-view',
    {},
    table,
    record.error
      ? h('div.hal-error', { role: 'alert' }, h('div.hal-error-type', {}, record.error.type), h('pre.hal-error-message', {}, record.error.message))
      : null
  );
}

/** A counts histogram: one bar per outcome (HTML, so it scales with the panel's width). */
export function histogramView(counts: Record<string, number>, max = 16): HTMLElement {
  const bars = histogram(counts, max);
  const view = h('div.hal-histogram', { role: 'img', 'aria-label': 'counts histogram' });
  for (const bar of bars) {
    const fill = h('div.hal-bar-fill');
    fill.style.width = `${(bar.fraction * 100).toFixed(1)}%`;
    view.append(
      h(
        'div.hal-bar',
        { 'data-outcome': bar.label, title: `${bar.label}: ${bar.count} (${(bar.probability * 100).toFixed(1)}%)` },
        h('span.hal-bar-label', {}, bar.label),
        h('div.hal-bar-track', {}, fill),
        h('span.hal-bar-count', {}, String(bar.count))
      )
    );
  }
  if (!bars.length) {
    view.append(h('div.hal-empty', {}, 'no counts'));
  }
  return view;
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    element.setAttribute(key, String(value));
  }
  return element;
}

/** Expectation values over a sweep: one line per observable (an SVG plot). */
function estimatesPlot(table: EstimateTable): SVGElement {
  const width = 260;
  const height = 140;
  const pad = 24;
  const values = table.rows.flatMap(row => row.values.filter((v): v is number => v !== null));
  const low = Math.min(-1, ...values);
  const high = Math.max(1, ...values);
  const points = table.columns.length;
  const x = (i: number) => pad + (points > 1 ? (i * (width - 2 * pad)) / (points - 1) : (width - 2 * pad) / 2);
  const y = (v: number) => height - pad - ((v - low) * (height - 2 * pad)) / (high - low || 1);
  const plot = svg('svg', { class: 'hal-plot', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'expectation values' });
  plot.append(svg('line', { x1: pad, x2: width - pad, y1: y(0), y2: y(0), class: 'hal-plot-axis' }));
  for (const [label, value] of [[formatNumber(high), high], [formatNumber(low), low]] as [string, number][]) {
    const text = svg('text', { x: 2, y: y(value) + 4, class: 'hal-plot-label' });
    text.textContent = label;
    plot.append(text);
  }
  table.rows.forEach((row, index) => {
    const path = row.values
      .map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
      .filter(Boolean)
      .join(' ');
    plot.append(svg('polyline', { points: path, class: `hal-plot-line hal-plot-line-${index % 6}` }));
  });
  return plot;
}

/** Expectation values: a table (value ± std), and a plot over a sweep. */
export function estimatesView(result: Record<string, any>): HTMLElement {
  const table = estimates(result);
  const head = h('tr', {}, h('th', {}, ''), ...table.columns.map(c => h('th', {}, c)));
  const body = table.rows.map(row =>
    h(
      'tr',
      {},
      h('th', {}, row.observable),
      ...row.values.map((v, i) =>
        h('td', {}, v === null ? '—' : `${formatNumber(v)}${row.stds[i] !== null && row.stds[i] !== undefined ? ` ± ${formatNumber(row.stds[i])}` : ''}`)
      )
    )
  );
  return h('div.hal-estimates', {}, table.sweep ? estimatesPlot(table) : null, h('table.hal-evs', {}, head, ...body));
}

/** The result of a job: counts, a sweep of counts, estimates, or a classical value with its output. */
export function resultView(result: Record<string, any>): HTMLElement {
  const view = h('div.hal-result');
  if ('value' in result || 'stdout' in result) {
    view.append(
      h('div.hal-result-title', {}, `value (${formatNumber(result.duration_s)} s)`),
      h('pre.hal-value', {}, JSON.stringify(result.value, null, 2) ?? 'null')
    );
    if (result.stdout) {
      view.append(h('div.hal-result-title', {}, 'stdout'), h('pre.hal-stdout', {}, result.stdout));
    }
    if (result.stderr) {
      view.append(h('div.hal-result-title', {}, 'stderr'), h('pre.hal-stderr', {}, result.stderr));
    }
    return view;
  }
  if (Array.isArray(result.evs)) {
    view.append(h('div.hal-result-title', {}, `expectation values (${result.shots ?? '?'} shots)`), estimatesView(result));
    return view;
  }
  if (Array.isArray(result.counts)) {
    const parameters: Record<string, number[]> = result.parameters || {};
    const shown = result.counts.slice(0, 50);
    view.append(h('div.hal-result-title', {}, `${result.counts.length} sweep points (${result.shots} shots each)`));
    shown.forEach((counts: Record<string, number>, i: number) => {
      const where = Object.keys(parameters)
        .filter(name => Array.isArray(parameters[name]) && i < parameters[name].length)
        .map(name => `${name}=${formatNumber(parameters[name][i])}`)
        .join(', ');
      view.append(h('div.hal-point', {}, `point ${i}${where ? `: ${where}` : ''}`), histogramView(counts, 8));
    });
    if (result.counts.length > shown.length) {
      const where = result.id ? ` (GET /hal/api/jobs/${result.id}/result)` : '';
      view.append(h('div.hal-empty', {}, `… ${result.counts.length - shown.length} more points${where}`));
    }
    return view;
  }
  if (result.counts && typeof result.counts === 'object') {
    view.append(h('div.hal-result-title', {}, `counts (${result.shots} shots on ${result.backend})`), histogramView(result.counts));
    return view;
  }
  view.append(h('pre.hal-value', {}, JSON.stringify(result, null, 2)));
  return view;
}
