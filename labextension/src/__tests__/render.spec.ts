/** @jest-environment jsdom */
/**
 * DOM of the panel (src/render.ts): rows, badges, the record, results and
 * histograms, and that user/provider text always goes in as text.
 */
import { STATUSES, TERMINAL } from '../model';
import { badge, histogramView, jobRow, recordView, resultView } from '../render';
import { BASE_MS, job, ts } from './factories';

const NOW = new Date(BASE_MS + 90 * 1000);
const XSS = '<img src=x onerror=alert(1)>';
const UNFINISHED = ['QUEUED', 'SUBMITTING', 'SUBMITTED', 'RUNNING', 'UNKNOWN'];
const FINISHED = ['COMPLETED', 'FAILED', 'CANCELLED'];

function text(element: Element | null): string {
  return element?.textContent ?? '';
}

function fieldOf(view: HTMLElement, field: string): HTMLElement {
  const cell = view.querySelector<HTMLElement>(`td[data-field="${field}"]`);
  if (!cell) {
    throw new Error(`no field ${field}`);
  }
  return cell;
}

describe('badge', () => {
  it.each([...STATUSES])('%s has its class, title and text', status => {
    const element = badge(status);
    expect(element.tagName).toBe('SPAN');
    expect(element.classList.contains('hal-badge')).toBe(true);
    expect(element.classList.contains(`hal-status-${status.toLowerCase()}`)).toBe(true);
    expect(element.getAttribute('title')).toBe(status);
    expect(element.textContent).toBe(status);
  });
});

describe('jobRow', () => {
  it('carries the job id, status, role and class', () => {
    const row = jobRow(job('abcdef0123456789', 0, { status: 'RUNNING' }), NOW, false);
    expect(row.classList.contains('hal-job-row')).toBe(true);
    expect(row.classList.contains('hal-selected')).toBe(false);
    expect(row.getAttribute('data-job-id')).toBe('abcdef0123456789');
    expect(row.getAttribute('data-status')).toBe('RUNNING');
    expect(row.getAttribute('role')).toBe('listitem');
    expect(row.querySelector('.hal-badge.hal-status-running')).not.toBeNull();
  });

  it('is hal-selected when selected', () => {
    const row = jobRow(job('j1', 0), NOW, true);
    expect(row.classList.contains('hal-job-row')).toBe(true);
    expect(row.classList.contains('hal-selected')).toBe(true);
  });

  it.each(UNFINISHED)('has a cancel control while %s', status => {
    expect(TERMINAL.has(status)).toBe(false);
    const row = jobRow(job('j1', 0, { status: status as any }), NOW, false);
    const cancels = row.querySelectorAll('[data-action="cancel"]');
    expect(cancels).toHaveLength(1);
    expect(cancels[0].tagName).toBe('BUTTON');
  });

  it.each(FINISHED)('has no cancel control once %s', status => {
    const row = jobRow(job('j1', 0, { status: status as any }), NOW, false);
    expect(row.querySelector('[data-action="cancel"]')).toBeNull();
    expect(row.querySelector('button')).toBeNull();
  });

  it('labels a named job by its name', () => {
    const row = jobRow(job('abcdef0123456789', 0, { name: 'bell' }), NOW, false);
    expect(text(row.querySelector('.hal-job-name'))).toContain('bell');
    expect(text(row.querySelector('.hal-job-name'))).not.toContain('abcdef01');
  });

  it('labels an unnamed job by provider and short id', () => {
    const row = jobRow(job('abcdef0123456789', 0, { provider: 'ibm_quantum' }), NOW, false);
    const label = text(row.querySelector('.hal-job-name'));
    expect(label).toContain('ibm_quantum');
    expect(label).toContain('abcdef01');
    expect(label).not.toContain('abcdef012');
  });

  it('shows provider, backend, high priority and age in the meta line', () => {
    const row = jobRow(job('j1', 0, { provider: 'braket', backend: 'sv1', priority: 'high' }), NOW, false);
    const meta = text(row.querySelector('.hal-job-meta'));
    expect(meta).toContain('braket');
    expect(meta).toContain('sv1');
    expect(meta).toContain('high');
    expect(meta).toContain('1 min ago');
    const standard = jobRow(job('j2', 0, { priority: 'standard' }), NOW, false);
    expect(text(standard.querySelector('.hal-job-meta'))).not.toContain('standard');
  });

  it('shows the tags, and no tag element without tags', () => {
    const row = jobRow(job('j1', 0, { tags: ['exp-1', 'calib'] }), NOW, false);
    const tags = row.querySelector('.hal-tags');
    expect(tags).not.toBeNull();
    expect(text(tags)).toContain('#exp-1');
    expect(text(tags)).toContain('#calib');
    expect(jobRow(job('j2', 0), NOW, false).querySelector('.hal-tags')).toBeNull();
  });

  it('uses the status message as title, else the status', () => {
    const withMessage = jobRow(job('j1', 0, { status_message: 'waiting for batch (3/50)' }), NOW, false);
    expect(withMessage.getAttribute('title')).toBe('waiting for batch (3/50)');
    expect(jobRow(job('j2', 0), NOW, false).getAttribute('title')).toBe('QUEUED');
  });
});

describe('recordView', () => {
  const fields = [
    'id',
    'kind',
    'provider',
    'backend',
    'priority',
    'status_message',
    'tags',
    'shots',
    'created_at',
    'submitted_at',
    'finished_at',
    'batch_id',
    'remote_id',
    'cost_estimate',
    'cost_actual',
    'execution',
    'owner'
  ];

  it('has a row per field with its label', () => {
    const view = recordView(job('j1', 0));
    const rows = view.querySelectorAll('table.hal-record tr');
    expect(rows).toHaveLength(fields.length);
    expect(Array.from(view.querySelectorAll('td[data-field]')).map(td => td.getAttribute('data-field'))).toEqual(fields);
    rows.forEach(row => {
      expect(row.querySelector('th')?.textContent).toBeTruthy();
    });
    const labels = Array.from(view.querySelectorAll('th')).map(th => th.textContent);
    expect(labels).toEqual(
      expect.arrayContaining(['id', 'status message', 'created', 'remote id', 'cost estimate', 'owner'])
    );
  });

  it('shows every value, and — for nulls and empty lists', () => {
    const full = job('job-full', 0, {
      kind: 'classical',
      provider: 'local_python',
      backend: 'cpython',
      priority: 'high',
      status: 'COMPLETED',
      status_message: 'done',
      tags: ['a', 'b'],
      shots: 2048,
      submitted_at: ts(1),
      finished_at: ts(2),
      batch_id: 'batch-7',
      remote_id: 'remote-9',
      owner: 'alice'
    });
    const view = recordView(full);
    expect(text(fieldOf(view, 'id'))).toBe('job-full');
    expect(text(fieldOf(view, 'kind'))).toBe('classical');
    expect(text(fieldOf(view, 'provider'))).toBe('local_python');
    expect(text(fieldOf(view, 'backend'))).toBe('cpython');
    expect(text(fieldOf(view, 'priority'))).toBe('high');
    expect(text(fieldOf(view, 'status_message'))).toBe('done');
    expect(text(fieldOf(view, 'tags'))).toBe('a, b');
    expect(text(fieldOf(view, 'shots'))).toBe('2048');
    expect(text(fieldOf(view, 'created_at'))).toBe(ts(0));
    expect(text(fieldOf(view, 'submitted_at'))).toBe(ts(1));
    expect(text(fieldOf(view, 'finished_at'))).toBe(ts(2));
    expect(text(fieldOf(view, 'batch_id'))).toBe('batch-7');
    expect(text(fieldOf(view, 'remote_id'))).toBe('remote-9');
    expect(text(fieldOf(view, 'owner'))).toBe('alice');

    const empty = recordView(job('j2', 0, { backend: null, shots: null }));
    for (const field of [
      'backend',
      'status_message',
      'tags',
      'shots',
      'submitted_at',
      'finished_at',
      'batch_id',
      'remote_id',
      'cost_estimate',
      'cost_actual',
      'execution',
      'owner'
    ]) {
      expect(text(fieldOf(empty, field))).toBe('—');
    }
  });

  it('shows the cost estimate as amount, currency and basis', () => {
    const free = recordView(job('j1', 0, { cost_estimate: { currency: 'USD', amount: 0, basis: 'free simulator' } }));
    expect(text(fieldOf(free, 'cost_estimate'))).toBe('0 USD (free simulator)');
    const paid = recordView(
      job('j2', 0, { cost_estimate: { currency: 'USD', amount: 1.23456789, basis: 'per shot' } })
    );
    expect(text(fieldOf(paid, 'cost_estimate'))).toBe('1.235 USD (per shot)');
  });

  it('shows the actual cost and the execution asked for', () => {
    const view = recordView(
      job('j1', 0, {
        cost_actual: { currency: 'USD', amount: 0.38, basis: 'reported by the provider' },
        execution: { mode: 'session', session: 's1' }
      })
    );
    expect(text(fieldOf(view, 'cost_actual'))).toBe('0.38 USD (reported by the provider)');
    expect(text(fieldOf(view, 'execution'))).toBe('{"mode":"session","session":"s1"}');
  });

  it('has no error block without an error', () => {
    const view = recordView(job('j1', 0));
    expect(view.querySelector('.hal-error')).toBeNull();
    expect(view.querySelector('.hal-error-message')).toBeNull();
  });

  it('shows the error type and its full message, even long and multiline', () => {
    const message =
      'Traceback (most recent call last):\n' +
      Array.from({ length: 200 }, (_, i) => `  File "x.py", line ${i}, in f\n    raise ProviderError("x" * 80)`).join('\n') +
      '\nProviderError: ' +
      'y'.repeat(5000);
    const view = recordView(job('j1', 0, { status: 'FAILED', error: { type: 'ProviderError', message } }));
    const error = view.querySelector('.hal-error');
    expect(error).not.toBeNull();
    expect(error?.getAttribute('role')).toBe('alert');
    expect(text(view.querySelector('.hal-error-type'))).toBe('ProviderError');
    const pre = view.querySelector('.hal-error-message');
    expect(pre?.tagName).toBe('PRE');
    expect(pre?.textContent).toBe(message);
  });
});

describe('histogramView', () => {
  it('has one bar per outcome, most frequent first', () => {
    const view = histogramView({ '00': 300, '11': 500, '01': 100, '10': 124 });
    const bars = Array.from(view.querySelectorAll('.hal-bar'));
    expect(bars.map(b => b.getAttribute('data-outcome'))).toEqual(['11', '00', '10', '01']);
    expect(bars.map(b => text(b.querySelector('.hal-bar-count')))).toEqual(['500', '300', '124', '100']);
    expect(bars.map(b => text(b.querySelector('.hal-bar-label')))).toEqual(['11', '00', '10', '01']);
    expect((bars[0].querySelector('.hal-bar-fill') as HTMLElement).style.width).toBe('100.0%');
    expect((bars[2].querySelector('.hal-bar-fill') as HTMLElement).style.width).toBe('24.8%');
    expect(view.querySelector('.hal-empty')).toBeNull();
  });

  it('groups outcomes beyond 16 as "other (n)"', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      counts[i.toString(2).padStart(5, '0')] = 100 - i;
    }
    const bars = Array.from(histogramView(counts).querySelectorAll('.hal-bar'));
    expect(bars).toHaveLength(17);
    const last = bars[16];
    expect(last.getAttribute('data-outcome')).toBe('other (4)');
    expect(text(last.querySelector('.hal-bar-label'))).toBe('other (4)');
    expect(text(last.querySelector('.hal-bar-count'))).toBe(String(84 + 83 + 82 + 81));
  });

  it('says "no counts" when empty', () => {
    const view = histogramView({});
    expect(view.querySelectorAll('.hal-bar')).toHaveLength(0);
    expect(text(view.querySelector('.hal-empty'))).toBe('no counts');
  });
});

describe('resultView', () => {
  it('draws a counts result as a histogram', () => {
    const view = resultView({ id: 'j1', counts: { '00': 507, '11': 517 }, shots: 1024, backend: 'aer_simulator', metadata: {} });
    expect(text(view.querySelector('.hal-result-title'))).toContain('1024 shots');
    expect(text(view.querySelector('.hal-result-title'))).toContain('aer_simulator');
    const histograms = view.querySelectorAll('.hal-histogram');
    expect(histograms).toHaveLength(1);
    const bars = Array.from(view.querySelectorAll('.hal-bar'));
    expect(bars.map(b => b.getAttribute('data-outcome'))).toEqual(['11', '00']);
    expect(view.querySelector('.hal-plot')).toBeNull();
  });

  it('draws a sweep as one histogram per point, with the parameter values', () => {
    const view = resultView({
      id: 'j1',
      shots: 100,
      parameters: { theta: [0, 1.5707963], phi: [0.25, 0.5] },
      counts: [{ '0': 100 }, { '0': 40, '1': 60 }]
    });
    expect(view.querySelectorAll('.hal-histogram')).toHaveLength(2);
    const headings = Array.from(view.querySelectorAll('.hal-point')).map(p => p.textContent);
    expect(headings).toEqual(['point 0: theta=0, phi=0.25', 'point 1: theta=1.571, phi=0.5']);
    expect(text(view.querySelector('.hal-result-title'))).toContain('2 sweep points');
    expect(view.querySelectorAll('.hal-histogram')[1].querySelectorAll('.hal-bar')[0].getAttribute('data-outcome')).toBe('1');
    expect(view.textContent).not.toContain('more points');
  });

  it('draws a sweep without parameters with plain point headings', () => {
    const view = resultView({ id: 'j1', shots: 10, counts: [{ '0': 10 }] });
    expect(text(view.querySelector('.hal-point'))).toBe('point 0');
  });

  it('shows at most 50 sweep points and says how many more', () => {
    const counts = Array.from({ length: 73 }, (_, i) => ({ '0': i + 1, '1': 100 - i }));
    const view = resultView({ id: 'job-xyz', shots: 101, parameters: { theta: counts.map((_, i) => i) }, counts });
    expect(view.querySelectorAll('.hal-histogram')).toHaveLength(50);
    expect(view.querySelectorAll('.hal-point')).toHaveLength(50);
    const more = Array.from(view.querySelectorAll('.hal-empty')).map(e => e.textContent).find(t => t?.includes('more points'));
    expect(more).toContain('… 23 more points');
    expect(more).toContain('job-xyz');
    expect(text(view.querySelector('.hal-result-title'))).toContain('73 sweep points');
  });

  it('shows an estimation result without sweep as a table with ±', () => {
    const view = resultView({ id: 'j1', evs: [0.98765, -0.5], stds: [0.0123, 0.02], shots: 4000, parameters: null });
    expect(text(view.querySelector('.hal-result-title'))).toContain('4000 shots');
    expect(view.querySelector('.hal-plot')).toBeNull();
    const table = view.querySelector('table.hal-evs');
    expect(table).not.toBeNull();
    const rows = Array.from(table!.querySelectorAll('tr'));
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain('value');
    expect(text(rows[1].querySelector('th'))).toBe('observable 0');
    expect(text(rows[1].querySelector('td'))).toBe('0.9877 ± 0.0123');
    expect(text(rows[2].querySelector('td'))).toBe('-0.5 ± 0.02');
  });

  it('shows an estimation result without stds without ±', () => {
    const view = resultView({ id: 'j1', evs: [0.5], shots: 10 });
    expect(text(view.querySelector('table.hal-evs td'))).toBe('0.5');
  });

  it('plots an estimation sweep: one polyline per observable', () => {
    const view = resultView({
      id: 'j1',
      evs: [
        [1, 0.5, 0, -0.5],
        [0, 0.25, 0.5, 0.75]
      ],
      stds: [
        [0.01, 0.01, 0.01, 0.01],
        [0.02, 0.02, 0.02, 0.02]
      ],
      shots: 1000,
      parameters: { theta: [0, 1, 2, 3] }
    });
    const plot = view.querySelector('svg.hal-plot');
    expect(plot).not.toBeNull();
    expect(plot?.namespaceURI).toBe('http://www.w3.org/2000/svg');
    const lines = plot!.querySelectorAll('polyline');
    expect(lines).toHaveLength(2);
    lines.forEach(line => {
      const points = (line.getAttribute('points') ?? '').split(' ');
      expect(points).toHaveLength(4);
      for (const point of points) {
        expect(point).toMatch(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/);
      }
    });
    const headings = Array.from(view.querySelectorAll('table.hal-evs tr:first-child th')).map(th => th.textContent);
    expect(headings).toEqual(['', 'theta=0', 'theta=1', 'theta=2', 'theta=3']);
    const rows = view.querySelectorAll('table.hal-evs tr');
    expect(rows).toHaveLength(3);
    expect(text(rows[1].querySelectorAll('td')[1])).toBe('0.5 ± 0.01');
    expect(text(rows[2].querySelectorAll('td')[3])).toBe('0.75 ± 0.02');
  });

  it('shows a classical result: value as pretty JSON, stdout, stderr, duration', () => {
    const value = { answer: 42, list: [1, 2] };
    const view = resultView({ id: 'j1', value, stdout: 'hello\n', stderr: 'warning: x\n', duration_s: 0.123456 });
    expect(text(view.querySelector('.hal-result-title'))).toBe('value (0.1235 s)');
    expect(text(view.querySelector('pre.hal-value'))).toBe(JSON.stringify(value, null, 2));
    expect(text(view.querySelector('pre.hal-stdout'))).toBe('hello\n');
    expect(text(view.querySelector('pre.hal-stderr'))).toBe('warning: x\n');
    const titles = Array.from(view.querySelectorAll('.hal-result-title')).map(t => t.textContent);
    expect(titles).toEqual(['value (0.1235 s)', 'stdout', 'stderr']);
  });

  it('leaves out empty stdout and stderr', () => {
    const view = resultView({ id: 'j1', value: null, stdout: '', stderr: '', duration_s: 2 });
    expect(text(view.querySelector('pre.hal-value'))).toBe('null');
    expect(view.querySelector('.hal-stdout')).toBeNull();
    expect(view.querySelector('.hal-stderr')).toBeNull();
    expect(Array.from(view.querySelectorAll('.hal-result-title')).map(t => t.textContent)).toEqual(['value (2 s)']);
  });

  it('falls back to JSON for an unknown shape', () => {
    const result = { id: 'j1', something: { nested: [1, 2, 3] } };
    const view = resultView(result);
    expect(text(view.querySelector('pre.hal-value'))).toBe(JSON.stringify(result, null, 2));
    expect(view.querySelector('.hal-histogram')).toBeNull();
    expect(view.querySelector('.hal-evs')).toBeNull();
  });
});

describe('text stays text (no HTML injection)', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('renders a job name, tags and status message as text', () => {
    const row = jobRow(job('j1', 0, { name: XSS, tags: [XSS], status_message: XSS }), NOW, false);
    document.body.append(row);
    expect(document.querySelector('img')).toBeNull();
    expect(text(row.querySelector('.hal-job-name'))).toContain(XSS);
    expect(text(row.querySelector('.hal-tags'))).toContain(XSS);
    expect(row.getAttribute('title')).toBe(XSS);
  });

  it('renders an error message and type as text', () => {
    const view = recordView(job('j1', 0, { status: 'FAILED', name: XSS, error: { type: XSS as any, message: XSS } }));
    document.body.append(view);
    expect(document.querySelector('img')).toBeNull();
    expect(text(view.querySelector('.hal-error-message'))).toBe(XSS);
    expect(text(view.querySelector('.hal-error-type'))).toBe(XSS);
  });

  it('renders stdout, stderr and value as text', () => {
    const view = resultView({ id: 'j1', value: XSS, stdout: XSS, stderr: XSS, duration_s: 1 });
    document.body.append(view);
    expect(document.querySelector('img')).toBeNull();
    expect(text(view.querySelector('.hal-stdout'))).toBe(XSS);
    expect(text(view.querySelector('.hal-stderr'))).toBe(XSS);
  });

  it('renders outcome labels as text', () => {
    const view = resultView({ id: 'j1', counts: { [XSS]: 3 }, shots: 3, backend: XSS });
    document.body.append(view);
    expect(document.querySelector('img')).toBeNull();
    expect(view.querySelector('.hal-bar')?.getAttribute('data-outcome')).toBe(XSS);
  });
});
