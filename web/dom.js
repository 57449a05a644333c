// Small DOM and formatting helpers. Pages build elements with h(); no HTML strings, so nothing
// from sagad is ever parsed as markup.

// h('div', {class: 'x', onclick: f, dataset: {k: 'v'}}, child, 'text', [more])
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'g', 'rect', 'line', 'text', 'path', 'circle', 'title', 'polyline', 'marker',
    'defs'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag)
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') Object.assign(el.style, value);
    else if (key === 'value' && !svg) el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// "SAGA_STATE_COMPENSATED" -> "compensated"
export function stateName(value, prefix = /^(SAGA_STATE_|STEP_STATE_|STEP_KIND_|TYPE_)/) {
  return String(value || '').replace(prefix, '').toLowerCase().replaceAll('_', ' ');
}

export function stateBadge(value) {
  const name = stateName(value);
  return h('span', { class: `badge state-${name.replaceAll(' ', '-')}` }, name);
}

export function parseTime(text) {
  return text ? new Date(text) : null;
}

export function formatTime(text) {
  const t = parseTime(text);
  if (!t) return '';
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
}

// Milliseconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min".
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  if (ms < 3600000) {
    return `${Math.floor(ms / 60000)} min ${String(Math.floor(ms / 1000) % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(ms / 3600000)} h ${String(Math.floor(ms / 60000) % 60).padStart(2, '0')} min`;
}

// A protobuf JSON Duration ("1.500s") in milliseconds.
export function durationMs(text) {
  return text ? parseFloat(text) * 1000 : 0;
}

// A protobuf JSON bytes field (base64) as text when it is printable UTF-8, else as hex.
export function decodeBytes(base64) {
  const binary = atob(base64 || '');
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (!/[\u0000-\u0008\u000e-\u001f]/.test(text)) return { text, binary: false, size: bytes.length };
  } catch (e) { /* not UTF-8 */ }
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  return { text: hex, binary: true, size: bytes.length };
}

export function number(value) {
  return Number(value || 0).toLocaleString('en-US');
}

export function errorBox(error) {
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, error.code || 'ERROR'), ' ', error.message || String(error));
}

// The hash route's query: #/sagas?state=x&state=y -> URLSearchParams
export function routeParams() {
  const hash = location.hash || '#/';
  const q = hash.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
}
