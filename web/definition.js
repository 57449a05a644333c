// Definitions: the list of registered definitions, and one definition's step graph, drawn in
// layers by dependency depth so that steps side by side run in parallel, with the pivot and the
// step kinds marked, and each step's endpoints, timeout and retry policy.
import { saga } from './api.js';
import { clear, formatTime, h, stateName } from './dom.js';

export async function renderDefinitions(main) {
  const list = await saga('ListDefinitions', { pageSize: 1000 });
  const defs = list.definitions || [];
  clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Definitions')),
    defs.length === 0 ? h('p', { class: 'muted' }, 'No definition is registered.')
      : h('table', { class: 'grid', 'data-testid': 'definitions' },
        h('thead', {}, h('tr', {}, ['name', 'latest version', 'steps', 'registered', 'description']
          .map((t) => h('th', {}, t)))),
        h('tbody', {}, defs.map((d) => h('tr', {},
          h('td', {}, h('a', { href: `#/definitions/${d.name}` }, d.name)),
          h('td', { class: 'num' }, d.version), h('td', { class: 'num' }, (d.steps || []).length),
          h('td', {}, formatTime(d.createTime)), h('td', {}, d.description))))));
}

export async function renderDefinition(main, session, name, version) {
  const [got, versions] = await Promise.all([
    saga('GetDefinition', { name, version }),
    saga('ListDefinitions', { name, allVersions: true, pageSize: 1000 }),
  ]);
  const d = got.definition;
  clear(main,
    h('div', { class: 'page-head' }, h('h1', {}, `${d.name} `, h('span', { class: 'muted' }, `v${d.version}`)),
      h('a', { href: `#/sagas?definition=${encodeURIComponent(d.name)}` }, 'its sagas')),
    d.description ? h('p', {}, d.description) : null,
    h('p', { class: 'muted' }, 'versions: ', (versions.definitions || []).map((v) => h('a', {
      href: `#/definitions/${d.name}/${v.version}`, class: v.version === d.version ? 'current' : '',
    }, `v${v.version} `)), ` · registered ${formatTime(d.createTime)}`,
    d.deadline ? ` · deadline ${d.deadline}` : ''),
    h('section', {}, h('h2', {}, 'Step graph'), stepGraph(d.steps || [])),
    h('section', {}, h('h2', {}, 'Steps'), stepTable(d)));
}

// Layer of each step: 0 for steps without dependencies, else one more than its deepest
// dependency (the definition is acyclic, sagad checked it).
export function layers(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map();
  const visit = (name) => {
    if (depth.has(name)) return depth.get(name);
    depth.set(name, 0);
    const deps = byName.get(name)?.dependsOn || [];
    const d = deps.length ? 1 + Math.max(...deps.map(visit)) : 0;
    depth.set(name, d);
    return d;
  };
  steps.forEach((s) => visit(s.name));
  return depth;
}

function stepGraph(steps) {
  const depth = layers(steps);
  const columns = [];
  for (const s of steps) (columns[depth.get(s.name)] ||= []).push(s);
  const boxW = 150; const boxH = 46; const gapX = 70; const gapY = 22; const pad = 12;
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const width = pad * 2 + columns.length * boxW + (columns.length - 1) * gapX;
  const height = pad * 2 + tallest * boxH + (tallest - 1) * gapY;
  const pos = new Map();
  columns.forEach((col, ci) => col.forEach((s, ri) => {
    const offset = (height - pad * 2 - (col.length * boxH + (col.length - 1) * gapY)) / 2;
    pos.set(s.name, { x: pad + ci * (boxW + gapX), y: pad + offset + ri * (boxH + gapY) });
  }));
  const edges = steps.flatMap((s) => (s.dependsOn || []).map((dep) => {
    const a = pos.get(dep); const b = pos.get(s.name);
    if (!a || !b) return null;
    const x1 = a.x + boxW; const y1 = a.y + boxH / 2; const x2 = b.x; const y2 = b.y + boxH / 2;
    return h('path', { class: 'edge', d: `M${x1},${y1} C${x1 + gapX / 2},${y1} ${x2 - gapX / 2},${y2} ${x2 - 6},${y2}`,
      'marker-end': 'url(#arrow)' });
  }));
  const nodes = steps.map((s) => {
    const p = pos.get(s.name);
    const kind = stateName(s.kind || 'STEP_KIND_COMPENSATABLE');
    return h('g', { class: `node kind-${kind}`, 'data-testid': 'graph-step', 'data-step': s.name, 'data-kind': kind },
      h('rect', { x: p.x, y: p.y, width: boxW, height: boxH, rx: 6 }),
      h('text', { x: p.x + boxW / 2, y: p.y + 19, 'text-anchor': 'middle', class: 'name' }, s.name),
      h('text', { x: p.x + boxW / 2, y: p.y + 36, 'text-anchor': 'middle', class: 'kind' },
        kind === 'pivot' ? '◆ pivot' : kind + (s.compensation ? ' · undo' : '')),
      h('title', {}, `${s.name} (${kind})` + ((s.dependsOn || []).length ? `, after ${s.dependsOn.join(', ')}` : '')));
  });
  return h('div', { class: 'graph-wrap' },
    h('svg', { viewBox: `0 0 ${Math.max(width, 200)} ${height}`, class: 'graph', 'data-testid': 'step-graph',
      style: { maxWidth: `${Math.max(width, 200)}px` } },
    h('defs', {}, h('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 4, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: 'auto-start-reverse' }, h('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))),
    edges, nodes),
    h('p', { class: 'muted' }, 'Left to right in dependency order; steps in one column run in parallel once their dependencies succeed.'));
}

function endpoint(e) {
  if (!e) return '';
  if (e.grpc) return `gRPC ${e.grpc.target} ${e.grpc.method}`;
  if (e.kafka) return `Kafka ${e.kafka.commandTopic} → ${e.kafka.replyTopic}`;
  return '';
}

function stepTable(d) {
  const policy = (p, kind) => `${kind === 'STEP_KIND_RETRIABLE' ? 'until success' : `${p.maxAttempts || 5} attempts`}, ` +
    `${p.initialBackoff || '0.1s'} ×${p.backoffMultiplier || 2} ≤ ${p.maxBackoff || '30s'}`;
  return h('table', { class: 'grid', 'data-testid': 'definition-steps' },
    h('thead', {}, h('tr', {}, ['step', 'kind', 'after', 'action', 'compensation', 'status / confirm',
      'timeout', 'retries'].map((t) => h('th', {}, t)))),
    h('tbody', {}, (d.steps || []).map((s) => h('tr', {},
      h('td', {}, s.name), h('td', {}, stateName(s.kind || 'STEP_KIND_COMPENSATABLE')),
      h('td', {}, (s.dependsOn || []).join(', ')), h('td', { class: 'mono' }, endpoint(s.action)),
      h('td', { class: 'mono' }, endpoint(s.compensation)),
      h('td', { class: 'mono' }, [endpoint(s.status), endpoint(s.confirm)].filter(Boolean).join(' / ')),
      h('td', {}, s.timeout || d.defaultStepTimeout || '10s'),
      h('td', {}, policy({ ...(d.defaultRetryPolicy || {}), ...(s.retryPolicy || {}) }, s.kind))))));
}

