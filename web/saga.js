// One saga: its state and error, the timeline of every step, attempt, compensation and confirm,
// its steps, payloads and whole history with who did what, and (for admins) the actions.
import { admin, saga } from './api.js';
import { clear, decodeBytes, formatDuration, formatTime, h, number, parseTime, stateBadge,
  stateName } from './dom.js';
import { sagaActions } from './actions.js';
import { buildTimeline, renderTimeline } from './timeline.js';

const TERMINAL = new Set(['SAGA_STATE_COMPLETED', 'SAGA_STATE_COMPENSATED']);

async function history(sagaId) {
  const events = [];
  let pageToken = '';
  for (let i = 0; i < 100; i++) {  // 100,000 events at most
    const page = await admin('GetHistory', { sagaId, pageSize: 1000, pageToken });
    events.push(...(page.events || []));
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return events;
}

export async function renderSaga(main, session, sagaId) {
  const [got, events] = await Promise.all([saga('GetSaga', { sagaId }), history(sagaId)]);
  const s = got.saga;
  const created = parseTime(s.createTime);
  const ended = parseTime(s.endTime);
  const live = !TERMINAL.has(s.state) && s.state !== 'SAGA_STATE_QUARANTINED';
  const timeline = buildTimeline(events, (s.steps || []).map((st) => st.name), Date.now(), live);
  const reload = () => renderSaga(main, session, sagaId);
  clear(main,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Saga ', h('span', { class: 'mono', 'data-testid': 'saga-id' }, s.sagaId)),
      h('span', { 'data-testid': 'saga-state' }, stateBadge(s.state)),
      h('button', { class: 'link', onclick: reload }, 'Refresh')),
    session.isAdmin ? sagaActions(s, reload) : null,
    s.error ? h('p', { class: 'error', 'data-testid': 'saga-error' }, s.error) : null,
    h('dl', { class: 'facts' },
      fact('definition', h('a', { href: `#/definitions/${s.definitionName}/${s.definitionVersion}` },
        `${s.definitionName} v${s.definitionVersion}`)),
      fact('created', formatTime(s.createTime)),
      fact(ended ? 'ended' : 'updated', formatTime(s.endTime || s.updateTime)),
      fact('duration', created ? formatDuration((ended || new Date()) - created) : ''),
      s.idempotencyKey ? fact('idempotency key', h('span', { class: 'mono' }, s.idempotencyKey)) : null,
      Object.keys(s.labels || {}).length ? fact('labels', Object.entries(s.labels).map(
        ([k, v]) => h('a', { class: 'label-chip', href: `#/sagas?label=${encodeURIComponent(`${k}=${v}`)}` }, `${k}=${v}`))) : null,
      fact('traceparent', h('span', { class: 'mono' }, s.traceparent))),
    h('section', {}, h('h2', {}, 'Timeline'), renderTimeline(timeline)),
    h('section', {}, h('h2', {}, 'Steps'), stepsTable(s.steps || [])),
    h('section', {}, h('h2', {}, 'Payloads'), payloads(got.payloads || {})),
    h('section', {}, h('h2', {}, `History (${number(events.length)} events)`), historyTable(events)));
}

function fact(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function stepsTable(steps) {
  return h('table', { class: 'grid', 'data-testid': 'steps' },
    h('thead', {}, h('tr', {}, ['step', 'state', 'attempts', 'compensations', 'confirms', 'started',
      'duration', 'last error'].map((t) => h('th', {}, t)))),
    h('tbody', {}, steps.map((st) => {
      const start = parseTime(st.startTime); const end = parseTime(st.endTime);
      return h('tr', { 'data-step': st.name },
        h('td', {}, st.name), h('td', {}, stateBadge(st.state)),
        h('td', { class: 'num' }, st.attempts || 0), h('td', { class: 'num' }, st.compensationAttempts || 0),
        h('td', { class: 'num' }, st.confirmAttempts || 0), h('td', {}, formatTime(st.startTime)),
        h('td', { class: 'num' }, start && end ? formatDuration(end - start) : ''),
        h('td', { class: 'err' }, st.lastError));
    })));
}

function payloads(map) {
  const entries = Object.entries(map);
  if (entries.length === 0) return h('p', { class: 'muted' }, 'No payloads (the steps were called with empty bytes).');
  return h('div', { class: 'payloads' }, entries.map(([step, base64]) => {
    const p = decodeBytes(base64);
    return h('details', { open: p.size <= 2048 },
      h('summary', {}, `${step}: ${number(p.size)} bytes${p.binary ? ' (binary, shown as hex)' : ''}`),
      h('pre', { 'data-testid': 'payload', 'data-step': step }, p.text));
  }));
}

function historyTable(events) {
  return h('table', { class: 'grid compact', 'data-testid': 'history' },
    h('thead', {}, h('tr', {}, ['#', 'time', 'event', 'step', 'attempt', 'actor', 'reason / error']
      .map((t) => h('th', {}, t)))),
    h('tbody', {}, events.map((e) => h('tr', { class: e.type === 'TYPE_OPERATOR_ACTION' ? 'operator' : '' },
      h('td', { class: 'num' }, e.sequence), h('td', {}, formatTime(e.time)),
      h('td', {}, stateName(e.type)), h('td', {}, e.step), h('td', { class: 'num' }, e.attempt || ''),
      h('td', {}, e.actor), h('td', { class: e.error ? 'err' : '' }, [e.reason, e.error].filter(Boolean).join(' — '))))));
}
