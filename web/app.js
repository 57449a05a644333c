// The console's shell: who the caller is, the token prompt when authentication is on, and the
// hash router that hands #/... to a page module.
import { admin, ApiError, setToken, token } from './api.js';
import { clear, errorBox, h } from './dom.js';
import { renderOverview } from './overview.js';
import { renderSagaList } from './sagas.js';
import { renderSaga } from './saga.js';
import { renderDefinitions, renderDefinition } from './definition.js';
import { renderParked } from './parked.js';

const main = document.getElementById('main');

// What every page gets: the caller (name, role, isAdmin) and where to draw.
const session = { name: '', role: '', isAdmin: false, authentication: false };

// Each page draws into its own view, shown once it is complete, and only if no later
// navigation happened meanwhile (a slow answer never overwrites a newer page).
const routes = [
  [/^#?\/?$/, 'overview', (m, view) => renderOverview(view, session)],
  [/^#\/sagas$/, 'sagas', (m, view) => renderSagaList(view, session)],
  [/^#\/sagas\/([0-9a-fA-F-]{36})$/, 'sagas', (m, view) => renderSaga(view, session, m[1])],
  [/^#\/definitions$/, 'definitions', (m, view) => renderDefinitions(view, session)],
  [/^#\/definitions\/([a-z0-9_.-]+)(?:\/(\d+))?$/, 'definitions',
    (m, view) => renderDefinition(view, session, m[1], Number(m[2] || 0))],
  [/^#\/parked$/, 'parked', (m, view) => renderParked(view, session)],
];

let renderId = 0;

async function route() {
  const id = ++renderId;
  const hash = location.hash || '#/';
  const path = hash.split('?')[0];
  const quarantined = hash.includes('state=SAGA_STATE_QUARANTINED') && path === '#/sagas';
  for (const [pattern, nav, render] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    for (const a of document.querySelectorAll('nav a')) {
      a.classList.toggle('active', quarantined ? a.dataset.nav === 'quarantined'
        : a.dataset.nav === nav);
    }
    const view = h('div', { class: 'view', dataset: { route: hash } });
    clear(main, h('p', { class: 'muted' }, 'Loading…'));
    try {
      await render(m, view);
      if (id === renderId) clear(main, view);
    } catch (e) {
      if (id !== renderId) return;
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') return showLogin(e.message);
      clear(main, errorBox(e));
    }
    return;
  }
  clear(main, h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Overview')));
}

function showWho() {
  const who = document.getElementById('who');
  clear(who, h('span', { 'data-testid': 'who' }, session.name),
    h('span', { class: `badge role-${session.role}`, 'data-testid': 'role' }, session.role),
    session.authentication ? h('button', {
      class: 'link', onclick: () => { setToken(''); location.reload(); },
    }, 'Sign out') : null);
}

function showLogin(message) {
  const input = h('input', {
    type: 'password', id: 'token', autocomplete: 'off', placeholder: 'bearer token',
    'aria-label': 'bearer token',
  });
  const form = h('form', {
    class: 'login', onsubmit: async (e) => {
      e.preventDefault();
      setToken(input.value.trim());
      await start();
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'This sagad requires a bearer token (a line of SAGAD_AUTH_TOKENS_FILE). ',
    'It is kept in this browser tab only.'),
  message && token() ? h('p', { class: 'error' }, message) : null,
  input, h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  clear(main, form);
  input.focus();
}

async function start() {
  try {
    const me = await admin('WhoAmI', {});
    session.name = me.name;
    session.role = me.role;
    session.isAdmin = me.role === 'admin';
    session.authentication = me.authentication;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') return showLogin(e.message);
    clear(main, errorBox(e));
    return;
  }
  showWho();
  await route();
}

window.addEventListener('hashchange', () => route());
start();
