/** @jest-environment jsdom */
/**
 * What the panel says about money (src/spend.ts) and how it draws it
 * (src/render.ts): costs in a row, HELD rows, the budget summary.
 */
import { budgetsView, jobRow } from '../render';
import { Budget, budgetSummary, costBasis, costText, formatMoney, resetsText } from '../spend';
import { BASE_MS, job } from './factories';

const NOW = new Date(BASE_MS + 90 * 1000);
const XSS = '<img src=x onerror=alert(1)>';

function budget(overrides: Partial<Budget> = {}): Budget {
  return {
    name: 'team-day',
    limit: 2,
    currency: 'USD',
    period: 'day',
    scope: {},
    action: 'hold',
    spent: 0.5,
    reserved: 0.25,
    remaining: 1.25,
    resets_at: new Date(BASE_MS + 86400 * 1000).toISOString(),
    ...overrides
  };
}

describe('formatMoney', () => {
  it.each([
    [0.42, 'USD', '$0.42'],
    [12, 'USD', '$12.00'],
    [0, 'USD', '$0.00'],
    [0.00123, 'USD', '$0.0012'],
    [1.005, 'EUR', '€1.00'],
    [3.5, 'CHF', '3.50 CHF'],
    [-0.5, 'USD', '-$0.50'],
    [NaN, 'USD', '$0.00']
  ])('%p %s is %s', (amount, currency, expected) => {
    expect(formatMoney(amount as number, currency as string)).toBe(expected);
  });
});

describe('costText and costBasis', () => {
  const estimate = { currency: 'USD', amount: 0.42, basis: 'aws_braket sv1: $0.075/min, 1 min' };
  const actual = { currency: 'USD', amount: 0.38, basis: 'billed duration' };

  it('shows the estimate and the actual cost', () => {
    expect(costText({ cost_estimate: estimate, cost_actual: actual })).toBe('est $0.42 · actual $0.38');
    expect(costBasis({ cost_estimate: estimate, cost_actual: actual })).toBe(
      'estimate $0.42: aws_braket sv1: $0.075/min, 1 min\nactual $0.38: billed duration'
    );
  });

  it('shows either alone', () => {
    expect(costText({ cost_estimate: estimate, cost_actual: null })).toBe('est $0.42');
    expect(costText({ cost_estimate: null, cost_actual: actual })).toBe('actual $0.38');
  });

  it('is a dash when no cost is known', () => {
    expect(costText({ cost_estimate: null, cost_actual: null })).toBe('—');
    expect(costBasis({ cost_estimate: null, cost_actual: null })).toBe('no cost known');
  });

  it('says a free simulator costs nothing', () => {
    expect(costText({ cost_estimate: { currency: 'USD', amount: 0, basis: 'free simulator' }, cost_actual: null })).toBe('est $0.00');
  });
});

describe('resetsText', () => {
  it.each([
    [null, 'never resets'],
    [new Date(NOW.getTime() + 30 * 1000).toISOString(), 'resets in 1 min'],
    [new Date(NOW.getTime() + 42 * 60 * 1000).toISOString(), 'resets in 42 min'],
    [new Date(NOW.getTime() + 5 * 3600 * 1000).toISOString(), 'resets in 5 h'],
    ['2026-12-05T00:00:00Z', 'resets 2026-12-05'],
    ['soon', 'resets soon']
  ])('%p: %s', (resetsAt, expected) => {
    expect(resetsText(resetsAt, NOW)).toBe(expected);
  });
});

describe('budgetSummary', () => {
  it('tells spent + reserved of the limit, what is left and when it resets', () => {
    const summary = budgetSummary(budget(), NOW);
    expect(summary.used).toBe('$0.50 spent + $0.25 reserved of $2.00');
    expect(summary.remaining).toBe('$1.25 left');
    expect(summary.resets).toBe('resets in 24 h');
    expect(summary.spentFraction).toBeCloseTo(0.25);
    expect(summary.reservedFraction).toBeCloseTo(0.125);
    expect(summary.state).toBe('ok');
    expect(summary.scope).toBe('every job · per UTC day · past the limit: hold');
  });

  it('is near at 80 % used and full when nothing remains', () => {
    expect(budgetSummary(budget({ spent: 1.2, reserved: 0.4, remaining: 0.4 }), NOW).state).toBe('near');
    const full = budgetSummary(budget({ spent: 1.5, reserved: 0.5, remaining: 0 }), NOW);
    expect(full.state).toBe('full');
    expect(full.spentFraction + full.reservedFraction).toBeCloseTo(1);
  });

  it('never draws past the limit, also with a zero limit', () => {
    const over = budgetSummary(budget({ limit: 1, spent: 3, reserved: 1, remaining: 0 }), NOW);
    expect(over.spentFraction).toBe(1);
    expect(over.reservedFraction).toBe(0);
    const zero = budgetSummary(budget({ limit: 0, spent: 0, reserved: 0, remaining: 0 }), NOW);
    expect([zero.spentFraction, zero.reservedFraction, zero.state]).toEqual([0, 0, 'full']);
  });

  it('names its scope and period', () => {
    const summary = budgetSummary(budget({ scope: { owner: 'alice', provider: 'aws_braket' }, period: 'total', action: 'refuse', resets_at: null }), NOW);
    expect(summary.scope).toBe('owner alice · provider aws_braket · in total · past the limit: refuse');
    expect(summary.resets).toBe('never resets');
  });
});

describe('budgetsView', () => {
  it('is nothing without budgets', () => {
    expect(budgetsView([], NOW)).toBeNull();
  });

  it('draws one entry per budget with its figures, bar and state', () => {
    const view = budgetsView([budget(), budget({ name: 'braket-month', spent: 9, reserved: 1, remaining: 0, limit: 10, period: 'month' })], NOW)!;
    const entries = view.querySelectorAll<HTMLElement>('.hal-budget');
    expect(Array.from(entries, e => e.dataset.budget)).toEqual(['team-day', 'braket-month']);
    const first = entries[0];
    expect(first.dataset.state).toBe('ok');
    expect(first.querySelector('.hal-budget-name')!.textContent).toBe('team-day');
    expect(first.querySelector('.hal-budget-action')!.textContent).toBe('hold');
    expect(first.querySelector('.hal-budget-remaining')!.textContent).toBe('$1.25 left');
    expect(first.querySelector('.hal-budget-used')!.textContent).toBe('$0.50 spent + $0.25 reserved of $2.00 · resets in 24 h');
    expect(first.querySelector<HTMLElement>('.hal-budget-spent')!.style.width).toBe('25.0%');
    expect(first.querySelector<HTMLElement>('.hal-budget-reserved')!.style.width).toBe('12.5%');
    expect(first.getAttribute('title')).toContain('per UTC day');
    expect(entries[1].classList.contains('hal-budget-full')).toBe(true);
    expect(entries[1].querySelector('.hal-budget-remaining')!.textContent).toBe('$0.00 left');
  });

  it('puts a budget name in as text', () => {
    const view = budgetsView([budget({ name: XSS })], NOW)!;
    expect(view.querySelector('img')).toBeNull();
    expect(view.querySelector('.hal-budget-name')!.textContent).toBe(XSS);
  });
});

describe('a row shows the cost and a HELD job', () => {
  it('shows the cost with its basis as a tooltip', () => {
    const row = jobRow(
      job('j1', 0, {
        status: 'COMPLETED',
        cost_estimate: { currency: 'USD', amount: 0.42, basis: 'per task and shot' },
        cost_actual: { currency: 'USD', amount: 0.38, basis: 'reported by the provider' }
      }),
      NOW,
      false
    );
    const cost = row.querySelector<HTMLElement>('.hal-job-cost')!;
    expect(cost.textContent).toBe('est $0.42 · actual $0.38');
    expect(cost.title).toContain('per task and shot');
    expect(cost.title).toContain('reported by the provider');
  });

  it('shows a dash when no cost is known', () => {
    expect(jobRow(job('j1', 0), NOW, false).querySelector('.hal-job-cost')!.textContent).toBe('—');
  });

  it('shows why a HELD job waits, marked apart from QUEUED', () => {
    const message = "held by budget 'team-day': $2.00 limit reached";
    const held = jobRow(job('j1', 0, { status: 'HELD', status_message: message }), NOW, false);
    expect(held.dataset.status).toBe('HELD');
    expect(held.classList.contains('hal-held')).toBe(true);
    expect(held.querySelector('.hal-badge.hal-status-held')).not.toBeNull();
    expect(held.querySelector('.hal-held-reason')!.textContent).toBe(message);
    expect(held.querySelector('[data-action="cancel"]')).not.toBeNull();
    const queued = jobRow(job('j2', 0, { status: 'QUEUED', status_message: 'waiting for batch (1/50)' }), NOW, false);
    expect(queued.classList.contains('hal-held')).toBe(false);
    expect(queued.querySelector('.hal-held-reason')).toBeNull();
  });

  it('puts a HELD message in as text', () => {
    const held = jobRow(job('j1', 0, { status: 'HELD', status_message: XSS }), NOW, false);
    expect(held.querySelector('img')).toBeNull();
    expect(held.querySelector('.hal-held-reason')!.textContent).toBe(XSS);
  });
});
