/**
 * The REST API and the events socket of the hal_jupyter server extension,
 * through JupyterLab's `ServerConnection`: its settings carry the base URL,
 * its requests the login cookie and the XSRF header. This code never sees a
 * token.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { Filters, JobPage, JobRecord, listQuery, parseEvent, Result, Schemas } from './model';
import { Budget } from './spend';

/** A provider of `GET /hal/api/providers`. */
export type ProviderInfo = Schemas['ProviderInfo'];

/** An error answer of the API (`{"type", "message"}`), or a network failure (status 0). */
export class HalApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'Error'
  ) {
    super(message);
  }
}

export interface Answer<T> {
  data: T;
  /** the `Date` header: the server's clock */
  date: string | null;
}

export class HalApi {
  readonly settings: ServerConnection.ISettings;

  constructor(settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this.settings = settings;
  }

  /** `path` below `hal/api/`. */
  async request<T>(path: string, init: RequestInit = {}): Promise<Answer<T>> {
    const url = URLExt.join(this.settings.baseUrl, 'hal/api', path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new HalApiError(0, `the Jupyter server did not answer: ${(error as Error).message}`, 'NetworkError');
    }
    const text = await response.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = data && typeof data.message === 'string' ? data.message : `${response.status} ${response.statusText}`;
      throw new HalApiError(response.status, message, data && typeof data.type === 'string' ? data.type : 'Error');
    }
    return { data: data as T, date: response.headers.get('Date') };
  }

  listJobs(filters: Filters, limit: number, cursor: string | null): Promise<Answer<JobPage>> {
    return this.request<JobPage>(`jobs?${listQuery(filters, limit, cursor)}`);
  }

  async job(id: string): Promise<JobRecord> {
    return (await this.request<JobRecord>(`jobs/${encodeURIComponent(id)}`)).data;
  }

  async result(id: string): Promise<Result> {
    return (await this.request<Result>(`jobs/${encodeURIComponent(id)}/result`)).data;
  }

  async cancel(id: string): Promise<JobRecord> {
    return (await this.request<JobRecord>(`jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })).data;
  }

  providers(): Promise<Answer<{ providers: ProviderInfo[] }>> {
    return this.request<{ providers: ProviderInfo[] }>('providers');
  }

  /** v1.2: the budgets that apply to the user, with what is spent and reserved this period. */
  async budgets(): Promise<Budget[]> {
    return (await this.request<{ budgets: Budget[] }>('budgets')).data.budgets;
  }

  /** Where the interactive API docs are (Swagger UI). */
  get docsUrl(): string {
    return URLExt.join(this.settings.baseUrl, 'hal/api/docs');
  }

  /** The events socket (`GET /hal/api/events`), reconnecting by itself; see {@link EventStream}. */
  events(handlers: EventHandlers): EventStream {
    return new EventStream(URLExt.join(this.settings.wsUrl, 'hal/api/events'), this.settings.WebSocket, handlers);
  }
}

export interface EventHandlers {
  /** job records as they change (latest state per job) */
  onRecords(records: JobRecord[]): void;
  /** the socket is (again) open: changes while it was closed were missed */
  onOpen(): void;
  /** the socket closed; it reconnects after `retryInS` */
  onClose(retryInS: number): void;
}

const RETRY_FIRST_S = 1;
const RETRY_MAX_S = 30;

/**
 * `{"type": "job", "job": record}` and `{"type": "jobs", "jobs": [...]}`
 * messages, handed on as lists of records. A closed socket is opened again
 * after 1, 2, 4 ... 30 s; `dispose` stops it for good.
 */
export class EventStream {
  private _socket: WebSocket | null = null;
  private _retryS = RETRY_FIRST_S;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _disposed = false;

  constructor(
    private readonly _url: string,
    private readonly _WebSocket: typeof WebSocket,
    private readonly _handlers: EventHandlers
  ) {
    this._open();
  }

  get connected(): boolean {
    return this._socket !== null && this._socket.readyState === 1;
  }

  dispose(): void {
    this._disposed = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    if (this._socket) {
      this._socket.onclose = null;
      this._socket.close();
      this._socket = null;
    }
  }

  private _open(): void {
    if (this._disposed) {
      return;
    }
    const socket = new this._WebSocket(this._url);
    this._socket = socket;
    socket.onopen = () => {
      this._retryS = RETRY_FIRST_S;
      this._handlers.onOpen();
    };
    socket.onmessage = (event: MessageEvent) => {
      const records = parseEvent(event.data);
      if (records.length) {
        this._handlers.onRecords(records);
      }
    };
    socket.onclose = () => {
      this._socket = null;
      if (this._disposed) {
        return;
      }
      const wait = this._retryS;
      this._retryS = Math.min(RETRY_MAX_S, this._retryS * 2);
      this._handlers.onClose(wait);
      this._timer = setTimeout(() => {
        this._timer = null;
        this._open();
      }, wait * 1000);
    };
  }
}
