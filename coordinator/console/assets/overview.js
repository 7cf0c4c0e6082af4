/** Overview: the federation, its institutions and who is online now, and the current round live with the time left to its deadline. */
import { api, ApiError, fedPath } from './api.js';
import { chip, duration, fill, h, pct, time, validation, when } from './dom.js';

const FEED_SIZE = 12;

/**
 * Renders the overview into `root`; returns the function that stops its timers and live listeners.
 * @example const stop = await render(section, ctx)
 */
export async function render(root, ctx) {
  const fed = await api(fedPath(ctx.federation));
  const state = { fed, online: new Set(fed.online ?? []), round: roundFromRest(fed.currentRound) };

  const fedBox = h('div', { class: 'card' });
  const roundBox = h('div', { class: 'card round-card', 'data-testid': 'current-round' });
  const instBox = h('div', { class: 'card' });
  const feed = h('ol', { class: 'feed', 'data-testid': 'feed' });
  root.append(h('div', { class: 'grid' }, fedBox, roundBox), instBox, h('div', { class: 'card' }, h('h3', {}, 'Live events'), feed));

  const drawFederation = () => fill(fedBox, ...federationView(state.fed));
  const drawRound = () => fill(roundBox, ...roundView(state.round, ctx.live.skewMs));
  const drawInstitutions = () => fill(instBox, ...institutionsView(state, ctx));
  drawFederation();
  drawRound();
  drawInstitutions();
  // First render: the frame after the overview is in the DOM (measured by the browser test).
  requestAnimationFrame(() => {
    window.__consoleFirstRender ??= performance.now();
    document.body.dataset.ready = 'overview';
  });

  if (ctx.live.snapshot) apply('snapshot', ctx.live.snapshot);
  const unfollow = ctx.live.follow(apply);
  const tick = setInterval(() => {
    const left = roundBox.querySelector('[data-testid=time-left]');
    if (left && state.round) left.textContent = timeLeft(state.round, ctx.live.skewMs);
  }, 1000);

  // Outcomes change the federation's facts (rounds published, latest model, status, last seen): read them again.
  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) return void (again = true);
    refreshing = true;
    try {
      do {
        again = false;
        state.fed = await api(fedPath(ctx.federation));
        drawFederation();
        drawInstitutions();
      } while (again);
    } catch {
      // the live state stays; the next event tries again
    } finally {
      refreshing = false;
    }
  }

  function apply(name, payload) {
    if (['round:published', 'round:withheld', 'round:failed', 'federation:complete', 'federation:failed', 'agents:online'].includes(name))
      void refresh();
    if (name === 'snapshot') {
      if (payload.round) state.round = payload.round;
      state.online = new Set(payload.online);
      drawRound();
      drawInstitutions();
      return;
    }
    if (name === 'round:updated') {
      state.round = payload;
      drawRound();
    } else if (name === 'agents:online') {
      state.online = new Set(payload.online);
      drawInstitutions();
    }
    if (name !== 'round:updated' && name !== 'agents:online') {
      feed.prepend(h('li', {}, h('span', { class: 'muted' }, time(Date.now())), ' ', h('b', {}, name), ' ', describe(name, payload)));
      while (feed.children.length > FEED_SIZE) feed.lastElementChild.remove();
    }
  }

  return () => {
    unfollow();
    clearInterval(tick);
  };
}

function federationView(fed) {
  const cfg = fed.config ?? {};
  return [
    h('h2', { 'data-testid': 'federation-name' }, fed.name ?? fed.id),
    h(
      'dl',
      { class: 'facts' },
      fact('Federation', fed.id),
      fact('Status', chip(fed.status, 'federation-status')),
      fact('Model', fed.spec?.arch ?? '–'),
      fact('Strategy', cfg.strategy ?? 'fedavg'),
      fact('Rounds published', `${fed.roundsPublished ?? '–'} of ${cfg.rounds ?? '–'}`),
      fact('Min. participants', cfg.minParticipants ?? '–'),
      fact('Latest model', fed.latestModel ? `v${fed.latestModel.version} (round ${fed.latestModel.round ?? '–'})` : 'none yet'),
    ),
  ];
}

const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value)];

/** The REST form of the current round, in the shape of a live snapshot (without per-site progress). */
function roundFromRest(r) {
  if (!r) return null;
  return {
    round: r.round,
    state: r.state,
    deadline: r.deadline,
    startedAt: r.startedAt,
    selected: r.selected?.length ?? 0,
    reported: null,
    accepted: null,
    participations: (r.selected ?? []).map((institution) => ({ institution, status: 'selected' })),
    metrics: r.metrics,
    reason: r.reason,
    resultVersion: r.resultVersion,
  };
}

const OPEN = new Set(['waiting', 'training', 'aggregating', 'evaluating']);

function timeLeft(r, skewMs) {
  if (!OPEN.has(r.state)) return 'closed';
  const left = r.deadline - (Date.now() + skewMs);
  return left > 0 ? `${duration(left)} to the deadline` : 'deadline passed';
}

function roundView(r, skewMs) {
  if (!r) return [h('h3', {}, 'Current round'), h('p', { class: 'muted' }, 'No round has opened yet.')];
  const total = r.selected || 0;
  const done = r.accepted ?? 0;
  return [
    h('h3', {}, 'Round ', h('span', { 'data-testid': 'round-number' }, r.round), ' ', chip(r.state, 'round-state')),
    h('p', { class: 'big', 'data-testid': 'time-left' }, timeLeft(r, skewMs)),
    total > 0
      ? h(
          'div',
          {},
          h('progress', { max: total, value: done, 'data-testid': 'round-progress' }),
          h('span', { class: 'muted' }, ` ${done} of ${total} updates accepted`),
        )
      : h('p', { class: 'muted' }, r.state === 'waiting' ? 'Waiting for enough institutions to come online.' : ''),
    r.participations?.length
      ? h(
          'ul',
          { class: 'chips' },
          r.participations.map((p) => h('li', {}, p.institution, ' ', chip(p.status))),
        )
      : null,
    r.metrics
      ? h('p', { class: 'muted' }, `validation ${validation(r.metrics)}, train loss ${r.metrics.trainLoss?.toFixed(4) ?? '–'}`)
      : null,
    r.reason ? h('p', { class: 'muted' }, r.reason) : null,
  ];
}

function institutionsView(state, ctx) {
  const list = state.fed.institutions ?? [];
  const onlineCount = list.filter((i) => state.online.has(i.id)).length;
  return [
    h(
      'h3',
      {},
      'Institutions ',
      h('span', { class: 'muted', 'data-testid': 'online-count' }, `${onlineCount} of ${list.length} online now`),
    ),
    h(
      'table',
      { class: 'table', 'data-testid': 'institutions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Institution'),
          h('th', {}, 'Online'),
          h('th', {}, 'Status'),
          h('th', {}, 'Fingerprint'),
          h('th', {}, 'Last seen'),
          ctx.isAdmin ? h('th', {}, 'Actions') : null,
        ),
      ),
      h(
        'tbody',
        {},
        list.map((i) =>
          h(
            'tr',
            {},
            h('td', {}, i.id),
            h(
              'td',
              {},
              h('span', { class: `dot ${state.online.has(i.id) ? 'on' : 'off'}`, title: state.online.has(i.id) ? 'online' : 'offline' }),
              state.online.has(i.id) ? ' online' : '',
            ),
            h('td', {}, chip(i.status)),
            h('td', { class: 'mono' }, i.fingerprint ?? '–'),
            h('td', {}, when(i.lastSeenAt)),
            ctx.isAdmin ? h('td', {}, suspendButton(i, ctx)) : null,
          ),
        ),
      ),
    ),
  ];
}

/** Admins only: suspend (or reinstate) an institution. */
function suspendButton(inst, ctx) {
  const suspend = inst.status !== 'suspended';
  const button = h(
    'button',
    { class: 'small danger admin-action', 'data-testid': `suspend-${inst.id}` },
    suspend ? 'Suspend institution' : 'Reactivate',
  );
  button.addEventListener('click', async () => {
    if (suspend && !confirm(`Suspend ${inst.id}? It will be refused at its next connection.`)) return;
    button.disabled = true;
    try {
      await api(fedPath(ctx.federation, `/institutions/${encodeURIComponent(inst.id)}/${suspend ? 'suspend' : 'reactivate'}`), {
        method: 'POST',
        body: {},
      });
      location.reload();
    } catch (err) {
      button.replaceWith(
        h('span', { class: 'error' }, err instanceof ApiError && err.status === 404 ? 'not available on this coordinator' : err.message),
      );
    }
  });
  return button;
}

function describe(name, p) {
  switch (name) {
    case 'round:started':
      return `round ${p.round}: ${p.participantCount ?? p.participants.length} participants, deadline ${time(p.deadline)}`;
    case 'update:accepted':
      return `round ${p.round}: ${p.institution}, ${p.samples} samples, local accuracy ${pct(p.metrics?.trainAccuracy)}`;
    case 'round:published':
      return `round ${p.round}: model v${p.version}, validation ${validation(p.metrics)}`;
    case 'round:decided':
      return `round ${p.round}: ${p.decisions.filter((d) => d.passed).length}/${p.decisions.length} rules passed`;
    default:
      return [p.round !== undefined ? `round ${p.round}` : '', p.institution ?? '', p.reason ?? p.message ?? ''].filter(Boolean).join(': ');
  }
}
