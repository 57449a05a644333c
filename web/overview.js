// Overview: sagas by state and definition, started/ended sagas and the failure rate over the
// window, quarantined sagas, parked messages and the relay's lag (AdminService.GetOverview).
import { admin } from './api.js';
import { clear, durationMs, formatDuration, formatTime, h, number, routeParams,
  stateName } from './dom.js';

const STATES = ['SAGA_STATE_RUNNING', 'SAGA_STATE_COMPENSATING', 'SAGA_STATE_COMPLETED',
  'SAGA_STATE_COMPENSATED', 'SAGA_STATE_QUARANTINED'];
const WINDOWS = [['15 min', 900], ['1 hour', 3600], ['6 hours', 21600], ['24 hours', 86400],
  ['7 days', 604800]];

export async function renderOverview(main, session) {
  const windowSeconds = Number(routeParams().get('window') || 3600);
  const [overview, quarantined] = await Promise.all([
    admin('GetOverview', { window: `${windowSeconds}s`, buckets: 60 }),
    admin('ListQuarantined', { pageSize: 10 }),
  ]);
  const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
  const byDefinition = new Map();
  for (const c of overview.counts) {
    byState[c.state] = (byState[c.state] || 0) + Number(c.count);
    if (!byDefinition.has(c.definitionName)) byDefinition.set(c.definitionName, {});
    byDefinition.get(c.definitionName)[c.state] = Number(c.count);
  }
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  const lagMs = durationMs(overview.relayLag);

  const card = (label, value, attrs = {}, href = null) => {
    const body = [h('div', { class: 'value' }, value), h('div', { class: 'label' }, label)];
    return h(href ? 'a' : 'div', { class: 'card', href, ...attrs }, body);
  };
  const stateCard = (state) => card(stateName(state), number(byState[state]),
    { 'data-testid': 'count', 'data-state': state,
      class: `card state-card state-${stateName(state).replaceAll(' ', '-')}` +
        (state === 'SAGA_STATE_QUARANTINED' && byState[state] > 0 ? ' alarm' : '') },
    `#/sagas?state=${state}`);

  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Overview'),
      h('span', { class: 'muted' }, `read ${formatTime(overview.readTime)}`)),
    h('section', { class: 'cards' },
      card('sagas', number(total), { 'data-testid': 'count', 'data-state': 'ALL' }, '#/sagas'),
      STATES.map(stateCard),
      card('parked messages', number(overview.parkedMessages),
        { 'data-testid': 'parked', class: `card${Number(overview.parkedMessages) ? ' alarm' : ''}` },
        '#/parked'),
      card('relay lag', lagMs ? formatDuration(lagMs) : 'none',
        { 'data-testid': 'relay-lag', class: `card${lagMs > 10000 ? ' alarm' : ''}` }),
      card('messages waiting', number(overview.pendingMessages) +
        (Number(overview.pendingMessages) >= 100000 ? '+' : ''), { 'data-testid': 'pending' })),
    h('section', {},
      h('div', { class: 'section-head' }, h('h2', {}, 'Throughput and failures'),
        h('div', { class: 'tabs' }, WINDOWS.map(([label, seconds]) => h('a', {
          href: `#/?window=${seconds}`, class: seconds === windowSeconds ? 'active' : '',
        }, label)))),
      throughputChart(overview.throughput, windowSeconds)),
    h('section', {}, h('h2', {}, 'By definition'), definitionTable(byDefinition)),
    h('section', {}, h('div', { class: 'section-head' },
      h('h2', {}, `Quarantined sagas (${number(overview.quarantined)})`),
      h('a', { href: '#/sagas?state=SAGA_STATE_QUARANTINED' }, 'all')),
    quarantinedTable(quarantined.sagas || [])));
}

function definitionTable(byDefinition) {
  if (byDefinition.size === 0) return h('p', { class: 'muted' }, 'No sagas yet.');
  return h('table', { class: 'grid', 'data-testid': 'by-definition' },
    h('thead', {}, h('tr', {}, h('th', {}, 'definition'),
      STATES.map((s) => h('th', { class: 'num' }, stateName(s))))),
    h('tbody', {}, [...byDefinition.entries()].map(([name, counts]) => h('tr', {},
      h('td', {}, h('a', { href: `#/definitions/${name}` }, name)),
      STATES.map((s) => h('td', { class: 'num' }, counts[s]
        ? h('a', { href: `#/sagas?definition=${encodeURIComponent(name)}&state=${s}` },
          number(counts[s])) : '0'))))));
}

function quarantinedTable(sagas) {
  if (sagas.length === 0) return h('p', { class: 'muted', 'data-testid': 'no-quarantined' }, 'None: nothing waits for an operator.');
  return h('table', { class: 'grid', 'data-testid': 'quarantined' },
    h('thead', {}, h('tr', {}, ['saga', 'definition', 'since', 'error'].map((t) => h('th', {}, t)))),
    h('tbody', {}, sagas.map((s) => h('tr', {},
      h('td', {}, h('a', { href: `#/sagas/${s.sagaId}`, class: 'mono' }, s.sagaId)),
      h('td', {}, s.definitionName), h('td', {}, formatTime(s.updateTime)),
      h('td', { class: 'err' }, s.error)))));
}

// Stacked bars per bucket (completed, compensated, quarantined) with the sagas started as a
// line and the failure rate (compensated + quarantined over ended) as a second line.
function throughputChart(buckets, windowSeconds) {
  const width = 960; const height = 220; const left = 48; const bottom = 24; const top = 10;
  const rows = buckets.map((b) => ({
    start: new Date(b.startTime), started: Number(b.started), completed: Number(b.completed),
    compensated: Number(b.compensated), quarantined: Number(b.quarantined),
  }));
  const max = Math.max(1, ...rows.map((r) => Math.max(r.started,
    r.completed + r.compensated + r.quarantined)));
  const plotW = width - left - 40; const plotH = height - top - bottom;
  const bw = plotW / Math.max(1, rows.length);
  const y = (v) => top + plotH - (v / max) * plotH;
  const bars = []; const started = []; const failure = [];
  let ended = 0; let failed = 0;
  rows.forEach((r, i) => {
    const x = left + i * bw;
    let base = 0;
    for (const [key, cls] of [['completed', 'ok'], ['compensated', 'comp'], ['quarantined', 'quar']]) {
      if (!r[key]) continue;
      bars.push(h('rect', { class: `bar ${cls}`, x: x + 1, y: y(base + r[key]), width: Math.max(1, bw - 2),
        height: y(base) - y(base + r[key]) },
      h('title', {}, `${r.start.toLocaleTimeString()}: ${r[key]} ${key}`)));
      base += r[key];
    }
    started.push(`${x + bw / 2},${y(r.started)}`);
    const end = r.completed + r.compensated + r.quarantined;
    ended += end; failed += r.compensated + r.quarantined;
    if (end) failure.push(`${x + bw / 2},${top + plotH - ((r.compensated + r.quarantined) / end) * plotH}`);
  });
  const label = (t) => (windowSeconds > 86400 ? t.toLocaleDateString() : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const ticks = [0, Math.floor(rows.length / 2), rows.length - 1].filter((i) => rows[i]);
  const perSecond = (n) => (n / windowSeconds).toFixed(2);
  const totalStarted = rows.reduce((a, r) => a + r.started, 0);
  return h('div', { class: 'chart' },
    h('svg', { viewBox: `0 0 ${width} ${height}`, class: 'throughput', role: 'img',
      'aria-label': 'sagas started and ended over time' },
    h('line', { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: 'axis' }),
    h('text', { x: left - 6, y: top + 8, class: 'tick', 'text-anchor': 'end' }, number(max)),
    h('text', { x: left - 6, y: top + plotH, class: 'tick', 'text-anchor': 'end' }, '0'),
    h('text', { x: left + plotW + 6, y: top + 8, class: 'tick fail' }, '100%'),
    ticks.map((i) => h('text', { x: left + i * bw, y: height - 6, class: 'tick' }, label(rows[i].start))),
    bars,
    h('polyline', { points: started.join(' '), class: 'line started' }),
    failure.length ? h('polyline', { points: failure.join(' '), class: 'line fail' }) : null),
    h('div', { class: 'legend' },
      h('span', { class: 'key ok' }, 'completed'), h('span', { class: 'key comp' }, 'compensated'),
      h('span', { class: 'key quar' }, 'quarantined'), h('span', { class: 'key started' }, 'started'),
      h('span', { class: 'key fail' }, 'failure rate'),
      h('span', { class: 'muted' }, ` ${number(totalStarted)} started (${perSecond(totalStarted)}/s), ` +
        `${number(ended)} ended or quarantined, failure rate ${ended ? ((100 * failed) / ended).toFixed(1) : '0.0'}%`)));
}

