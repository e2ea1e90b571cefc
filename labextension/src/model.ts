/**
 * The HAL Jobs panel's view model: plain data, no DOM and no JupyterLab, so
 * that jest tests it as it is.
 *
 * - `JobList`: the user's jobs that match the filters, newest first, as REST
 *   pages (cursor) and events (the WebSocket) bring them.
 * - `SessionWatch`: which jobs were created while this page is open, and when
 *   one of them has just completed or failed (a notification).
 * - `visibleRange`: which rows of a long list the virtual list renders.
 * - `histogram`, `estimates`: what the detail view draws of a result.
 */

import { components, jobStatusValues } from './api-types';

/** The API's schemas, generated from its OpenAPI document (src/api-types.ts; `jlpm build:api-types`). */
export type Schemas = components['schemas'];
/** A job record (docs/API.md "Job record"). */
export type JobRecord = Schemas['JobRecord'];
export type JobStatus = Schemas['JobStatus'];
/** A completed job's result: `type` tells sampling, estimation and classical apart. */
export type Result = Schemas['SamplingResult'] | Schemas['EstimationResult'] | Schemas['ClassicalResult'];
/** Every status, in the lifecycle's order (the document's JobStatus enum). */
export const STATUSES: readonly JobStatus[] = jobStatusValues;
/** The statuses a job never leaves (the engine's lifecycle.TERMINAL; tests/test_api_types.py compares them). */
export const TERMINAL: ReadonlySet<string> = new Set<JobStatus>(['COMPLETED', 'FAILED', 'CANCELLED']);

/** `GET /hal/api/jobs`'s answer. */
export interface JobPage {
  jobs: JobRecord[];
  next_cursor: string | null;
}

/** What the list shows: every field empty means every job. */
export interface Filters {
  status: string;
  provider: string;
  tag: string;
}

export const NO_FILTERS: Filters = { status: '', provider: '', tag: '' };

/** The query string of `GET /hal/api/jobs` for these filters, a page size and a cursor. */
export function listQuery(filters: Filters, limit: number, cursor: string | null): string {
  const params = new URLSearchParams();
  for (const key of ['status', 'provider', 'tag'] as const) {
    const value = filters[key].trim();
    if (value) {
      params.set(key, value);
    }
  }
  params.set('limit', String(limit));
  if (cursor) {
    params.set('cursor', cursor);
  }
  return params.toString();
}

/** Newest first: later `created_at` first, then the larger id (ISO 8601 UTC strings sort as text). */
export function newestFirst(a: JobRecord, b: JobRecord): number {
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at ? 1 : -1;
  }
  return a.id === b.id ? 0 : a.id < b.id ? 1 : -1;
}

/** Whether `next` is at least as recent a state of a job as `current`. */
function isNewer(next: JobRecord, current: JobRecord): boolean {
  if (next.updated_at !== current.updated_at) {
    return next.updated_at > current.updated_at;
  }
  // Same instant: a terminal state wins over a live one; otherwise the later message.
  return TERMINAL.has(next.status) || !TERMINAL.has(current.status);
}

/**
 * The jobs that match the filters, newest first.
 *
 * REST pages fill it from the top down (`addPage`); events (`apply`) update
 * the jobs it holds, add new jobs at their place, and drop jobs that stop
 * matching the filters. A job older than the last one loaded is left to a
 * later page while more pages remain (it would otherwise sit between pages).
 */
export class JobList {
  private _filters: Filters;
  private _rows: JobRecord[] = [];
  private _byId = new Map<string, JobRecord>();
  private _cursor: string | null = null;
  private _complete = false;
  private _pagesLoaded = 0;
  /** the oldest job the pages brought: the server's cursor is there, whatever events removed since */
  private _boundary: JobRecord | null = null;
  /**
   * Order among jobs created at the same instant (a batch of 500 has one
   * `created_at`): the server's order for jobs from pages (0, 1, 2 ...), and
   * before them, newest last, the jobs that events brought (-1, -2 ...).
   */
  private _rank = new Map<string, number>();
  private _nextPageRank = 0;
  private _nextEventRank = -1;
  /** events since a page was requested: that page may carry older states (applied after it) */
  private _sinceRequest: Map<string, JobRecord> | null = null;

  constructor(filters: Filters = NO_FILTERS) {
    this._filters = { ...filters };
  }

  get filters(): Filters {
    return { ...this._filters };
  }

  /** The rows, newest first (do not modify). */
  get rows(): readonly JobRecord[] {
    return this._rows;
  }

  get length(): number {
    return this._rows.length;
  }

  /** The cursor of the next page (null: none loaded yet, or none left). */
  get cursor(): string | null {
    return this._cursor;
  }

  /** Whether every matching job is loaded (no page left). */
  get complete(): boolean {
    return this._complete;
  }

  get pagesLoaded(): number {
    return this._pagesLoaded;
  }

  get(id: string): JobRecord | undefined {
    return this._byId.get(id);
  }

  /** Starts over with other filters (the caller loads the first page again). */
  reset(filters: Filters = this._filters): void {
    this._filters = { ...filters };
    this._rows = [];
    this._byId.clear();
    this._cursor = null;
    this._complete = false;
    this._pagesLoaded = 0;
    this._boundary = null;
    this._sinceRequest = null;
    this._rank.clear();
    this._nextPageRank = 0;
    this._nextEventRank = -1;
  }

  /** Newest first: the later `created_at`, then the server's order (see `_rank`), then the larger id. */
  compare(a: JobRecord, b: JobRecord): number {
    if (a.created_at !== b.created_at) {
      return a.created_at < b.created_at ? 1 : -1;
    }
    const ra = this._rank.get(a.id);
    const rb = this._rank.get(b.id);
    if (ra !== undefined && rb !== undefined && ra !== rb) {
      return ra - rb;
    }
    return newestFirst(a, b);
  }

  /**
   * A page is on its way: events from now on are also kept and applied again
   * after it, since its states may be older than theirs.
   */
  pageRequested(): void {
    this._sinceRequest = new Map();
  }

  /** Whether a record matches the filters (as the server filters: exact status, provider and tag). */
  matches(record: JobRecord): boolean {
    const { status, provider, tag } = this._filters;
    return (
      (!status.trim() || record.status === status.trim()) &&
      (!provider.trim() || record.provider === provider.trim()) &&
      (!tag.trim() || (record.tags || []).includes(tag.trim()))
    );
  }

  /** Adds the next page of `GET /hal/api/jobs` (newest first). */
  addPage(page: JobPage): void {
    for (const record of page.jobs) {
      if (!this._rank.has(record.id)) {
        this._rank.set(record.id, this._nextPageRank++);
      }
      const current = this._byId.get(record.id);
      if (current === undefined) {
        this._byId.set(record.id, record);
        this._rows.push(record);
      } else if (isNewer(record, current)) {
        this._replace(current, record);
      }
    }
    this._rows.sort((a, b) => this.compare(a, b));
    const oldest = page.jobs[page.jobs.length - 1];
    if (oldest !== undefined && (this._boundary === null || this.compare(oldest, this._boundary) > 0)) {
      this._boundary = oldest;
    }
    this._cursor = page.next_cursor;
    this._complete = !page.next_cursor;
    this._pagesLoaded += 1;
    const since = this._sinceRequest;
    this._sinceRequest = null;
    if (since !== null) {
      this.apply([...since.values()]);
    }
  }

  /**
   * Applies records from the events socket; returns whether the rows changed.
   * An older state than the one held (messages can cross a page) is ignored.
   */
  apply(records: readonly JobRecord[]): boolean {
    let changed = false;
    for (const record of records) {
      if (this._sinceRequest !== null) {
        const kept = this._sinceRequest.get(record.id);
        if (kept === undefined || isNewer(record, kept)) {
          this._sinceRequest.set(record.id, record);
        }
      }
      const current = this._byId.get(record.id);
      if (current !== undefined) {
        if (!isNewer(record, current)) {
          continue;
        }
        if (this.matches(record)) {
          this._replace(current, record);
        } else {
          this._remove(current);
        }
        changed = true;
      } else if (this.matches(record) && this._inLoadedRange(record)) {
        if (!this._rank.has(record.id)) {
          this._rank.set(record.id, this._nextEventRank--);
        }
        this._insert(record);
        changed = true;
      }
    }
    return changed;
  }

  /** The row index of a job, or -1. */
  indexOf(id: string): number {
    const record = this._byId.get(id);
    return record === undefined ? -1 : this._rows.indexOf(record);
  }

  /** Counts of the loaded rows per status. */
  statusCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const row of this._rows) {
      counts[row.status] = (counts[row.status] || 0) + 1;
    }
    return counts;
  }

  /** Whether a job belongs among the loaded rows: not past the last page loaded (a later page brings those). */
  private _inLoadedRange(record: JobRecord): boolean {
    if (this._complete) {
      return true;
    }
    // Nothing loaded yet: the first page will bring it.
    return this._boundary !== null && this.compare(record, this._boundary) <= 0;
  }

  private _insert(record: JobRecord): void {
    let low = 0;
    let high = this._rows.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.compare(this._rows[middle], record) < 0) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    this._rows.splice(low, 0, record);
    this._byId.set(record.id, record);
  }

  private _replace(current: JobRecord, record: JobRecord): void {
    const index = this._rows.indexOf(current);
    this._byId.set(record.id, record);
    if (index >= 0 && current.created_at === record.created_at) {
      this._rows[index] = record;
    } else {
      if (index >= 0) {
        this._rows.splice(index, 1);
      }
      this._byId.delete(record.id);
      this._insert(record);
    }
  }

  private _remove(current: JobRecord): void {
    const index = this._rows.indexOf(current);
    if (index >= 0) {
      this._rows.splice(index, 1);
    }
    this._byId.delete(current.id);
  }
}

/** A job that has just ended, to notify. */
export interface Ended {
  id: string;
  label: string;
  status: 'COMPLETED' | 'FAILED';
  message: string;
}

/**
 * Notices the jobs created since this page opened (by the server's clock:
 * `start` is the `Date` of its first answer) and tells, once per job, when one
 * has completed or failed.
 */
export class SessionWatch {
  private _notified = new Set<string>();
  private _start: number;

  /** `start`: an ISO 8601 UTC time on the server's clock. */
  constructor(readonly start: string) {
    this._start = Date.parse(start);
  }

  /** The jobs of these records that have just ended (each job once). */
  observe(records: readonly JobRecord[]): Ended[] {
    const ended: Ended[] = [];
    for (const record of records) {
      if (
        (record.status === 'COMPLETED' || record.status === 'FAILED') &&
        Date.parse(record.created_at) >= this._start &&
        !this._notified.has(record.id)
      ) {
        this._notified.add(record.id);
        const label = jobLabel(record);
        ended.push({
          id: record.id,
          label,
          status: record.status,
          message:
            record.status === 'COMPLETED'
              ? `HAL job ${label} completed`
              : `HAL job ${label} failed: ${record.error?.message ?? 'no reason given'}`
        });
      }
    }
    return ended;
  }
}

/** The start of a session from an HTTP `Date` header (second resolution: one second earlier), or now. */
export function sessionStart(dateHeader: string | null, now: Date = new Date()): string {
  const parsed = dateHeader ? Date.parse(dateHeader) : NaN;
  const when = Number.isNaN(parsed) ? now.getTime() : parsed - 1000;
  return new Date(when).toISOString();
}

/** The records of one events message (none for anything else). */
export function parseEvent(data: unknown): JobRecord[] {
  if (typeof data !== 'string') {
    return [];
  }
  let message: any;
  try {
    message = JSON.parse(data);
  } catch {
    return [];
  }
  if (message && message.type === 'job' && message.job && typeof message.job.id === 'string') {
    return [message.job];
  }
  if (message && message.type === 'jobs' && Array.isArray(message.jobs)) {
    return message.jobs.filter((job: any) => job && typeof job.id === 'string');
  }
  return [];
}

/** A job's name, else its provider and a short id. */
export function jobLabel(record: JobRecord): string {
  return record.name ? `"${record.name}"` : `${record.provider} ${record.id.slice(0, 8)}`;
}

/** The rows a virtual list renders: the visible ones and `overscan` more on each side. */
export function visibleRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8
): { start: number; end: number } {
  if (count <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first, count - 1) - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end: Math.max(start, end) };
}

/** Whether to load the next page: rows within `threshold` of the end are on screen. */
export function wantsMore(end: number, list: Pick<JobList, 'length' | 'complete'>, threshold = 50): boolean {
  return !list.complete && end + threshold >= list.length;
}

export interface Bar {
  label: string;
  count: number;
  /** of the largest bar, 0..1 */
  fraction: number;
  /** of all shots, 0..1 */
  probability: number;
}

/** A counts histogram: the `max` most frequent outcomes (then by bitstring), the rest as "other". */
export function histogram(counts: Record<string, number>, max = 16): Bar[] {
  const entries = Object.entries(counts || {}).filter(([, n]) => typeof n === 'number' && n > 0);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const shown = entries.slice(0, max);
  const rest = entries.slice(max).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) {
    shown.push([`other (${entries.length - max})`, rest]);
  }
  const largest = shown.reduce((m, [, n]) => Math.max(m, n), 0);
  return shown.map(([label, count]) => ({
    label,
    count,
    fraction: largest ? count / largest : 0,
    probability: total ? count / total : 0
  }));
}

/** An estimation result as a table: one row per observable, one column per parameter point. */
export interface EstimateTable {
  columns: string[];
  rows: { observable: string; values: (number | null)[]; stds: (number | null)[] }[];
  /** whether the columns are sweep points (a plot makes sense) */
  sweep: boolean;
}

export function estimates(result: {
  evs?: unknown;
  stds?: unknown;
  parameters?: Record<string, number[]> | null;
}): EstimateTable {
  const evs = Array.isArray(result.evs) ? result.evs : [];
  const stds = Array.isArray(result.stds) ? result.stds : [];
  const parameters = result.parameters || null;
  const names = parameters ? Object.keys(parameters) : [];
  const sweep = evs.some(row => Array.isArray(row));
  const points = sweep ? Math.max(0, ...evs.map(row => (Array.isArray(row) ? row.length : 0))) : 1;
  const columns = sweep
    ? Array.from({ length: points }, (_, i) =>
        names.length ? names.map(n => `${n}=${formatNumber(parameters![n][i])}`).join(', ') : `point ${i}`
      )
    : ['value'];
  const asNumbers = (value: unknown): (number | null)[] =>
    (Array.isArray(value) ? value : [value]).map(v => (typeof v === 'number' ? v : null));
  return {
    columns,
    sweep,
    rows: evs.map((row, i) => ({
      observable: `observable ${i}`,
      values: asNumbers(row),
      stds: asNumbers(stds[i])
    }))
  };
}

/** A number for people: at most 4 significant decimals, no trailing zeros. */
export function formatNumber(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  return String(Number(value.toPrecision(4)));
}

/** "3 s ago", "5 min ago", or the date, from an ISO time and now. */
export function age(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return '';
  }
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return iso;
  }
  const seconds = Math.max(0, Math.round((now.getTime() - then) / 1000));
  if (seconds < 60) {
    return `${seconds} s ago`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h ago`;
  }
  return iso.slice(0, 10);
}
