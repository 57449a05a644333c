// A saga's timeline from its history (AdminService.GetHistory): one row per step with a bar per
// attempt of its action, compensation and confirm, from the event that started it to the one that
// ended it, and the saga's own events (started, compensating, quarantined, operator actions) as
// markers. A Gantt-like picture of where the saga spent its time.
import { formatDuration, formatTime, h, stateName } from './dom.js';

const STARTS = {
  TYPE_STEP_STARTED: 'action', TYPE_COMPENSATION_STARTED: 'compensation',
  TYPE_CONFIRM_STARTED: 'confirm',
};
const ENDS = {
  TYPE_STEP_SUCCEEDED: ['action', 'ok'], TYPE_STEP_FAILED: ['action', 'failed'],
  TYPE_STEP_RETRY_SCHEDULED: ['action', 'retry'], TYPE_STEP_UNKNOWN: ['action', 'unknown'],
  TYPE_COMPENSATION_SUCCEEDED: ['compensation', 'ok'],
  TYPE_COMPENSATION_FAILED: ['compensation', 'failed'],
  TYPE_CONFIRM_SUCCEEDED: ['confirm', 'ok'], TYPE_CONFIRM_FAILED: ['confirm', 'failed'],
};
const SAGA_EVENTS = new Set(['TYPE_SAGA_STARTED', 'TYPE_SAGA_COMPLETED', 'TYPE_SAGA_COMPENSATING',
  'TYPE_SAGA_COMPENSATED', 'TYPE_SAGA_QUARANTINED', 'TYPE_SAGA_ABORTED', 'TYPE_OPERATOR_ACTION']);

// {start, end, rows: [{step, segments: [{phase, attempt, start, end, outcome, error}]}],
//  markers: [{time, type, actor, reason, error}]} with times in ms since the epoch. `stepNames`
// orders the rows (the definition's order); `now` ends segments still open of a live saga.
export function buildTimeline(events, stepNames, now, live) {
  const rows = new Map(stepNames.map((name) => [name, { step: name, segments: [] }]));
  const open = new Map();  // step|phase -> segment
  const markers = [];
  let start = Infinity; let end = -Infinity;
  for (const e of events) {
    const t = new Date(e.time).getTime();
    start = Math.min(start, t); end = Math.max(end, t);
    if (SAGA_EVENTS.has(e.type)) {
      markers.push({ time: t, type: e.type, actor: e.actor, reason: e.reason, error: e.error, step: e.step });
      continue;
    }
    if (!e.step) continue;
    if (!rows.has(e.step)) rows.set(e.step, { step: e.step, segments: [] });
    if (STARTS[e.type]) {
      const phase = STARTS[e.type];
      const segment = { phase, attempt: e.attempt || 0, start: t, end: null, outcome: 'open', error: '' };
      rows.get(e.step).segments.push(segment);
      open.set(`${e.step}|${phase}`, segment);
    } else if (ENDS[e.type]) {
      const [phase, outcome] = ENDS[e.type];
      const key = `${e.step}|${phase}`;
      const segment = open.get(key);
      if (!segment) continue;  // a retry scheduled after a failed compensation, say
      segment.end = t; segment.outcome = outcome; segment.error = e.error || '';
      open.delete(key);
    }
  }
  const last = live ? Math.max(end, now) : end;
  for (const segment of open.values()) segment.end = last;
  if (!Number.isFinite(start)) { start = now; end = now; }
  return { start, end: last, rows: [...rows.values()], markers };
}

const OUTCOME_LABEL = { ok: 'succeeded', failed: 'failed', retry: 'failed, retry scheduled',
  unknown: 'no answer (may have run)', open: 'in flight' };

export function renderTimeline(timeline) {
  const rowH = 26; const labelW = 150; const width = 960; const top = 22;
  const plotW = width - labelW - 20;
  const span = Math.max(1, timeline.end - timeline.start);
  const x = (t) => labelW + ((t - timeline.start) / span) * plotW;
  const height = top + timeline.rows.length * rowH + 26;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h('g', {},
    h('line', { x1: labelW + f * plotW, y1: top - 4, x2: labelW + f * plotW, y2: height - 20, class: 'gridline' }),
    h('text', { x: labelW + f * plotW, y: 12, class: 'tick', 'text-anchor': f === 1 ? 'end' : f === 0 ? 'start' : 'middle' },
      `+${formatDuration(f * span)}`)));
  const rows = timeline.rows.map((row, i) => {
    const y = top + i * rowH;
    return h('g', { class: 'row', 'data-step': row.step },
      h('text', { x: labelW - 8, y: y + rowH / 2 + 4, class: 'step-label', 'text-anchor': 'end' }, row.step),
      row.segments.map((s) => {
        const w = Math.max(2, x(s.end) - x(s.start));
        const lane = s.phase === 'action' ? 0 : s.phase === 'compensation' ? 1 : 2;
        return h('rect', {
          class: `seg ${s.phase} ${s.outcome}`, x: x(s.start), y: y + 3 + lane * 6, width: w,
          height: rowH - 8 - lane * 6, rx: 2, 'data-testid': 'segment',
          'data-phase': s.phase, 'data-outcome': s.outcome,
        }, h('title', {}, `${row.step}: ${s.phase} attempt ${s.attempt} ${OUTCOME_LABEL[s.outcome]}` +
          `, ${formatDuration(s.end - s.start)} from ${formatTime(new Date(s.start).toISOString())}` +
          (s.error ? `\n${s.error}` : '')));
      }));
  });
  const markers = timeline.markers.map((m) => h('g', { class: `marker ${m.type.toLowerCase()}` },
    h('line', { x1: x(m.time), y1: top - 4, x2: x(m.time), y2: height - 20 }),
    h('circle', { cx: x(m.time), cy: height - 14, r: 4 }),
    h('title', {}, `${stateName(m.type)} at ${formatTime(new Date(m.time).toISOString())}` +
      (m.actor ? ` by ${m.actor}` : '') + (m.reason ? `: ${m.reason}` : '') +
      (m.error ? `\n${m.error}` : ''))));
  return h('div', { class: 'timeline-wrap' },
    h('svg', { viewBox: `0 0 ${width} ${height}`, class: 'timeline', role: 'img',
      'aria-label': 'timeline of the saga', 'data-testid': 'timeline' }, ticks, rows, markers),
    h('div', { class: 'legend' },
      h('span', { class: 'key seg-ok' }, 'action succeeded'),
      h('span', { class: 'key seg-retry' }, 'attempt failed, retried'),
      h('span', { class: 'key seg-failed' }, 'failed'),
      h('span', { class: 'key seg-unknown' }, 'no answer'),
      h('span', { class: 'key seg-comp' }, 'compensation'),
      h('span', { class: 'key seg-confirm' }, 'confirm'),
      h('span', { class: 'key seg-open' }, 'in flight'),
      h('span', { class: 'key marker-key' }, 'saga event')));
}
