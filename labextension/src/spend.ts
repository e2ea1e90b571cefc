/**
 * What the panel says about money (docs/API.md, "Spend control"): a job's
 * estimated and actual cost, and each budget that applies to the user as
 * spent + reserved of its limit. Plain data, no DOM, so that jest tests it as
 * it is; render.ts draws it.
 */

import { JobRecord, Schemas } from './model';

/** `GET /hal/api/budgets`'s budget: its limit, scope, and what is spent and reserved this period. */
export type Budget = Schemas['Budget'];
export type CostEstimate = Schemas['CostEstimate'];

const SYMBOLS: Record<string, string> = { USD: '$', EUR: '€', GBP: '£' };

/**
 * An amount for people: "$0.42", "$12.00", "$0.0012" (two significant
 * digits below a cent, so that a per-shot price is not "$0.00"), "3.50 CHF".
 */
export function formatMoney(amount: number, currency = 'USD'): string {
  const value = Number.isFinite(amount) ? amount : 0;
  const digits = value !== 0 && Math.abs(value) < 0.01 ? String(Number(value.toPrecision(2))) : value.toFixed(2);
  const symbol = SYMBOLS[currency];
  return symbol ? `${value < 0 ? '-' : ''}${symbol}${digits.replace('-', '')}` : `${digits} ${currency}`;
}

function money(cost: CostEstimate): string {
  return formatMoney(cost.amount, cost.currency);
}

/** A job's cost in a row: "est $0.42 · actual $0.38", "est $0.42", "actual $0.38", or "—". */
export function costText(record: Pick<JobRecord, 'cost_estimate' | 'cost_actual'>): string {
  const parts: string[] = [];
  if (record.cost_estimate) {
    parts.push(`est ${money(record.cost_estimate)}`);
  }
  if (record.cost_actual) {
    parts.push(`actual ${money(record.cost_actual)}`);
  }
  return parts.length ? parts.join(' · ') : '—';
}

/** Where the figures come from (the row's tooltip): each cost's basis. */
export function costBasis(record: Pick<JobRecord, 'cost_estimate' | 'cost_actual'>): string {
  const lines: string[] = [];
  if (record.cost_estimate) {
    lines.push(`estimate ${money(record.cost_estimate)}: ${record.cost_estimate.basis || 'no basis given'}`);
  }
  if (record.cost_actual) {
    lines.push(`actual ${money(record.cost_actual)}: ${record.cost_actual.basis || 'no basis given'}`);
  }
  return lines.length ? lines.join('\n') : 'no cost known';
}

/** When a budget's period starts again: "resets in 5 h", "resets 2026-12-01", "never resets" (period "total"). */
export function resetsText(resetsAt: string | null, now: Date = new Date()): string {
  if (!resetsAt) {
    return 'never resets';
  }
  const when = Date.parse(resetsAt);
  if (Number.isNaN(when)) {
    return `resets ${resetsAt}`;
  }
  const seconds = Math.max(0, Math.round((when - now.getTime()) / 1000));
  if (seconds < 3600) {
    return `resets in ${Math.max(1, Math.ceil(seconds / 60))} min`;
  }
  if (seconds < 86400) {
    return `resets in ${Math.round(seconds / 3600)} h`;
  }
  return `resets ${resetsAt.slice(0, 10)}`;
}

/** How full a budget is: "ok", "near" (80 % or more spent or reserved), "full" (nothing remains). */
export type BudgetState = 'ok' | 'near' | 'full';

export interface BudgetSummary {
  name: string;
  action: Budget['action'];
  /** "$1.20 spent + $0.30 reserved of $2.00" */
  used: string;
  /** "$0.50 left" */
  remaining: string;
  resets: string;
  /** of the limit, 0..1 (bar segments; together at most 1) */
  spentFraction: number;
  reservedFraction: number;
  state: BudgetState;
  /** what it applies to: "owner alice · provider aws_braket · tag exp-1 · per month", for a tooltip */
  scope: string;
}

const PERIODS: Record<Budget['period'], string> = { day: 'per UTC day', month: 'per UTC month', total: 'in total' };

export function budgetSummary(budget: Budget, now: Date = new Date()): BudgetSummary {
  const { currency, limit } = budget;
  const spentFraction = limit > 0 ? Math.min(1, budget.spent / limit) : budget.spent > 0 ? 1 : 0;
  const reservedFraction = limit > 0 ? Math.min(1 - spentFraction, budget.reserved / limit) : 0;
  const usedFraction = spentFraction + reservedFraction;
  const scope = Object.entries(budget.scope || {})
    .filter(([, value]) => value)
    .map(([key, value]) => `${key} ${value}`);
  return {
    name: budget.name,
    action: budget.action,
    used: `${formatMoney(budget.spent, currency)} spent + ${formatMoney(budget.reserved, currency)} reserved of ${formatMoney(limit, currency)}`,
    remaining: `${formatMoney(budget.remaining, currency)} left`,
    resets: resetsText(budget.resets_at, now),
    spentFraction,
    reservedFraction,
    state: budget.remaining <= 0 ? 'full' : usedFraction >= 0.8 ? 'near' : 'ok',
    scope: [...(scope.length ? scope : ['every job']), PERIODS[budget.period] ?? budget.period, `past the limit: ${budget.action}`].join(' · ')
  };
}
