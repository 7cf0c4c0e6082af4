/** The console's entry: sign-in with an API token, the header and tabs, the hash router, and the live feed shared by the pages. */
import { api, ApiError, rows, session, whenUnauthorized } from './api.js';
import { fill, h } from './dom.js';
import * as overview from './overview.js';

const main = document.getElementById('main');
const pages = {
  overview: async () => overview,
  rounds: () => import('./rounds.js'),
  models: () => import('./models.js'),
  stats: () => import('./stats.js'),
  audit: () => import('./audit.js'),
};

/** What every page gets: who is signed in, the federation, and the live state with a way to follow it. */
const ctx = {
  whoami: null,
  federation: null,
  get isAdmin() {
    return this.whoami?.role === 'admin';
  },
  live: {
    snapshot: null,
    /** server clock minus ours, to count down to deadlines the server set */
    skewMs: 0,
    listeners: new Set(),
    follow(fn) {
      this.listeners.add(fn);
      return () => this.listeners.delete(fn);
    },
  },
};

let cleanup = () => undefined;
let liveConnection = null;

function showLogin(message = '') {
  cleanup();
  liveConnection?.close();
  document.getElementById('tabs').hidden = true;
  document.getElementById('logout').hidden = true;
  fill(document.getElementById('who'));
  fill(document.getElementById('fed-name'));
  const form = document.getElementById('login-template').content.firstElementChild.cloneNode(true);
  fill(main, form);
  form.querySelector('#login-error').textContent = message;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = form.querySelector('#token').value.trim();
    try {
      await api('/api/whoami', { token });
    } catch (err) {
      form.querySelector('#login-error').textContent =
        err instanceof ApiError && err.status === 401
          ? 'This token is not valid (unknown, revoked or expired).'
          : `Cannot sign in: ${err.message}`;
      return;
    }
    session.set(token);
    void start();
  });
}

async function start() {
  try {
    const [whoami, list] = await Promise.all([api('/api/whoami'), api('/api/federations')]);
    ctx.whoami = whoami;
    const { items } = rows(list, 'federations');
    const wanted = new URLSearchParams(location.search).get('federation');
    ctx.federation = (items.find((f) => f.id === wanted) ?? items[0])?.id ?? null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    fill(main, h('p', { class: 'error' }, `The coordinator did not answer: ${err.message}`));
    return;
  }
  if (!ctx.federation) return fill(main, h('p', { class: 'muted' }, 'This coordinator runs no federation yet.'));
  fill(document.getElementById('fed-name'), ctx.federation);
  const { role, institution } = ctx.whoami;
  fill(
    document.getElementById('who'),
    h('span', { class: `role role-${role}`, 'data-testid': 'role' }, role),
    institution ? ` ${institution}` : '',
  );
  document.getElementById('tabs').hidden = false;
  document.getElementById('logout').hidden = false;
  await route();
  // The live feed is not needed for the first render: connect after it.
  void import('./live.js').then(({ connectLive }) => {
    liveConnection = connectLive(session.token, ctx.federation, {
      status: (state, message) => {
        const el = document.getElementById('live-status');
        el.dataset.state = state;
        el.title = message ?? `live updates: ${state}`;
      },
      snapshot: (snap) => {
        ctx.live.skewMs = snap.serverNow - Date.now();
        ctx.live.snapshot = snap;
        for (const fn of ctx.live.listeners) fn('snapshot', snap);
      },
      event: (name, payload) => {
        if (name === 'round:updated' && ctx.live.snapshot) ctx.live.snapshot = { ...ctx.live.snapshot, round: payload };
        if (name === 'agents:online' && ctx.live.snapshot) ctx.live.snapshot = { ...ctx.live.snapshot, online: payload.online };
        for (const fn of ctx.live.listeners) fn(name, payload);
      },
    });
  });
}

async function route() {
  if (!ctx.whoami) return;
  const name = (location.hash.match(/^#\/(\w+)/) ?? [])[1];
  const tab = name in pages ? name : 'overview';
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
  cleanup();
  cleanup = () => undefined;
  const page = await pages[tab]();
  const root = h('section', { class: `page page-${tab}` });
  fill(main, root);
  cleanup = (await page.render(root, ctx)) ?? (() => undefined);
}

whenUnauthorized(() => {
  session.clear();
  ctx.whoami = null;
  showLogin('Your token was refused; sign in again.');
});
window.addEventListener('hashchange', () => void route());
document.getElementById('logout').addEventListener('click', () => {
  session.clear();
  ctx.whoami = null;
  showLogin();
});

if (session.token) void start();
else showLogin();
