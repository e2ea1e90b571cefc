/** Record factories and helpers shared by the model tests (not a test file itself). */
import { JobList, JobPage, JobRecord, JobStatus, TERMINAL } from '../model';

/** The day the tests live on (UTC midnight). */
export const BASE_MS = Date.UTC(2026, 10, 30, 0, 0, 0);

/**
 * An ISO 8601 UTC timestamp as the server writes it (microseconds, "Z"):
 * `seconds` after BASE_MS plus `micros` microseconds (0..999999).
 */
export function ts(seconds: number, micros = 0): string {
  const whole = new Date(BASE_MS + Math.floor(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${String(micros).padStart(6, '0')}Z`;
}

let serial = 0;

/** A job record; `created`/`updated` are seconds after BASE_MS (updated defaults to created). */
export function job(
  id: string,
  created: number,
  overrides: Partial<JobRecord> & { updated?: number } = {}
): JobRecord {
  const { updated, ...rest } = overrides;
  serial += 1;
  return {
    id,
    kind: 'quantum',
    provider: 'local_simulator',
    backend: 'aer_simulator',
    name: null,
    tags: [],
    priority: 'standard',
    status: 'QUEUED',
    status_message: null,
    created_at: ts(created),
    updated_at: ts(updated ?? created),
    submitted_at: null,
    finished_at: null,
    batch_id: null,
    remote_id: null,
    shots: 1024,
    cost_estimate: null,
    error: null,
    owner: null,
    cancel_requested: false,
    cost_actual: null,
    execution: null,
    ...rest
  };
}

/** Another state of the same job: new status/fields, `updated` seconds after BASE_MS. */
export function evolve(
  record: JobRecord,
  status: JobStatus,
  updated: number,
  overrides: Partial<JobRecord> = {}
): JobRecord {
  return { ...record, status, updated_at: ts(updated), ...overrides };
}

export function page(jobs: JobRecord[], next_cursor: string | null): JobPage {
  return { jobs, next_cursor };
}

export function ids(list: { rows: readonly JobRecord[] } | readonly JobRecord[]): string[] {
  const rows = Array.isArray(list) ? list : (list as { rows: readonly JobRecord[] }).rows;
  return rows.map(r => r.id);
}

/** A deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The reference rule for "is `next` at least as recent as `current`" (API: latest state wins). */
export function newerState(next: JobRecord, current: JobRecord): boolean {
  if (next.updated_at !== current.updated_at) {
    return next.updated_at > current.updated_at;
  }
  return TERMINAL.has(next.status) || !TERMINAL.has(current.status);
}

/** Structural invariants of a JobList: strictly newest first, no duplicate ids, index consistent. */
export function checkInvariants(list: JobList): void {
  const rows = list.rows;
  expect(list.length).toBe(rows.length);
  const seen = new Set<string>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (seen.has(row.id)) {
      throw new Error(`duplicate id ${row.id} at row ${i}`);
    }
    seen.add(row.id);
    if (i > 0 && list.compare(rows[i - 1], row) >= 0) {
      throw new Error(`rows ${i - 1} (${rows[i - 1].id}) and ${i} (${row.id}) are not newest first`);
    }
    if (list.get(row.id) !== row) {
      throw new Error(`get(${row.id}) is not the row held at ${i}`);
    }
  }
  const counts = list.statusCounts();
  expect(Object.values(counts).reduce((s, n) => s + n, 0)).toBe(rows.length);
}
