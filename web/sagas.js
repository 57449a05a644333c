// The saga list: filters by state, definition, creation time, label and error text, newest
// first, a page at a time (SagaService.ListSagas). The filters live in the URL (#/sagas?...), so
// a filtered list can be shared; the page tokens of earlier pages are kept for "Previous".
import { saga } from './api.js';
import { clear, formatDuration, formatTime, h, parseTime, routeParams, stateBadge,
  stateName } from './dom.js';

const STATES = ['SAGA_STATE_RUNNING', 'SAGA_STATE_COMPENSATING', 'SAGA_STATE_COMPLETED',
  'SAGA_STATE_COMPENSATED', 'SAGA_STATE_QUARANTINED'];

// The ListSagasRequest of the URL's filters.
export function requestOf(params) {
  const request = { pageSize: Number(params.get('size') || 50) };
  const states = params.getAll('state');
  if (states.length) request.states = states;
  if (params.get('definition')) request.definitionName = params.get('definition');
  if (params.get('after')) request.createdAfter = new Date(params.get('after')).toISOString();
  if (params.get('before')) request.createdBefore = new Date(params.get('before')).toISOString();
  if (params.get('error')) request.errorContains = params.get('error');
  const labels = {};
  for (const pair of params.getAll('label')) {
    const eq = pair.indexOf('=');
    if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (Object.keys(labels).length) request.labels = labels;
  if (params.get('page')) request.pageToken = params.get('page');
  return request;
}

export async function renderSagaList(main, session) {
  const params = routeParams();
  const [page, definitions] = await Promise.all([
    saga('ListSagas', requestOf(params)),
    saga('ListDefinitions', { pageSize: 1000 }),
  ]);
  const names = [...new Set((definitions.definitions || []).map((d) => d.name))].sort();
  const sagas = page.sagas || [];
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Sagas')),
    filterForm(params, names),
    sagas.length === 0 ? h('p', { class: 'muted', 'data-testid': 'empty' }, 'No saga matches.')
      : h('table', { class: 'grid', 'data-testid': 'saga-list' },
        h('thead', {}, h('tr', {}, ['saga', 'definition', 'state', 'created', 'duration', 'labels',
          'error'].map((t) => h('th', {}, t)))),
        h('tbody', {}, sagas.map((s) => {
          const created = parseTime(s.createTime);
          const end = parseTime(s.endTime) || parseTime(s.updateTime);
          return h('tr', { 'data-saga': s.sagaId },
            h('td', {}, h('a', { href: `#/sagas/${s.sagaId}`, class: 'mono' }, s.sagaId.slice(0, 8))),
            h('td', {}, `${s.definitionName} v${s.definitionVersion}`),
            h('td', {}, stateBadge(s.state)),
            h('td', {}, formatTime(s.createTime)),
            h('td', { class: 'num' }, created && end ? formatDuration(end - created) : ''),
            h('td', {}, Object.entries(s.labels || {}).map(([k, v]) => h('span', { class: 'label-chip' }, `${k}=${v}`))),
            h('td', { class: 'err' }, s.error));
        }))),
    pager(params, page.nextPageToken));
}

function filterForm(params, names) {
  const selected = new Set(params.getAll('state'));
  const local = (iso) => (iso ? iso.slice(0, 16) : '');
  const form = h('form', {
    class: 'filters', 'data-testid': 'filters', onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const out = new URLSearchParams();
      for (const s of data.getAll('state')) out.append('state', s);
      for (const key of ['definition', 'after', 'before', 'error']) {
        const v = String(data.get(key) || '').trim();
        if (v) out.set(key, v);
      }
      for (const l of String(data.get('label') || '').split(',').map((x) => x.trim()).filter(Boolean)) {
        out.append('label', l);
      }
      location.hash = `#/sagas?${out}`;
    },
  },
  h('fieldset', { class: 'states' }, h('legend', {}, 'state'), STATES.map((s) => h('label', {},
    h('input', { type: 'checkbox', name: 'state', value: s, checked: selected.has(s) }), stateName(s)))),
  h('label', {}, 'definition', h('select', { name: 'definition' },
    h('option', { value: '' }, 'any'),
    names.map((n) => h('option', { value: n, selected: params.get('definition') === n }, n)))),
  h('label', {}, 'created after', h('input', { type: 'datetime-local', name: 'after', value: local(params.get('after')) })),
  h('label', {}, 'created before', h('input', { type: 'datetime-local', name: 'before', value: local(params.get('before')) })),
  h('label', {}, 'labels', h('input', { name: 'label', placeholder: 'key=value, …', value: params.getAll('label').join(', ') })),
  h('label', {}, 'error contains', h('input', { name: 'error', value: params.get('error') || '' })),
  h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  h('a', { href: '#/sagas', class: 'button' }, 'Clear'));
  return form;
}

function pager(params, next) {
  const previous = params.getAll('prev');
  const go = (token, prevs) => {
    const out = new URLSearchParams(params);
    out.delete('page'); out.delete('prev');
    if (token) out.set('page', token);
    for (const p of prevs) out.append('prev', p);
    location.hash = `#/sagas?${out}`;
  };
  return h('div', { class: 'pager' },
    h('button', { disabled: !params.get('page'), 'data-testid': 'previous-page',
      onclick: () => go(previous.at(-1) === '-' ? '' : previous.at(-1), previous.slice(0, -1)) }, '← Previous'),
    h('button', { disabled: !next, 'data-testid': 'next-page',
      onclick: () => go(next, [...previous, params.get('page') || '-']) }, 'Next →'));
}
