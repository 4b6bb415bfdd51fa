// The job list: filters (status, type), sort, paging; unfinished jobs' progress bars follow their
// event streams live, and the page refreshes itself every few seconds for new jobs.
import type { Job, JobListQuery } from '../../../sdk/src/index.ts';
import { h, show, statusBadge, when } from '../dom.ts';
import { errorBanner } from '../errors.ts';
import { follow } from '../live.ts';
import { client } from '../session.ts';
import type { Page } from '../page.ts';

const statuses = ['', 'queued', 'processing', 'completed', 'failed', 'cancelled'];
const types = ['', 'convert', 'stream', 'analyze'];
const sorts: [string, string][] = [['created_at:desc', 'Newest first'], ['created_at:asc', 'Oldest first'], ['updated_at:desc', 'Recently updated'], ['priority:desc', 'Priority']];
/** Event streams open at once from this page (browsers allow ~6 connections per origin over HTTP/1.1). */
const maxLive = 4;

function select(id: string, label: string, options: [string, string][], value: string): [HTMLLabelElement, HTMLSelectElement] {
  const el = h('select', { id, name: id }, ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return [h('label', { for: id }, label), el];
}

export const jobsPage: Page = async (root, { query }, signal) => {
  const state = {
    status: query.get('status') ?? '',
    type: query.get('type') ?? '',
    sort: query.get('sort') ?? 'created_at:desc',
    page: Math.max(1, Number(query.get('page') ?? 1) || 1),
  };
  const go = (patch: Partial<typeof state>) => {
    const next = { ...state, ...patch };
    const q = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== '' && !(typeof v === 'number' && v === 1)).map(([k, v]) => [k, String(v)]));
    location.hash = `#/jobs${q.size ? `?${q}` : ''}`;
  };
  const [statusLabel, statusSel] = select('filter-status', 'Status', statuses.map((s) => [s, s || 'any']), state.status);
  const [typeLabel, typeSel] = select('filter-type', 'Type', types.map((t) => [t, t || 'any']), state.type);
  const [sortLabel, sortSel] = select('sort', 'Sort', sorts, state.sort);
  statusSel.addEventListener('change', () => go({ status: statusSel.value, page: 1 }));
  typeSel.addEventListener('change', () => go({ type: typeSel.value, page: 1 }));
  sortSel.addEventListener('change', () => go({ sort: sortSel.value, page: 1 }));

  const body = h('tbody');
  const summary = h('p', { 'aria-live': 'polite' });
  const pager = h('div', { class: 'pager' });
  const problems = h('div');
  show(root,
    h('h1', {}, 'Jobs'),
    h('div', { class: 'filters' }, h('div', {}, statusLabel, statusSel), h('div', {}, typeLabel, typeSel), h('div', {}, sortLabel, sortSel), h('a', { href: '#/new' }, 'New job')),
    problems,
    h('div', { class: 'card' },
      h('table', { id: 'jobs-table' },
        h('caption', { class: 'visually-hidden' }, 'Jobs'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Progress'), h('th', { scope: 'col', class: 'optional' }, 'Created'))),
        body,
      ),
      summary,
      pager,
    ),
  );

  const live = new Map<string, AbortController>();
  signal.addEventListener('abort', () => live.forEach((c) => c.abort()));

  const row = (job: Job) => {
    const bar = h('progress', { max: 100, value: job.progress, 'aria-label': `progress of job ${job.id.slice(0, 8)}` });
    const pct = h('span', {}, `${Math.round(job.progress)} %`);
    const badge = h('td', {}, statusBadge(job.status));
    const tr = h('tr', { 'data-job': job.id, 'data-status': job.status },
      h('td', {}, h('a', { href: `#/jobs/${job.id}` }, job.id.slice(0, 8)), ' ', h('span', { class: 'muted' }, job.input.split('/').pop() ?? '')),
      h('td', {}, job.type),
      badge,
      h('td', { class: 'progress-cell' }, bar, pct),
      h('td', { class: 'optional' }, when(job.created_at)),
    );
    const unfinished = job.status === 'queued' || job.status === 'processing';
    if (unfinished && !live.has(job.id) && live.size < maxLive) {
      const c = new AbortController();
      signal.addEventListener('abort', () => c.abort());
      live.set(job.id, c);
      follow(job.id, {
        progress: (p) => {
          const cur = body.querySelector<HTMLTableRowElement>(`tr[data-job="${job.id}"]`);
          cur?.querySelector('progress')?.setAttribute('value', String(p));
          const label = cur?.querySelector('.progress-cell span');
          if (label) label.textContent = `${Math.round(p)} %`;
        },
        status: (s) => {
          const cur = body.querySelector<HTMLTableRowElement>(`tr[data-job="${job.id}"]`);
          if (cur) {
            cur.dataset['status'] = s;
            cur.children[2]?.replaceChildren(statusBadge(s));
          }
        },
        final: () => {
          live.delete(job.id);
          void load();
        },
      }, c.signal);
    }
    return tr;
  };

  let loading = false;
  const load = async () => {
    if (loading || signal.aborted) return;
    loading = true;
    try {
      const q: JobListQuery = { page: state.page, per_page: 20, sort: state.sort };
      if (state.status) q.status = state.status as NonNullable<JobListQuery['status']>;
      if (state.type) q.type = state.type as NonNullable<JobListQuery['type']>;
      const list = await client().jobs.list(q, { signal });
      body.replaceChildren(...list.jobs.map(row));
      if (list.jobs.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, 'No jobs yet. ', h('a', { href: '#/new' }, 'Start one'), '.')));
      summary.textContent = `${list.total} job${list.total === 1 ? '' : 's'}`;
      pager.replaceChildren(
        h('button', { type: 'button', class: 'secondary', disabled: state.page <= 1, onclick: () => go({ page: state.page - 1 }) }, 'Previous'),
        h('span', {}, `Page ${list.page} of ${Math.max(1, list.pages)}`),
        h('button', { type: 'button', class: 'secondary', disabled: state.page >= list.pages, onclick: () => go({ page: state.page + 1 }) }, 'Next'),
      );
      problems.replaceChildren();
    } catch (err) {
      if (!signal.aborted) problems.replaceChildren(errorBanner(err));
    } finally {
      loading = false;
    }
  };
  await load();
  const timer = setInterval(() => void load(), 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
};
