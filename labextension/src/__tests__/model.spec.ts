/**
 * SessionWatch/sessionStart, visibleRange/wantsMore, histogram, estimates,
 * formatNumber, age and jobLabel (src/model.ts).
 */
import {
  JobList,
  STATUSES,
  SessionWatch,
  TERMINAL,
  age,
  estimates,
  formatNumber,
  histogram,
  jobLabel,
  sessionStart,
  visibleRange,
  wantsMore
} from '../model';
import { evolve, job, page, ts } from './factories';

describe('STATUSES and TERMINAL', () => {
  it('are the statuses of the contract (the JobStatus enum of the OpenAPI document, in api-types.ts)', () => {
    expect([...STATUSES]).toEqual([
      'QUEUED',
      'HELD',
      'SUBMITTING',
      'SUBMITTED',
      'RUNNING',
      'COMPLETED',
      'FAILED',
      'CANCELLED',
      'UNKNOWN'
    ]);
    expect([...TERMINAL].sort()).toEqual(['CANCELLED', 'COMPLETED', 'FAILED']);
    expect(TERMINAL.has('UNKNOWN')).toBe(false);
  });
});

describe('sessionStart', () => {
  const now = new Date('2026-11-30T15:30:00.250Z');

  it('is one second before the HTTP Date header', () => {
    expect(sessionStart('Mon, 30 Nov 2026 12:00:00 GMT', now)).toBe('2026-11-30T11:59:59.000Z');
  });

  it('crosses a day boundary', () => {
    expect(sessionStart('Tue, 01 Dec 2026 00:00:00 GMT', now)).toBe('2026-11-30T23:59:59.000Z');
  });

  it('falls back to now for a missing header', () => {
    expect(sessionStart(null, now)).toBe('2026-11-30T15:30:00.250Z');
    expect(sessionStart('', now)).toBe('2026-11-30T15:30:00.250Z');
  });

  it('falls back to now for a garbage header', () => {
    expect(sessionStart('not a date', now)).toBe('2026-11-30T15:30:00.250Z');
    expect(sessionStart('Mon, 99 Foo 2026 99:99:99 GMT', now)).toBe('2026-11-30T15:30:00.250Z');
  });

  it('defaults now to the current time', () => {
    const before = Date.now();
    const start = Date.parse(sessionStart(null));
    expect(start).toBeGreaterThanOrEqual(before);
    expect(start).toBeLessThanOrEqual(Date.now());
  });
});

describe('SessionWatch', () => {
  // ts(43200) is 2026-11-30T12:00:00.000000Z
  const START = sessionStart('Mon, 30 Nov 2026 12:00:01 GMT', new Date(0)); // 12:00:00.000Z
  const NOON = 43200;

  it('keeps the start it was given', () => {
    expect(new SessionWatch(START).start).toBe('2026-11-30T12:00:00.000Z');
  });

  it('notifies a job created at or after the start that completed', () => {
    const watch = new SessionWatch(START);
    const at = job('0123456789abcdef', NOON, { status: 'COMPLETED', provider: 'aws_braket' });
    const later = job('fedcba9876543210', NOON + 5, { status: 'COMPLETED', name: 'bell' });
    expect(at.created_at).toBe('2026-11-30T12:00:00.000000Z');
    expect(watch.observe([at, later])).toEqual([
      {
        id: '0123456789abcdef',
        label: 'aws_braket 01234567',
        status: 'COMPLETED',
        message: 'HAL job aws_braket 01234567 completed'
      },
      { id: 'fedcba9876543210', label: '"bell"', status: 'COMPLETED', message: 'HAL job "bell" completed' }
    ]);
  });

  it('does not notify a job created before the start', () => {
    const watch = new SessionWatch(START);
    const before = { ...job('old', NOON), created_at: '2026-11-30T11:59:59.999000Z', status: 'COMPLETED' as const };
    const longBefore = job('older', 0, { status: 'FAILED' });
    expect(watch.observe([before, longBefore])).toEqual([]);
  });

  it('compares microsecond timestamps with the start', () => {
    const watch = new SessionWatch(START);
    const justAfter = { ...job('a', NOON), created_at: '2026-11-30T12:00:00.000001Z', status: 'COMPLETED' as const };
    const wellAfter = { ...job('b', NOON), created_at: '2026-11-30T12:00:00.123456Z', status: 'COMPLETED' as const };
    expect(watch.observe([justAfter, wellAfter]).map(e => e.id)).toEqual(['a', 'b']);
  });

  it('notifies a failed job with the error message', () => {
    const watch = new SessionWatch(START);
    const failed = job('f', NOON + 1, {
      status: 'FAILED',
      name: 'qft',
      error: { type: 'ProviderError', message: 'backend ibm_torino is offline' }
    });
    expect(watch.observe([failed])).toEqual([
      {
        id: 'f',
        label: '"qft"',
        status: 'FAILED',
        message: 'HAL job "qft" failed: backend ibm_torino is offline'
      }
    ]);
  });

  it('says "no reason given" for a failure without error', () => {
    const watch = new SessionWatch(START);
    const [ended] = watch.observe([job('f', NOON + 1, { status: 'FAILED', name: 'x', error: null })]);
    expect(ended.message).toBe('HAL job "x" failed: no reason given');
  });

  it('does not notify cancelled, live or unknown jobs', () => {
    const watch = new SessionWatch(START);
    const others = (['QUEUED', 'SUBMITTING', 'SUBMITTED', 'RUNNING', 'CANCELLED', 'UNKNOWN'] as const).map((s, i) =>
      job(`j${i}`, NOON + 10, { status: s })
    );
    expect(watch.observe(others)).toEqual([]);
  });

  it('notifies each job once, and a job only once it has ended', () => {
    const watch = new SessionWatch(START);
    const j = job('j', NOON + 1, { status: 'RUNNING' });
    expect(watch.observe([j])).toEqual([]);
    const done = evolve(j, 'COMPLETED', NOON + 9);
    expect(watch.observe([done]).map(e => e.id)).toEqual(['j']);
    expect(watch.observe([done])).toEqual([]);
    expect(watch.observe([evolve(j, 'FAILED', NOON + 10)])).toEqual([]);
    // the same job twice in one batch
    const k = job('k', NOON + 2, { status: 'FAILED' });
    expect(watch.observe([k, k]).map(e => e.id)).toEqual(['k']);
  });

  it('keeps the order of the records', () => {
    const watch = new SessionWatch(START);
    const records = ['c', 'a', 'b'].map((id, i) => job(id, NOON + i, { status: 'COMPLETED' }));
    expect(watch.observe(records).map(e => e.id)).toEqual(['c', 'a', 'b']);
  });
});

describe('jobLabel', () => {
  it('is the quoted name when there is one', () => {
    expect(jobLabel(job('abcdef0123456789', 0, { name: 'bell pair' }))).toBe('"bell pair"');
  });

  it('is the provider and the first 8 characters of the id otherwise', () => {
    expect(jobLabel(job('abcdef0123456789', 0, { provider: 'ibm_quantum' }))).toBe('ibm_quantum abcdef01');
    expect(jobLabel(job('abcdef0123456789', 0, { provider: 'local_python', name: '' }))).toBe(
      'local_python abcdef01'
    );
  });

  it('keeps a short id whole', () => {
    expect(jobLabel(job('a1', 0))).toBe('local_simulator a1');
  });
});

describe('visibleRange', () => {
  // rows of 30 px in a 300 px viewport: 10 visible (+1 partial), overscan 8
  it('scrolled to the top', () => {
    expect(visibleRange(0, 300, 30, 1000)).toEqual({ start: 0, end: 19 });
  });

  it('scrolled to the middle', () => {
    expect(visibleRange(3000, 300, 30, 1000)).toEqual({ start: 92, end: 119 });
  });

  it('a partly scrolled row counts as the first one', () => {
    expect(visibleRange(3015, 300, 30, 1000)).toEqual({ start: 92, end: 119 });
    expect(visibleRange(3029.9, 300, 30, 1000)).toEqual({ start: 92, end: 119 });
    expect(visibleRange(3030, 300, 30, 1000)).toEqual({ start: 93, end: 120 });
  });

  it('scrolled to the bottom', () => {
    expect(visibleRange(1000 * 30 - 300, 300, 30, 1000)).toEqual({ start: 982, end: 1000 });
  });

  it('scrolled past the end (the list shrank): the last rows', () => {
    expect(visibleRange(100000, 300, 30, 1000)).toEqual({ start: 991, end: 1000 });
    expect(visibleRange(100000, 300, 30, 3)).toEqual({ start: 0, end: 3 });
  });

  it('an empty list or a zero row height renders nothing', () => {
    expect(visibleRange(0, 300, 30, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(500, 300, 30, -1)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(0, 300, 0, 10)).toEqual({ start: 0, end: 0 });
  });

  it('a short list renders whole', () => {
    expect(visibleRange(0, 300, 30, 5)).toEqual({ start: 0, end: 5 });
  });

  it('clamps the overscan at both ends', () => {
    expect(visibleRange(90, 300, 30, 1000, 8)).toEqual({ start: 0, end: 22 }); // first 3
    expect(visibleRange(90, 300, 30, 1000, 0)).toEqual({ start: 3, end: 14 });
    expect(visibleRange(90, 300, 30, 1000, 2)).toEqual({ start: 1, end: 16 });
    expect(visibleRange(29400, 300, 30, 1000, 50)).toEqual({ start: 930, end: 1000 });
  });

  it('treats a negative scroll or viewport as zero', () => {
    expect(visibleRange(-120, 300, 30, 1000)).toEqual({ start: 0, end: 19 });
    expect(visibleRange(0, -50, 30, 1000, 0)).toEqual({ start: 0, end: 1 });
  });

  it('always has 0 <= start <= end <= count', () => {
    for (const count of [1, 2, 7, 100]) {
      for (const scrollTop of [-10, 0, 13, 200, 2999, 5000]) {
        for (const overscan of [0, 3, 8, 200]) {
          const { start, end } = visibleRange(scrollTop, 250, 25, count, overscan);
          expect(start).toBeGreaterThanOrEqual(0);
          expect(end).toBeGreaterThanOrEqual(start);
          expect(end).toBeLessThanOrEqual(count);
          expect(end).toBeGreaterThan(start); // a non-empty list always shows a row
        }
      }
    }
  });
});

describe('wantsMore', () => {
  it('is false once the list is complete', () => {
    expect(wantsMore(0, { length: 0, complete: true })).toBe(false);
    expect(wantsMore(500, { length: 500, complete: true })).toBe(false);
  });

  it('is true when the rendered rows come within the threshold of the end', () => {
    expect(wantsMore(449, { length: 500, complete: false })).toBe(false);
    expect(wantsMore(450, { length: 500, complete: false })).toBe(true);
    expect(wantsMore(500, { length: 500, complete: false })).toBe(true);
    expect(wantsMore(19, { length: 500, complete: false }, 0)).toBe(false);
    expect(wantsMore(500, { length: 500, complete: false }, 0)).toBe(true);
    expect(wantsMore(400, { length: 500, complete: false }, 100)).toBe(true);
  });

  it('is true for an empty list that is not complete (the first page)', () => {
    expect(wantsMore(0, { length: 0, complete: false })).toBe(true);
  });

  it('takes a JobList', () => {
    const list = new JobList();
    list.addPage(page([job('a', 2), job('b', 1)], 'more'));
    const { end } = visibleRange(0, 300, 30, list.length);
    expect(wantsMore(end, list)).toBe(true);
    list.addPage(page([], null));
    expect(wantsMore(end, list)).toBe(false);
  });
});

describe('histogram', () => {
  it('sorts by count, largest first, with fractions of the largest and probabilities of all shots', () => {
    expect(histogram({ '00': 507, '11': 517 })).toEqual([
      { label: '11', count: 517, fraction: 1, probability: 517 / 1024 },
      { label: '00', count: 507, fraction: 507 / 517, probability: 507 / 1024 }
    ]);
  });

  it('breaks count ties by label', () => {
    const bars = histogram({ '10': 5, '01': 5, '11': 7, '00': 5 });
    expect(bars.map(b => b.label)).toEqual(['11', '00', '01', '10']);
    expect(bars.map(b => b.count)).toEqual([7, 5, 5, 5]);
  });

  it('keeps the max most frequent and sums the rest in "other (n)"', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      counts[i.toString(2).padStart(5, '0')] = 100 - i; // 00000: 100, 00001: 99, ...
    }
    const bars = histogram(counts);
    expect(bars.length).toBe(17);
    expect(bars.slice(0, 16).map(b => b.count)).toEqual(Array.from({ length: 16 }, (_, i) => 100 - i));
    expect(bars[16]).toEqual({
      label: 'other (4)',
      count: 84 + 83 + 82 + 81,
      fraction: 330 / 330,
      probability: 330 / 1810
    });
    // the "other" bar is the largest here, so it sets the fractions
    expect(bars[0].fraction).toBeCloseTo(100 / 330, 12);
    const total = bars.reduce((s, b) => s + b.probability, 0);
    expect(total).toBeCloseTo(1, 12);
  });

  it('honours a smaller max', () => {
    const bars = histogram({ a: 3, b: 2, c: 2, d: 1 }, 2);
    expect(bars).toEqual([
      { label: 'a', count: 3, fraction: 1, probability: 3 / 8 },
      { label: 'b', count: 2, fraction: 2 / 3, probability: 2 / 8 },
      { label: 'other (2)', count: 3, fraction: 1, probability: 3 / 8 }
    ]);
  });

  it('has no "other" bar when everything fits', () => {
    expect(histogram({ a: 1, b: 1 }, 2).map(b => b.label)).toEqual(['a', 'b']);
    expect(histogram({ a: 1, b: 1 }, 16).map(b => b.label)).toEqual(['a', 'b']);
  });

  it('max 0 puts everything in "other"', () => {
    expect(histogram({ a: 1, b: 3 }, 0)).toEqual([{ label: 'other (2)', count: 4, fraction: 1, probability: 1 }]);
  });

  it('drops zero, negative and non-numeric counts', () => {
    const counts = { '00': 0, '01': 3, '10': -2, '11': 'x' } as unknown as Record<string, number>;
    expect(histogram(counts)).toEqual([{ label: '01', count: 3, fraction: 1, probability: 1 }]);
    // dropped outcomes are not counted in "other (n)"
    const many: Record<string, number> = { a: 5, b: 4, c: 0, d: 0 };
    expect(histogram(many, 1).map(b => b.label)).toEqual(['a', 'other (1)']);
  });

  it('is empty for empty, all-zero or missing counts', () => {
    expect(histogram({})).toEqual([]);
    expect(histogram({ '0': 0, '1': 0 })).toEqual([]);
    expect(histogram(null as unknown as Record<string, number>)).toEqual([]);
    expect(histogram(undefined as unknown as Record<string, number>)).toEqual([]);
  });

  it('does not modify the counts', () => {
    const counts = { b: 1, a: 2 };
    histogram(counts, 1);
    expect(counts).toEqual({ b: 1, a: 2 });
  });
});

describe('estimates', () => {
  it('without a sweep: one "value" column, one row per observable, stds aligned', () => {
    expect(estimates({ evs: [0.5, -0.25], stds: [0.01, 0.02], parameters: null })).toEqual({
      columns: ['value'],
      sweep: false,
      rows: [
        { observable: 'observable 0', values: [0.5], stds: [0.01] },
        { observable: 'observable 1', values: [-0.25], stds: [0.02] }
      ]
    });
  });

  it('with a sweep: one column per point named after the parameter values', () => {
    const table = estimates({
      evs: [
        [1, 0.5, -1],
        [0, 0.25, 0.75]
      ],
      stds: [
        [0.1, 0.2, 0.3],
        [0.4, 0.5, 0.6]
      ],
      parameters: { theta: [0.1, 0.2, 0.1 + 0.2] }
    });
    expect(table).toEqual({
      columns: ['theta=0.1', 'theta=0.2', 'theta=0.3'],
      sweep: true,
      rows: [
        { observable: 'observable 0', values: [1, 0.5, -1], stds: [0.1, 0.2, 0.3] },
        { observable: 'observable 1', values: [0, 0.25, 0.75], stds: [0.4, 0.5, 0.6] }
      ]
    });
  });

  it('names a point after every parameter', () => {
    const table = estimates({
      evs: [[0.5, 0.6]],
      stds: [[0.01, 0.02]],
      parameters: { theta: [0, 3.14159265], phi: [1.5, 2] }
    });
    expect(table.columns).toEqual(['theta=0, phi=1.5', 'theta=3.142, phi=2']);
  });

  it('numbers the points of a sweep without parameter names', () => {
    expect(estimates({ evs: [[1, 2, 3]], stds: [[0, 0, 0]], parameters: null }).columns).toEqual([
      'point 0',
      'point 1',
      'point 2'
    ]);
    expect(estimates({ evs: [[1, 2]], parameters: {} }).columns).toEqual(['point 0', 'point 1']);
  });

  it('takes as many columns as the longest row', () => {
    const table = estimates({ evs: [[1], [1, 2, 3]], parameters: null });
    expect(table.columns.length).toBe(3);
    expect(table.rows[0].values).toEqual([1]);
  });

  it('missing stds become nulls', () => {
    expect(estimates({ evs: [0.5, 0.7] }).rows.map(r => r.stds)).toEqual([[null], [null]]);
    expect(estimates({ evs: [[0.5, 0.7]], stds: [] }).rows[0].stds).toEqual([null]);
    expect(estimates({ evs: [0.5, 0.7], stds: [0.1] }).rows.map(r => r.stds)).toEqual([[0.1], [null]]);
  });

  it('non-numeric values (a NaN sent as null) become nulls', () => {
    const table = estimates({ evs: [[0.5, null, 'x']], stds: [[null, 0.1, 0.2]], parameters: { t: [0, 1, 2] } });
    expect(table.rows[0].values).toEqual([0.5, null, null]);
    expect(table.rows[0].stds).toEqual([null, 0.1, 0.2]);
    expect(estimates({ evs: [null, 1] }).rows.map(r => r.values)).toEqual([[null], [1]]);
  });

  it('no evs: no rows', () => {
    expect(estimates({})).toEqual({ columns: ['value'], sweep: false, rows: [] });
    expect(estimates({ evs: 'oops', stds: 3 })).toEqual({ columns: ['value'], sweep: false, rows: [] });
    expect(estimates({ evs: [], parameters: { theta: [0, 1] } })).toEqual({
      columns: ['value'],
      sweep: false,
      rows: []
    });
  });
});

describe('formatNumber', () => {
  it('writes integers as they are', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1024)).toBe('1024');
    expect(formatNumber(-7)).toBe('-7');
    expect(formatNumber(123456789)).toBe('123456789');
  });

  it('keeps at most 4 significant digits, without trailing zeros', () => {
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(3.14159265)).toBe('3.142');
    expect(formatNumber(-0.000123456)).toBe('-0.0001235');
    expect(formatNumber(1.5)).toBe('1.5');
    expect(formatNumber(2.10001)).toBe('2.1');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(1234.5678)).toBe('1235');
    expect(formatNumber(1.23456e-7)).toBe('1.235e-7');
  });

  it('writes non-finite numbers and non-numbers as text', () => {
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(Infinity)).toBe('Infinity');
    expect(formatNumber(-Infinity)).toBe('-Infinity');
    expect(formatNumber(null)).toBe('null');
    expect(formatNumber(undefined)).toBe('undefined');
    expect(formatNumber('0.123456')).toBe('0.123456');
  });
});

describe('age', () => {
  const now = new Date('2026-11-30T12:00:00.000Z');

  it('is empty for no time', () => {
    expect(age(null, now)).toBe('');
    expect(age('', now)).toBe('');
  });

  it('gives back a time it cannot read', () => {
    expect(age('yesterday', now)).toBe('yesterday');
  });

  it('counts seconds under a minute, rounded', () => {
    expect(age('2026-11-30T12:00:00.000000Z', now)).toBe('0 s ago');
    expect(age('2026-11-30T11:59:57.400000Z', now)).toBe('3 s ago');
    expect(age('2026-11-30T11:59:56.600000Z', now)).toBe('3 s ago');
    expect(age('2026-11-30T11:59:00.600000Z', now)).toBe('59 s ago');
  });

  it('never says a time in the future is ahead (clock skew)', () => {
    expect(age('2026-11-30T12:00:05.000000Z', now)).toBe('0 s ago');
  });

  it('counts whole minutes under an hour', () => {
    expect(age('2026-11-30T11:59:00.400000Z', now)).toBe('1 min ago'); // 59.6 s rounds to 60
    expect(age('2026-11-30T11:55:00.000000Z', now)).toBe('5 min ago');
    expect(age('2026-11-30T11:00:01.000000Z', now)).toBe('59 min ago');
  });

  it('counts whole hours under a day', () => {
    expect(age('2026-11-30T11:00:00.000000Z', now)).toBe('1 h ago');
    expect(age('2026-11-29T12:00:01.000000Z', now)).toBe('23 h ago');
  });

  it('gives the date from a day on', () => {
    expect(age('2026-11-29T12:00:00.000000Z', now)).toBe('2026-11-29');
    expect(age('2025-01-02T03:04:05.678901Z', now)).toBe('2025-01-02');
  });

  it('reads the factory timestamps (microseconds, Z)', () => {
    expect(age(ts(43200 - 125), now)).toBe('2 min ago');
  });
});
