/**
 * The panel's state and its traffic: the job list (REST pages, then the events
 * socket), the providers, the budgets that apply to the user, and the jobs of
 * this session that end.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { HalApi, HalApiError, EventStream, ProviderInfo } from './api';
import { Ended, Filters, JobList, JobRecord, NO_FILTERS, SessionWatch, sessionStart } from './model';
import { Budget } from './spend';

/** Jobs per REST page: the first screenful and some scrolling; more pages as one scrolls. */
export const PAGE_SIZE = 200;

/** How often the budgets are read again while no job changes (spend also moves with others' jobs). */
export const BUDGETS_REFRESH_MS = 10_000;
/** After a job changes, the budgets are read again once this quiet time has passed (one read per burst). */
export const BUDGETS_AFTER_CHANGE_MS = 500;

export type Connection = 'connecting' | 'live' | 'reconnecting';

export class JobsModel {
  readonly list = new JobList(NO_FILTERS);
  providers: ProviderInfo[] = [];
  providersError: string | null = null;
  /** the last failure of a page load or a cancel, for the panel to show */
  error: string | null = null;
  connection: Connection = 'connecting';
  loading = false;
  /** v1.2: the budgets that apply to the user (none: the panel shows no spend summary) */
  budgets: Budget[] = [];
  budgetsError: string | null = null;

  private _changed = new Signal<this, void>(this);
  private _ended = new Signal<this, Ended>(this);
  private _received = new Signal<this, JobRecord[]>(this);
  private _watch: SessionWatch | null = null;
  private _stream: EventStream | null = null;
  private _generation = 0;
  private _everOpen = false;
  private _disposed = false;
  private _budgetsTimer: ReturnType<typeof setInterval> | null = null;
  private _budgetsSoon: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly api: HalApi) {}

  /** The list, the providers or the connection changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A job created during this session completed or failed. */
  get ended(): ISignal<this, Ended> {
    return this._ended;
  }

  /** Every record the events socket brings, also of jobs the list does not hold (the detail follows them). */
  get received(): ISignal<this, JobRecord[]> {
    return this._received;
  }

  /** Loads the providers (and the server's clock), opens the events socket, loads the first page. */
  async start(): Promise<void> {
    const date = await this.refreshProviders();
    this._watch = new SessionWatch(sessionStart(date));
    this._stream = this.api.events({
      onRecords: records => this._onRecords(records),
      onOpen: () => this._onOpen(),
      onClose: () => {
        this.connection = 'reconnecting';
        this._changed.emit();
      }
    });
    this._budgetsTimer = setInterval(() => void this.refreshBudgets(), BUDGETS_REFRESH_MS);
    await Promise.all([this.loadMore(), this.refreshBudgets()]);
  }

  dispose(): void {
    this._disposed = true;
    this._stream?.dispose();
    if (this._budgetsTimer !== null) {
      clearInterval(this._budgetsTimer);
    }
    if (this._budgetsSoon !== null) {
      clearTimeout(this._budgetsSoon);
    }
    Signal.clearData(this);
  }

  async refreshProviders(): Promise<string | null> {
    try {
      const answer = await this.api.providers();
      this.providers = answer.data.providers;
      this.providersError = null;
      return answer.date;
    } catch (error) {
      this.providersError = (error as Error).message;
      return null;
    } finally {
      this._changed.emit();
    }
  }

  /** Reads the budgets again; a server without them (or a failure) leaves the last ones shown. */
  async refreshBudgets(): Promise<void> {
    if (this._disposed) {
      return;
    }
    const before = JSON.stringify([this.budgets, this.budgetsError]);
    try {
      this.budgets = await this.api.budgets();
      this.budgetsError = null;
    } catch (error) {
      this.budgetsError = (error as Error).message;
    }
    if (JSON.stringify([this.budgets, this.budgetsError]) !== before) {
      this._changed.emit();
    }
  }

  /** Shows only the jobs that match (the server filters; the list starts over). */
  async setFilters(filters: Filters): Promise<void> {
    this._generation += 1;
    this.list.reset(filters);
    this.loading = false;
    this._changed.emit();
    await this.loadMore();
  }

  /** Loads the next page, unless one is on its way or none is left. */
  async loadMore(): Promise<void> {
    if (this.loading || this.list.complete || this._disposed) {
      return;
    }
    const generation = this._generation;
    this.loading = true;
    this.list.pageRequested();
    this._changed.emit();
    try {
      const answer = await this.api.listJobs(this.list.filters, PAGE_SIZE, this.list.cursor);
      if (generation !== this._generation) {
        return; // the filters changed meanwhile
      }
      this.list.addPage(answer.data);
      this._notify(answer.data.jobs);
      this.error = null;
    } catch (error) {
      if (generation === this._generation) {
        this.error = `could not load the jobs: ${(error as Error).message}`;
      }
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this._changed.emit();
      }
    }
  }

  /** Cancels a job (also at its provider); the answer is its record. */
  async cancel(id: string): Promise<JobRecord> {
    try {
      const record = await this.api.cancel(id);
      this._onRecords([record]);
      return record;
    } catch (error) {
      if (error instanceof HalApiError && error.status === 409) {
        // already finished: show its final state
        this._onRecords([await this.api.job(id)]);
      }
      throw error;
    }
  }

  private _onRecords(records: JobRecord[]): void {
    this._notify(records);
    this._budgetsAfterChange();
    this._received.emit(records);
    if (this.list.apply(records)) {
      this._changed.emit();
    }
  }

  private _notify(records: JobRecord[]): void {
    for (const ended of this._watch?.observe(records) ?? []) {
      this._ended.emit(ended);
    }
  }

  /** Jobs changed: what they reserve and spend did too. */
  private _budgetsAfterChange(): void {
    if (this._budgetsSoon !== null || this._disposed) {
      return;
    }
    this._budgetsSoon = setTimeout(() => {
      this._budgetsSoon = null;
      void this.refreshBudgets();
    }, BUDGETS_AFTER_CHANGE_MS);
  }

  private _onOpen(): void {
    const reopened = this._everOpen;
    this._everOpen = true;
    this.connection = 'live';
    this._changed.emit();
    if (reopened) {
      // changes while the socket was closed were missed: load the list again
      void this.setFilters(this.list.filters);
    }
  }
}
