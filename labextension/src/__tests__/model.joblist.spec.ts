/**
 * JobList, listQuery and newestFirst (src/model.ts): the panel's list of jobs
 * as REST pages (GET /hal/api/jobs, newest first, cursor) and events
 * (the events WebSocket: {"type": "job", "job": record}) bring them.
 */
import { JobList, JobRecord, NO_FILTERS, listQuery, newestFirst } from '../model';
import { checkInvariants, evolve, ids, job, newerState, page, prng, ts } from './factories';

describe('listQuery', () => {
  it('sends only the limit when no filter is set', () => {
    expect(listQuery(NO_FILTERS, 100, null)).toBe('limit=100');
  });

  it('trims the filters and omits the empty or blank ones', () => {
    expect(listQuery({ status: ' RUNNING ', provider: '', tag: '   ' }, 100, null)).toBe(
      'status=RUNNING&limit=100'
    );
    expect(listQuery({ status: '', provider: '\tibm_quantum\n', tag: '' }, 50, null)).toBe(
      'provider=ibm_quantum&limit=50'
    );
  });

  it('sends every filter, the limit and the cursor in a stable order', () => {
    const query = listQuery({ status: 'COMPLETED', provider: 'aws_braket', tag: 'exp-1' }, 500, 'abc123');
    expect(query).toBe('status=COMPLETED&provider=aws_braket&tag=exp-1&limit=500&cursor=abc123');
  });

  it('omits a null or empty cursor', () => {
    expect(listQuery(NO_FILTERS, 10, null)).not.toContain('cursor');
    expect(listQuery(NO_FILTERS, 10, '')).not.toContain('cursor');
  });

  it('encodes values so that they read back unchanged', () => {
    const cursor = 'eyJjIjoiMjAyNi0xMS0zMFQxMjowMDowMC4xMjM0NTZaIn0=/+&';
    const params = new URLSearchParams(listQuery({ status: '', provider: '', tag: ' exp 1/2&x=y ' }, 7, cursor));
    expect(params.get('tag')).toBe('exp 1/2&x=y');
    expect(params.get('limit')).toBe('7');
    expect(params.get('cursor')).toBe(cursor);
    expect(params.has('status')).toBe(false);
    expect(params.has('provider')).toBe(false);
  });

  it('does not modify the filters it is given', () => {
    const filters = { status: ' QUEUED ', provider: ' p ', tag: ' t ' };
    listQuery(filters, 1, null);
    expect(filters).toEqual({ status: ' QUEUED ', provider: ' p ', tag: ' t ' });
  });
});

describe('newestFirst', () => {
  it('puts the later created_at first', () => {
    const older = job('b', 10);
    const newer = job('a', 20);
    expect(newestFirst(newer, older)).toBeLessThan(0);
    expect(newestFirst(older, newer)).toBeGreaterThan(0);
  });

  it('compares microseconds', () => {
    const a = job('a', 10, { created_at: '2026-11-30T12:00:00.123456Z' });
    const b = job('b', 10, { created_at: '2026-11-30T12:00:00.123457Z' });
    expect(newestFirst(b, a)).toBeLessThan(0);
    expect(newestFirst(a, b)).toBeGreaterThan(0);
  });

  it('breaks a created_at tie with the larger id first', () => {
    const a = job('job-a', 10);
    const b = job('job-b', 10);
    expect(newestFirst(b, a)).toBeLessThan(0);
    expect(newestFirst(a, b)).toBeGreaterThan(0);
  });

  it('is 0 for the same id and created_at (another state of the same job)', () => {
    const a = job('a', 10);
    expect(newestFirst(a, evolve(a, 'RUNNING', 11))).toBe(0);
  });

  it('sorts a list newest first, then by id descending', () => {
    const rows = [job('a', 1), job('c', 3), job('b', 3), job('d', 2), job('e', 3)];
    expect(ids([...rows].sort(newestFirst))).toEqual(['e', 'c', 'b', 'd', 'a']);
  });

  it('ignores updated_at and status', () => {
    const a = job('a', 10, { updated: 1000, status: 'COMPLETED' });
    const b = job('b', 20, { updated: 20 });
    expect(newestFirst(b, a)).toBeLessThan(0);
  });
});

/** Jobs 'j<created>' created at 100, 99, ..., newest first. */
function descending(from: number, count: number, overrides: Partial<JobRecord> = {}): JobRecord[] {
  return Array.from({ length: count }, (_, i) => job(`j${String(from - i).padStart(4, '0')}`, from - i, overrides));
}

describe('JobList: state and pages', () => {
  it('starts empty, with no cursor, incomplete and no page loaded', () => {
    const list = new JobList();
    expect(list.rows).toEqual([]);
    expect(list.length).toBe(0);
    expect(list.cursor).toBeNull();
    expect(list.complete).toBe(false);
    expect(list.pagesLoaded).toBe(0);
    expect(list.filters).toEqual(NO_FILTERS);
    expect(list.get('x')).toBeUndefined();
    expect(list.indexOf('x')).toBe(-1);
    expect(list.statusCounts()).toEqual({});
  });

  it('copies the filters it is given and hands out copies', () => {
    const filters = { status: 'RUNNING', provider: '', tag: '' };
    const list = new JobList(filters);
    filters.status = 'FAILED';
    expect(list.filters.status).toBe('RUNNING');
    const out = list.filters;
    out.status = 'QUEUED';
    expect(list.filters.status).toBe('RUNNING');
  });

  it('appends pages in order and tracks cursor, complete and pagesLoaded', () => {
    const list = new JobList();
    const all = descending(100, 9);
    list.addPage(page(all.slice(0, 3), 'c1'));
    expect(ids(list)).toEqual(ids(all.slice(0, 3)));
    expect(list.cursor).toBe('c1');
    expect(list.complete).toBe(false);
    expect(list.pagesLoaded).toBe(1);

    list.addPage(page(all.slice(3, 6), 'c2'));
    expect(ids(list)).toEqual(ids(all.slice(0, 6)));
    expect(list.cursor).toBe('c2');
    expect(list.complete).toBe(false);
    expect(list.pagesLoaded).toBe(2);

    list.addPage(page(all.slice(6), null));
    expect(ids(list)).toEqual(ids(all));
    expect(list.cursor).toBeNull();
    expect(list.complete).toBe(true);
    expect(list.pagesLoaded).toBe(3);
    expect(list.length).toBe(9);
    checkInvariants(list);
  });

  it('is complete after one empty page without cursor', () => {
    const list = new JobList();
    list.addPage(page([], null));
    expect(list.complete).toBe(true);
    expect(list.pagesLoaded).toBe(1);
    expect(list.length).toBe(0);
  });

  it('treats an empty-string cursor as no page left', () => {
    const list = new JobList();
    list.addPage(page([job('a', 1)], ''));
    expect(list.complete).toBe(true);
  });

  it('sorts the rows newest first whatever the order of a page', () => {
    const list = new JobList();
    list.addPage(page([job('a', 1), job('c', 3), job('b', 2)], 'c1'));
    expect(ids(list)).toEqual(['c', 'b', 'a']);
  });

  it('keeps one row per id across pages: the newer state when the later page has an older one', () => {
    const list = new JobList();
    const x = job('x', 50, { updated: 60, status: 'RUNNING' });
    list.addPage(page([job('y', 60), x], 'c1'));
    list.addPage(page([evolve(x, 'QUEUED', 55), job('z', 40)], null));
    expect(ids(list)).toEqual(['y', 'x', 'z']);
    expect(list.get('x')!.status).toBe('RUNNING');
    expect(list.rows[1]).toBe(x);
    checkInvariants(list);
  });

  it('keeps one row per id across pages: the later page wins when its state is newer', () => {
    const list = new JobList();
    const x = job('x', 50, { updated: 60, status: 'RUNNING' });
    list.addPage(page([job('y', 60), x], 'c1'));
    const done = evolve(x, 'COMPLETED', 70);
    list.addPage(page([done, job('z', 40)], null));
    expect(ids(list)).toEqual(['y', 'x', 'z']);
    expect(list.get('x')).toBe(done);
    expect(list.rows[1]).toBe(done);
    expect(list.indexOf('x')).toBe(1);
    checkInvariants(list);
  });

  it('keeps one row when the same id is twice in one page', () => {
    const list = new JobList();
    const x = job('x', 50, { updated: 50 });
    list.addPage(page([evolve(x, 'RUNNING', 52), x, job('w', 49)], null));
    expect(ids(list)).toEqual(['x', 'w']);
    expect(list.get('x')!.status).toBe('RUNNING');
    checkInvariants(list);
  });

  it('keeps a state an event brought when a later page carries an older one', () => {
    const list = new JobList();
    const x = job('x', 50, { updated: 50, status: 'RUNNING' });
    list.addPage(page([job('y', 60), x], 'c1'));
    list.apply([evolve(x, 'COMPLETED', 80)]);
    list.addPage(page([x, job('z', 40)], null));
    expect(list.get('x')!.status).toBe('COMPLETED');
    expect(ids(list)).toEqual(['y', 'x', 'z']);
  });
});

describe('JobList.apply: updates of held jobs', () => {
  function loaded(): { list: JobList; rows: JobRecord[] } {
    const list = new JobList();
    const rows = descending(100, 5, { status: 'RUNNING' });
    list.addPage(page(rows, 'more'));
    return { list, rows };
  }

  it('replaces a held job in place with a newer state', () => {
    const { list, rows } = loaded();
    const done = evolve(rows[2], 'COMPLETED', 200);
    expect(list.apply([done])).toBe(true);
    expect(list.rows[2]).toBe(done);
    expect(list.get(rows[2].id)).toBe(done);
    expect(list.indexOf(rows[2].id)).toBe(2);
    expect(ids(list)).toEqual(ids(rows));
    expect(list.length).toBe(5);
  });

  it('ignores an older state (smaller updated_at)', () => {
    const { list, rows } = loaded();
    const fresh = evolve(rows[1], 'COMPLETED', 300);
    list.apply([fresh]);
    expect(list.apply([evolve(rows[1], 'RUNNING', 250)])).toBe(false);
    expect(list.rows[1]).toBe(fresh);
    expect(list.get(rows[1].id)).toBe(fresh);
  });

  it('ignores an older state even by one microsecond', () => {
    const { list, rows } = loaded();
    const fresh = { ...rows[0], status: 'COMPLETED' as const, updated_at: '2026-11-30T12:00:00.000002Z' };
    list.apply([fresh]);
    const stale = { ...rows[0], status: 'RUNNING' as const, updated_at: '2026-11-30T12:00:00.000001Z' };
    expect(list.apply([stale])).toBe(false);
    expect(list.get(rows[0].id)).toBe(fresh);
  });

  it('at the same updated_at, a terminal state wins over a live one', () => {
    const { list, rows } = loaded();
    const t = 300;
    const running = evolve(rows[0], 'RUNNING', t);
    const completed = evolve(rows[0], 'COMPLETED', t);
    list.apply([running]);
    expect(list.apply([completed])).toBe(true);
    expect(list.get(rows[0].id)).toBe(completed);
    // and the live state of the same instant, arriving later, does not undo it
    expect(list.apply([evolve(rows[0], 'RUNNING', t)])).toBe(false);
    expect(list.get(rows[0].id)).toBe(completed);
    expect(list.rows[0]).toBe(completed);
  });

  it('at the same updated_at between live states, the later message wins', () => {
    const { list, rows } = loaded();
    const submitted = evolve(rows[3], 'SUBMITTED', 300);
    const running = evolve(rows[3], 'RUNNING', 300);
    list.apply([submitted]);
    expect(list.apply([running])).toBe(true);
    expect(list.get(rows[3].id)).toBe(running);
  });

  it('applies several states of one job in one call: the newest remains', () => {
    const { list, rows } = loaded();
    const a = evolve(rows[4], 'SUBMITTED', 301);
    const b = evolve(rows[4], 'COMPLETED', 303);
    const c = evolve(rows[4], 'RUNNING', 302);
    expect(list.apply([a, b, c])).toBe(true);
    expect(list.get(rows[4].id)).toBe(b);
    expect(list.rows[4]).toBe(b);
  });

  it('returns false for no records, and for a replay of the held state', () => {
    const { list, rows } = loaded();
    expect(list.apply([])).toBe(false);
    const held = list.rows[0];
    // the same record again is "at least as recent": it is put back, but nothing moves
    list.apply([held]);
    expect(list.rows[0]).toBe(held);
    expect(ids(list)).toEqual(ids(rows));
  });

  it('does not change the row order when statuses change', () => {
    const { list, rows } = loaded();
    list.apply(rows.map((r, i) => evolve(r, i % 2 ? 'FAILED' : 'COMPLETED', 400 + i)));
    expect(ids(list)).toEqual(ids(rows));
    expect(list.statusCounts()).toEqual({ COMPLETED: 3, FAILED: 2 });
    checkInvariants(list);
  });
});

describe('JobList.apply: new jobs', () => {
  /** jobs created at 100, 90, ..., 60 with more pages to come */
  function partial(): JobList {
    const list = new JobList();
    list.addPage(page([100, 90, 80, 70, 60].map(t => job(`j${t}`, t)), 'more'));
    return list;
  }

  it('inserts a job newer than every row at the top', () => {
    const list = partial();
    expect(list.apply([job('new', 200)])).toBe(true);
    expect(ids(list)).toEqual(['new', 'j100', 'j90', 'j80', 'j70', 'j60']);
    expect(list.indexOf('new')).toBe(0);
  });

  it('inserts a job newer than the oldest loaded row at its sorted place', () => {
    const list = partial();
    expect(list.apply([job('j85', 85), job('j61', 61), job('j95', 95)])).toBe(true);
    expect(ids(list)).toEqual(['j100', 'j95', 'j90', 'j85', 'j80', 'j70', 'j61', 'j60']);
    checkInvariants(list);
  });

  it('places jobs an event brings before the loaded jobs created at the same instant, the later one first', () => {
    const list = partial();
    list.apply([job('j80b', 80), job('j80', 80, { id: 'j80-' })]);
    // the events' jobs are newer than the page's j80 (same created_at); the second event's job is the newest
    expect(ids(list)).toEqual(['j100', 'j90', 'j80-', 'j80b', 'j80', 'j70', 'j60']);
    checkInvariants(list);
  });

  it("keeps the server's order of a batch created at one instant (ids in no order)", () => {
    const list = new JobList();
    const batch = ['q', 'b', 'z', 'a', 'm'].map(id => job(id, 50, { id }));
    list.addPage(page(batch.slice(0, 3), 'after-z'));
    list.addPage(page(batch.slice(3), null));
    expect(ids(list)).toEqual(['q', 'b', 'z', 'a', 'm']);
    list.apply([{ ...batch[4], status: 'RUNNING', updated_at: ts(60) }]);
    expect(ids(list)).toEqual(['q', 'b', 'z', 'a', 'm']);
  });

  it('does not insert a job older than the last loaded row while pages remain', () => {
    const list = partial();
    expect(list.apply([job('old', 59)])).toBe(false);
    expect(list.get('old')).toBeUndefined();
    expect(list.indexOf('old')).toBe(-1);
    expect(list.length).toBe(5);
  });

  it('does not insert a job at the last row`s created_at with a smaller id while pages remain', () => {
    const list = partial();
    expect(list.apply([job('j59', 60)])).toBe(false); // 'j59' < 'j60': after it
    expect(list.apply([job('j7', 60)])).toBe(true); // 'j7' > 'j60': before it
    expect(ids(list)).toEqual(['j100', 'j90', 'j80', 'j70', 'j7', 'j60']);
  });

  it('inserts a job older than the last row once the list is complete', () => {
    const list = partial();
    list.addPage(page([job('j50', 50)], null));
    expect(list.complete).toBe(true);
    expect(list.apply([job('j10', 10), job('j55', 55)])).toBe(true);
    expect(ids(list)).toEqual(['j100', 'j90', 'j80', 'j70', 'j60', 'j55', 'j50', 'j10']);
    checkInvariants(list);
  });

  it('inserts into a complete empty list', () => {
    const list = new JobList();
    list.addPage(page([], null));
    expect(list.apply([job('a', 1)])).toBe(true);
    expect(ids(list)).toEqual(['a']);
  });

  it('inserts nothing before the first page while pages remain', () => {
    const list = new JobList();
    expect(list.apply([job('a', 1000), job('b', 1)])).toBe(false);
    expect(list.length).toBe(0);
    expect(list.get('a')).toBeUndefined();
    // the first page then brings the jobs as they are
    list.addPage(page([job('a', 1000, { status: 'RUNNING' })], 'more'));
    expect(ids(list)).toEqual(['a']);
    expect(list.get('a')!.status).toBe('RUNNING');
  });

  it('a job left to a later page arrives with it, once', () => {
    const list = partial();
    const x = job('j55', 55, { status: 'RUNNING', updated: 300 });
    list.apply([x]);
    expect(list.get('j55')).toBeUndefined();
    list.addPage(page([x, job('j50', 50)], null));
    expect(ids(list)).toEqual(['j100', 'j90', 'j80', 'j70', 'j60', 'j55', 'j50']);
    checkInvariants(list);
  });
});

describe('JobList: filters', () => {
  it('matches exact status, provider and tag, trimmed; empty fields match everything', () => {
    const r = job('a', 1, { status: 'RUNNING', provider: 'ibm_quantum', tags: ['exp-1', 'x'] });
    expect(new JobList().matches(r)).toBe(true);
    expect(new JobList({ status: 'RUNNING', provider: 'ibm_quantum', tag: 'x' }).matches(r)).toBe(true);
    expect(new JobList({ status: ' RUNNING ', provider: ' ibm_quantum ', tag: ' exp-1 ' }).matches(r)).toBe(true);
    expect(new JobList({ status: 'running', provider: '', tag: '' }).matches(r)).toBe(false);
    expect(new JobList({ status: 'QUEUED', provider: '', tag: '' }).matches(r)).toBe(false);
    expect(new JobList({ status: '', provider: 'ibm', tag: '' }).matches(r)).toBe(false);
    expect(new JobList({ status: '', provider: '', tag: 'exp' }).matches(r)).toBe(false);
    expect(new JobList({ status: '', provider: '', tag: 'exp-1 x' }).matches(r)).toBe(false);
  });

  it('a record without tags (null) matches no tag filter and does not throw', () => {
    const r = { ...job('a', 1), tags: null as unknown as string[] };
    expect(new JobList({ status: '', provider: '', tag: 'exp-1' }).matches(r)).toBe(false);
    expect(new JobList().matches(r)).toBe(true);
  });

  it('removes a held job that stops matching the status filter', () => {
    const list = new JobList({ status: 'RUNNING', provider: '', tag: '' });
    const rows = [job('c', 30), job('b', 20), job('a', 10)].map(r => evolve(r, 'RUNNING', 40));
    list.addPage(page(rows, null));
    expect(list.apply([evolve(rows[1], 'COMPLETED', 50)])).toBe(true);
    expect(ids(list)).toEqual(['c', 'a']);
    expect(list.get('b')).toBeUndefined();
    expect(list.indexOf('b')).toBe(-1);
    expect(list.indexOf('a')).toBe(1);
    expect(list.statusCounts()).toEqual({ RUNNING: 2 });
  });

  it('does not remove a held job for an older state that does not match', () => {
    const list = new JobList({ status: 'RUNNING', provider: '', tag: '' });
    const b = job('b', 20, { status: 'RUNNING', updated: 40 });
    list.addPage(page([b], null));
    expect(list.apply([evolve(b, 'SUBMITTED', 30)])).toBe(false);
    expect(ids(list)).toEqual(['b']);
  });

  it('does not insert a new job that does not match the status filter, inserts one that does', () => {
    const list = new JobList({ status: 'RUNNING', provider: '', tag: '' });
    list.addPage(page([job('a', 10, { status: 'RUNNING' })], null));
    expect(list.apply([job('q', 20, { status: 'QUEUED' })])).toBe(false);
    expect(list.get('q')).toBeUndefined();
    expect(list.apply([job('q', 20, { status: 'RUNNING', updated: 21 })])).toBe(true);
    expect(ids(list)).toEqual(['q', 'a']);
  });

  it('applies the tag filter to new jobs', () => {
    const list = new JobList({ status: '', provider: '', tag: 'exp-1' });
    list.addPage(page([job('a', 10, { tags: ['exp-1'] })], null));
    expect(list.apply([job('b', 20, { tags: ['exp-2'] }), job('c', 30, { tags: [] })])).toBe(false);
    expect(list.apply([job('d', 40, { tags: ['other', 'exp-1'] })])).toBe(true);
    expect(ids(list)).toEqual(['d', 'a']);
  });

  it('applies the provider filter to new and held jobs', () => {
    const list = new JobList({ status: '', provider: 'aws_braket', tag: '' });
    const a = job('a', 10, { provider: 'aws_braket' });
    list.addPage(page([a], null));
    expect(list.apply([job('b', 20, { provider: 'ibm_quantum' })])).toBe(false);
    expect(list.apply([job('c', 30, { provider: 'aws_braket' })])).toBe(true);
    expect(ids(list)).toEqual(['c', 'a']);
    // a held record that (oddly) changes provider stops matching
    expect(list.apply([evolve(a, 'RUNNING', 40, { provider: 'azure_quantum' })])).toBe(true);
    expect(ids(list)).toEqual(['c']);
  });
});

describe('JobList.reset, indexOf, statusCounts', () => {
  it('reset with new filters starts over', () => {
    const list = new JobList();
    list.addPage(page([job('a', 2), job('b', 1)], 'c1'));
    list.reset({ status: 'FAILED', provider: '', tag: '' });
    expect(list.length).toBe(0);
    expect(list.rows).toEqual([]);
    expect(list.cursor).toBeNull();
    expect(list.complete).toBe(false);
    expect(list.pagesLoaded).toBe(0);
    expect(list.get('a')).toBeUndefined();
    expect(list.indexOf('a')).toBe(-1);
    expect(list.filters).toEqual({ status: 'FAILED', provider: '', tag: '' });
    expect(list.apply([job('z', 100, { status: 'FAILED' })])).toBe(false); // no first page yet
    list.addPage(page([job('f', 5, { status: 'FAILED' })], null));
    expect(ids(list)).toEqual(['f']);
    expect(list.pagesLoaded).toBe(1);
  });

  it('reset without arguments keeps the filters', () => {
    const list = new JobList({ status: '', provider: '', tag: 'exp' });
    list.addPage(page([job('a', 2, { tags: ['exp'] })], null));
    list.reset();
    expect(list.filters).toEqual({ status: '', provider: '', tag: 'exp' });
    expect(list.length).toBe(0);
    expect(list.complete).toBe(false);
  });

  it('reset copies the filters it is given', () => {
    const list = new JobList();
    const filters = { status: 'QUEUED', provider: '', tag: '' };
    list.reset(filters);
    filters.status = 'RUNNING';
    expect(list.filters.status).toBe('QUEUED');
  });

  it('indexOf follows inserts and removals', () => {
    const list = new JobList({ status: '', provider: '', tag: 'keep' });
    list.addPage(page([job('c', 30, { tags: ['keep'] }), job('a', 10, { tags: ['keep'] })], null));
    expect([list.indexOf('c'), list.indexOf('a')]).toEqual([0, 1]);
    list.apply([job('b', 20, { tags: ['keep'] })]);
    expect([list.indexOf('c'), list.indexOf('b'), list.indexOf('a')]).toEqual([0, 1, 2]);
    list.apply([evolve(list.get('c')!, 'RUNNING', 40, { tags: [] })]);
    expect([list.indexOf('c'), list.indexOf('b'), list.indexOf('a')]).toEqual([-1, 0, 1]);
  });

  it('statusCounts counts the loaded rows per status', () => {
    const list = new JobList();
    list.addPage(
      page(
        [
          job('f', 6, { status: 'FAILED' }),
          job('e', 5, { status: 'COMPLETED' }),
          job('d', 4, { status: 'COMPLETED' }),
          job('c', 3, { status: 'RUNNING' }),
          job('b', 2, { status: 'QUEUED' }),
          job('a', 1, { status: 'UNKNOWN' })
        ],
        'more'
      )
    );
    expect(list.statusCounts()).toEqual({ FAILED: 1, COMPLETED: 2, RUNNING: 1, QUEUED: 1, UNKNOWN: 1 });
    list.apply([evolve(list.get('c')!, 'COMPLETED', 10)]);
    expect(list.statusCounts()).toEqual({ FAILED: 1, COMPLETED: 3, QUEUED: 1, UNKNOWN: 1 });
    // a job not yet loaded is not counted
    list.apply([job('old', 0, { status: 'CANCELLED' })]);
    expect(list.statusCounts().CANCELLED).toBeUndefined();
  });
});

describe('JobList: 5,000 jobs', () => {
  const STATUS_FLOW = ['QUEUED', 'SUBMITTING', 'SUBMITTED', 'RUNNING'] as const;
  const ENDS = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;

  /** 5,000 jobs over ~an hour, with created_at ties (same second and microsecond) to exercise the id order. */
  function makeJobs(random: () => number): JobRecord[] {
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 5000; i++) {
      const second = Math.floor(random() * 3600);
      const micros = Math.floor(random() * 4) * 250000; // few distinct values: many ties
      const id = `job-${Math.floor(random() * 1e9).toString(36)}-${i}`;
      const r = job(id, 0, { status: STATUS_FLOW[i % 4] });
      r.created_at = ts(second, micros);
      r.updated_at = r.created_at;
      jobs.push(r);
    }
    return jobs.sort(newestFirst);
  }

  it('10 pages of 500 then 1,000 events: newest first, no duplicates, latest states', () => {
    const random = prng(20261130);
    const jobs = makeJobs(random);
    const list = new JobList();
    for (let p = 0; p < 10; p++) {
      list.addPage(page(jobs.slice(p * 500, (p + 1) * 500), p < 9 ? `cursor-${p + 1}` : null));
      expect(list.length).toBe((p + 1) * 500);
      expect(list.pagesLoaded).toBe(p + 1);
    }
    expect(list.complete).toBe(true);
    expect(ids(list)).toEqual(ids(jobs));

    // the reference: the latest state of every job
    const latest = new Map<string, JobRecord>(jobs.map(j => [j.id, j]));
    let newCount = 0;
    for (let e = 0; e < 1000; e++) {
      const roll = random();
      let record: JobRecord;
      if (roll < 0.2) {
        // a brand-new job, created now (after every loaded one) or, rarely, within the hour
        newCount += 1;
        const created = roll < 0.15 ? 3600 + e : Math.floor(random() * 3600);
        record = job(`new-${e}`, created, { status: 'QUEUED' });
      } else {
        const target = jobs[Math.floor(random() * jobs.length)];
        const current = latest.get(target.id)!;
        const stale = roll > 0.9; // an older state, as when messages cross a page
        const updated = stale ? 3600 + e - 500 - Math.floor(random() * 500) : 3600 + e;
        const status = random() < 0.3 ? ENDS[Math.floor(random() * 3)] : STATUS_FLOW[Math.floor(random() * 4)];
        record = { ...current, status, updated_at: ts(updated, Math.floor(random() * 1e6)) };
      }
      const prior = latest.get(record.id);
      if (prior === undefined || newerState(record, prior)) {
        latest.set(record.id, record);
      }
      list.apply([record]);
      if (e % 250 === 0) {
        checkInvariants(list);
      }
    }

    checkInvariants(list);
    expect(list.length).toBe(5000 + newCount);
    const expected = [...latest.values()].sort(newestFirst);
    expect(ids(list)).toEqual(ids(expected));
    for (const row of list.rows) {
      expect(row).toBe(latest.get(row.id));
    }
    const someIds = [expected[0].id, expected[2500].id, expected[expected.length - 1].id];
    for (const id of someIds) {
      expect(list.rows[list.indexOf(id)].id).toBe(id);
    }
  });

  it('pages and events interleaved: the list ends equal to the server', () => {
    // A server that answers each page with its current state (keyset cursor),
    // while events change jobs and create new ones between pages.
    const random = prng(42);
    const server = new Map<string, JobRecord>(makeJobs(random).map(j => [j.id, j]));
    const list = new JobList();
    let boundary: JobRecord | null = null; // the last job of the last page served
    let clock = 4000;
    let created = 0;
    const servePage = (): void => {
      const sorted = [...server.values()].sort(newestFirst);
      const from = boundary === null ? 0 : sorted.findIndex(j => newestFirst(j, boundary!) > 0);
      const jobs = sorted.slice(from, from + 500);
      const more = from + 500 < sorted.length;
      boundary = jobs[jobs.length - 1];
      list.addPage(page(jobs, more ? `after-${boundary.id}` : null));
    };
    const event = (): void => {
      clock += 1;
      let record: JobRecord;
      if (random() < 0.2) {
        created += 1;
        record = job(`fresh-${clock}`, clock, { status: 'QUEUED' });
      } else {
        const all = [...server.keys()];
        const current = server.get(all[Math.floor(random() * all.length)])!;
        record = { ...current, status: ENDS[Math.floor(random() * 3)], updated_at: ts(clock) };
      }
      server.set(record.id, record);
      list.apply([record]);
    };
    // events before the first page are dropped (the first page brings them)
    for (let i = 0; i < 20; i++) {
      event();
    }
    while (!list.complete) {
      servePage();
      for (let i = 0; i < 100; i++) {
        event();
      }
      checkInvariants(list);
    }
    for (let i = 0; i < 500; i++) {
      event();
    }
    checkInvariants(list);
    expect(list.pagesLoaded).toBeGreaterThanOrEqual(10);
    const expected = [...server.values()].sort(newestFirst);
    expect(list.length).toBe(5000 + created);
    expect(ids(list)).toEqual(ids(expected));
    for (const row of list.rows) {
      expect(row).toBe(server.get(row.id));
    }
  });
});

/*
 * The loaded range is where the server's cursor is (the oldest job the pages
 * brought), whatever events removed from the rows since.
 */
describe('JobList: loaded range after removals', () => {
  it('inserts a new matching job after every loaded row was removed by the filter', () => {
    // Filter QUEUED; the first page (more to come) holds two queued jobs; both
    // get dispatched and leave the list. A job queued now is newer than
    // anything the cursor points at, so no later page will ever bring it.
    const list = new JobList({ status: 'QUEUED', provider: '', tag: '' });
    const a = job('a', 100);
    const b = job('b', 90);
    list.addPage(page([a, b], 'after-b'));
    list.apply([evolve(a, 'SUBMITTING', 110), evolve(b, 'SUBMITTING', 110)]);
    expect(list.length).toBe(0);
    expect(list.apply([job('n', 200)])).toBe(true);
    expect(ids(list)).toEqual(['n']);
  });

  it('inserts a job that starts matching between the last remaining row and the cursor', () => {
    // Filter RUNNING; page 1 (more to come) ends with b (created 90), so the
    // cursor is after b. b finishes and leaves; c (created 95, loaded range)
    // starts running. The next page starts after b and will not bring c.
    const list = new JobList({ status: 'RUNNING', provider: '', tag: '' });
    const a = job('a', 100, { status: 'RUNNING' });
    const b = job('b', 90, { status: 'RUNNING' });
    list.addPage(page([a, b], 'after-b'));
    list.apply([evolve(b, 'COMPLETED', 120)]);
    expect(ids(list)).toEqual(['a']);
    list.apply([job('c', 95, { status: 'RUNNING', updated: 121 })]);
    expect(ids(list)).toEqual(['a', 'c']);
  });
});

describe('JobList: states that cross a page (race)', () => {
  it('keeps the newer state of a not-yet-loaded job when its page arrives with an older one', () => {
    // Page 2 is computed while x is RUNNING; x completes and its event arrives
    // before page 2's answer (x is then past the last loaded row, so apply
    // drops it); pageRequested() keeps it, and it wins over page 2's state.
    const list = new JobList();
    list.addPage(page([job('a', 100), job('b', 90)], 'after-b'));
    const x = job('x', 50, { status: 'RUNNING', updated: 60 });
    list.pageRequested();
    list.apply([evolve(x, 'COMPLETED', 70)]);
    list.addPage(page([x], null));
    expect(list.get('x')!.status).toBe('COMPLETED');
  });

  it('drops a job again that an event took out of the filter while its page was on its way', () => {
    const list = new JobList({ status: 'RUNNING', provider: '', tag: '' });
    list.addPage(page([job('a', 100, { status: 'RUNNING' })], 'after-a'));
    const x = job('x', 50, { status: 'RUNNING', updated: 60 });
    list.pageRequested();
    list.apply([evolve(x, 'COMPLETED', 70)]);
    list.addPage(page([x], null));
    expect(ids(list)).toEqual(['a']);
  });

  it('keeps no events once the page has arrived', () => {
    const list = new JobList();
    list.pageRequested();
    list.addPage(page([job('a', 100)], 'after-a'));
    const late = job('z', 10, { status: 'RUNNING' });
    list.apply([late]); // past the boundary, pages remain: left to a later page
    list.addPage(page([job('b', 90)], null));
    expect(list.get('z')).toBeUndefined();
  });
});
