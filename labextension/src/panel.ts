/**
 * The "HAL Jobs" sidebar panel: providers, the budgets that apply to the user,
 * filters, the job list (a virtual
 * list: only the rows on screen are in the DOM, more pages load as one
 * scrolls) and the detail of one job.
 */

import { Notification } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { HalApiError } from './api';
import { JobsModel } from './jobs';
import { Filters, JobRecord, Result, STATUSES, TERMINAL, jobLabel, visibleRange, wantsMore } from './model';
import { badge, budgetsView, h, jobRow, recordView, resultView } from './render';

export const PANEL_ID = 'hal-jobs-panel';
/** Every row has this height (px): the virtual list places rows by index. */
export const ROW_HEIGHT = 46;
const TAG_DELAY_MS = 300;
/** How often the rows' ages ("12 s ago") are redrawn while nothing else changes. */
const AGE_REFRESH_MS = 15_000;

export class JobsPanel extends Widget {
  private _list: HTMLElement;
  private _spacer: HTMLElement;
  private _footer: HTMLElement;
  private _status: HTMLElement;
  private _providers: HTMLElement;
  private _budgets: HTMLElement;
  private _providerSelect: HTMLSelectElement;
  private _statusSelect: HTMLSelectElement;
  private _tagInput: HTMLInputElement;
  private _detail: HTMLElement;
  private _selected: string | null = null;
  private _pressed: string | null = null;
  private _opened = false;
  /** `id@updated_at` of the record the detail shows */
  private _shownDetail: string | null = null;
  /** the job the detail shows */
  private _detailOf: string | null = null;
  private _tagTimer: ReturnType<typeof setTimeout> | null = null;
  private _ageTimer: ReturnType<typeof setInterval>;
  private _results = new Map<string, Promise<Result>>();

  constructor(readonly model: JobsModel) {
    super();
    this.id = PANEL_ID;
    this.addClass('hal-jobs-panel');
    this.title.caption = 'HAL Jobs';

    this._statusSelect = h('select.hal-filter-status', { 'aria-label': 'status' }) as HTMLSelectElement;
    this._statusSelect.append(new Option('any status', ''), ...STATUSES.map(s => new Option(s, s)));
    this._providerSelect = h('select.hal-filter-provider', { 'aria-label': 'provider' }) as HTMLSelectElement;
    this._providerSelect.append(new Option('any provider', ''));
    this._tagInput = h('input.hal-filter-tag', { type: 'search', placeholder: 'tag', 'aria-label': 'tag' }) as HTMLInputElement;
    this._statusSelect.onchange = () => this._applyFilters();
    this._providerSelect.onchange = () => this._applyFilters();
    this._tagInput.oninput = () => {
      if (this._tagTimer !== null) {
        clearTimeout(this._tagTimer);
      }
      this._tagTimer = setTimeout(() => this._applyFilters(), TAG_DELAY_MS);
    };

    this._status = h('span.hal-connection');
    const docs = h('a.hal-docs-link', { href: model.api.docsUrl, target: '_blank', rel: 'noopener', title: 'The REST API, interactive (Swagger UI)' }, 'API docs');
    this._providers = h('div.hal-providers-list');
    const providers = h('details.hal-providers', {}, h('summary', {}, 'Providers'), this._providers);
    providers.addEventListener('toggle', () => {
      if ((providers as HTMLDetailsElement).open) {
        void model.refreshProviders(); // credentials may have been set since
      }
    });
    this._budgets = h('div.hal-budgets-slot');
    this._spacer = h('div.hal-jobs-spacer', { role: 'list' });
    this._footer = h('div.hal-jobs-footer');
    this._list = h('div.hal-jobs-list', {}, this._spacer, this._footer);
    this._detail = h('div.hal-job-detail');
    this._detail.hidden = true;

    this.node.append(
      h('div.hal-jobs-header', {}, h('span.hal-jobs-title', {}, 'HAL Jobs'), this._status, docs),
      providers,
      this._budgets,
      h('div.hal-filters', {}, this._statusSelect, this._providerSelect, this._tagInput),
      this._list,
      this._detail
    );

    this._list.addEventListener('scroll', () => this.update(), { passive: true });
    // Rows are rebuilt on every update: a press and its release may land on two
    // nodes of the same row, and the browser then sends no click. A row opens on
    // the release of a press on the same job; a click (without them) opens it too.
    this._spacer.addEventListener('pointerdown', event => this._onPress(event));
    this._spacer.addEventListener('pointerup', event => this._onRelease(event));
    this._spacer.addEventListener('click', event => this._onClick(event));
    model.changed.connect(this._onModelChanged, this);
    model.received.connect(this._onReceived, this);
    this._ageTimer = setInterval(() => this.update(), AGE_REFRESH_MS);
  }

  dispose(): void {
    clearInterval(this._ageTimer);
    this.model.changed.disconnect(this._onModelChanged, this);
    this.model.received.disconnect(this._onReceived, this);
    super.dispose();
  }

  /** Opens the detail of a job (also from a notification). */
  select(id: string | null): void {
    this._selected = id;
    this.update();
  }

  protected onAfterShow(msg: Message): void {
    this.update();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    this.update();
  }

  protected onUpdateRequest(msg: Message): void {
    if (!this.isVisible) {
      return; // drawn when shown
    }
    this._renderHeader();
    this._renderBudgets();
    this._renderRows();
    this._renderDetail();
  }

  private _onModelChanged(): void {
    this.update();
  }

  /** The job in the detail, when the list does not hold it (a filter hides it): follow it too. */
  private _onReceived(_: JobsModel, records: JobRecord[]): void {
    const id = this._selected;
    if (id === null || this.model.list.get(id) !== undefined) {
      return;
    }
    const record = records.find(r => r.id === id);
    if (record !== undefined && this._shownDetail !== `${id}@${record.updated_at}`) {
      this._shownDetail = `${id}@${record.updated_at}`;
      this._showDetail(record);
    }
  }

  private _applyFilters(): void {
    this._tagTimer = null;
    const filters: Filters = {
      status: this._statusSelect.value,
      provider: this._providerSelect.value,
      tag: this._tagInput.value.trim()
    };
    this._list.scrollTop = 0;
    void this.model.setFilters(filters);
  }

  private _renderHeader(): void {
    const { connection, providers, providersError } = this.model;
    this._status.textContent = connection === 'live' ? '● live' : connection === 'connecting' ? '○ connecting' : '○ reconnecting';
    this._status.dataset.connection = connection;
    this._status.title =
      connection === 'live' ? 'Updates arrive over the events socket' : 'The events socket is closed; it reconnects by itself';

    const known = new Set(Array.from(this._providerSelect.options, o => o.value));
    for (const provider of providers) {
      if (!known.has(provider.name)) {
        this._providerSelect.append(new Option(provider.name, provider.name));
      }
    }
    this._providers.replaceChildren(
      ...(providersError ? [h('div.hal-error', {}, `providers: ${providersError}`)] : []),
      ...providers.map(p =>
        h(
          `div.hal-provider${p.available ? '.hal-available' : '.hal-unavailable'}`,
          { 'data-provider': p.name, title: p.description },
          h('span.hal-provider-state', {}, p.available ? '●' : '○'),
          h('span.hal-provider-name', {}, p.name),
          h('span.hal-provider-kind', {}, p.kind),
          p.available ? null : h('div.hal-provider-reason', {}, p.reason || 'unavailable')
        )
      )
    );
  }

  /** The budgets that apply to the user; nothing at all without budgets. */
  private _renderBudgets(): void {
    const view = budgetsView(this.model.budgets, new Date());
    this._budgets.replaceChildren(...(view ? [view] : []));
    this._budgets.hidden = view === null;
  }

  private _renderRows(): void {
    const { list } = this.model;
    this._spacer.style.height = `${list.length * ROW_HEIGHT}px`;
    const { start, end } = visibleRange(this._list.scrollTop, this._list.clientHeight, ROW_HEIGHT, list.length);
    const now = new Date();
    const rows: HTMLElement[] = [];
    for (let index = start; index < end; index++) {
      const row = jobRow(list.rows[index], now, list.rows[index].id === this._selected);
      row.style.top = `${index * ROW_HEIGHT}px`;
      row.style.height = `${ROW_HEIGHT}px`;
      rows.push(row);
    }
    this._spacer.replaceChildren(...rows);

    const counts = list.statusCounts();
    const summary = Object.entries(counts)
      .map(([status, n]) => `${n} ${status.toLowerCase()}`)
      .join(', ');
    this._footer.textContent = this.model.error
      ? this.model.error
      : this.model.loading
        ? `loading… (${list.length} jobs so far)`
        : list.length === 0
          ? 'No jobs match. Submit one with %%hal in a notebook, or POST /hal/api/quantum/jobs.'
          : `${list.length} jobs${list.complete ? '' : ' loaded, more as you scroll'}: ${summary}`;
    this._footer.classList.toggle('hal-error', !!this.model.error);
    if (wantsMore(end, list)) {
      void this.model.loadMore();
    }
  }

  private _renderDetail(): void {
    const id = this._selected;
    this._detail.hidden = id === null;
    this._list.classList.toggle('hal-with-detail', id !== null);
    if (id === null) {
      this._shownDetail = null;
      this._detailOf = null;
      this._detail.replaceChildren();
      return;
    }
    const record = this.model.list.get(id);
    if (record === undefined) {
      if (this._detailOf !== id) {
        this._detailOf = id;
        this._shownDetail = id;
        this._detail.replaceChildren(this._detailHeader(null, id), h('div.hal-empty', {}, 'loading…'));
        this.model.api.job(id).then(
          fetched => {
            if (this._selected === id) {
              this._showDetail(fetched);
            }
          },
          error => this._detail.append(h('div.hal-error', {}, (error as Error).message))
        );
      }
      return;
    }
    const key = `${id}@${record.updated_at}`;
    if (this._shownDetail !== key) {
      this._shownDetail = key;
      this._detailOf = id;
      this._showDetail(record);
    }
  }

  private _showDetail(record: JobRecord): void {
    const result = h('div.hal-result-slot');
    this._detail.replaceChildren(this._detailHeader(record, record.id), recordView(record), result);
    this._detail.dataset.jobId = record.id;
    this._detail.dataset.status = record.status;
    if (record.status !== 'COMPLETED') {
      return;
    }
    let pending = this._results.get(record.id);
    if (pending === undefined) {
      pending = this.model.api.result(record.id);
      this._results.set(record.id, pending);
      pending.catch(() => this._results.delete(record.id)); // try again next time
    }
    result.append(h('div.hal-empty', {}, 'loading the result…'));
    pending.then(
      data => result.replaceChildren(resultView(data)),
      error => result.replaceChildren(h('div.hal-error', {}, `result: ${(error as Error).message}`))
    );
  }

  private _detailHeader(record: JobRecord | null, id: string): HTMLElement {
    const close = h('button.hal-close.jp-mod-styled', { title: 'Back to the list', 'data-action': 'close' }, '×');
    close.onclick = () => this.select(null);
    const cancel =
      record && !TERMINAL.has(record.status)
        ? h('button.hal-cancel.jp-mod-styled', { 'data-action': 'cancel', 'data-job-id': id }, 'Cancel')
        : null;
    if (cancel) {
      cancel.onclick = () => void this._cancel(id);
    }
    return h(
      'div.hal-detail-header',
      {},
      record ? badge(record.status) : null,
      h('span.hal-detail-title', {}, record ? jobLabel(record) : id),
      cancel,
      close
    );
  }

  private _onPress(event: PointerEvent): void {
    const target = event.target as HTMLElement;
    this._opened = false;
    this._pressed = event.button === 0 && !target.closest('[data-action="cancel"]') ? jobOf(target) : null;
  }

  private _onRelease(event: PointerEvent): void {
    const id = jobOf(event.target as HTMLElement);
    if (id && id === this._pressed) {
      this._opened = true;
      this.select(this._selected === id ? null : id);
    }
    this._pressed = null;
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const id = jobOf(target);
    if (id && target.closest('[data-action="cancel"]')) {
      event.stopPropagation();
      void this._cancel(id);
      return;
    }
    // its press and release opened it already
    if (this._opened) {
      this._opened = false;
      return;
    }
    if (id) {
      this.select(this._selected === id ? null : id);
    }
  }

  private async _cancel(id: string): Promise<void> {
    try {
      await this.model.cancel(id);
    } catch (error) {
      const status = error instanceof HalApiError ? error.status : 0;
      Notification.error(status === 409 ? `The job had already finished: ${(error as Error).message}` : `Cancel failed: ${(error as Error).message}`, {
        autoClose: 8000
      });
    }
  }
}

/** The job of the row an element is in, if any. */
function jobOf(element: HTMLElement): string | null {
  return element.closest<HTMLElement>('.hal-job-row')?.dataset.jobId ?? null;
}
