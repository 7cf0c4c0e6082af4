/** Audit: the hash-chained event log, searchable and paged, and a button that verifies the chain and says where it breaks. */
import { api, fedPath, rows } from './api.js';
import { fill, h, pager, when } from './dom.js';

const PAGE = 50;
const KINDS = [
  'federation.created',
  'policy.set',
  'policy.changed',
  'institution.enrolled',
  'agent.connected',
  'agent.disconnected',
  'connection.refused',
  'consent.presented',
  'consent.revoked',
  'round.opened',
  'round.blocked',
  'round.started',
  'update.accepted',
  'update.refused',
  'participant.declined',
  'participant.dropped',
  'round.aggregating',
  'round.evaluating',
  'evaluation.received',
  'policy.decision',
  'model.published',
  'round.withheld',
  'round.failed',
  'model.downloaded',
  'federation.completed',
  'token.created',
  'token.revoked',
];

/**
 * Renders the audit tab.
 * @example const stop = await render(section, ctx)
 */
export async function render(root, ctx) {
  const q = h('input', { type: 'search', placeholder: 'search kind, actor, subject, data…', 'data-testid': 'audit-search' });
  const kind = h(
    'select',
    { 'data-testid': 'audit-kind' },
    h('option', { value: '' }, 'all kinds'),
    KINDS.map((k) => h('option', { value: k }, k)),
  );
  const verdict = h('div', { class: 'verdict', 'data-testid': 'audit-verdict', role: 'status' });
  // Verifying reads every institution's entries: admins and auditors only (the API answers 403 to an institution).
  const verify = h('button', { 'data-testid': 'audit-verify', hidden: ctx.whoami?.role === 'institution' }, 'Verify the chain');
  const listBox = h('div', {});
  const form = h(
    'form',
    { class: 'toolbar', onsubmit: (e) => (e.preventDefault(), (offset = 0), void load()) },
    q,
    kind,
    h('button', { type: 'submit' }, 'Search'),
    h('span', { class: 'spacer' }),
    verify,
  );
  root.append(
    h(
      'div',
      { class: 'card' },
      h('h3', {}, 'Audit log'),
      h(
        'p',
        { class: 'muted small' },
        'Every entry is hashed together with the previous one and signed by the coordinator: editing, removing or reordering an entry breaks the chain.',
      ),
      form,
      verdict,
      listBox,
    ),
  );
  kind.addEventListener('change', () => ((offset = 0), void load()));

  let offset = 0;
  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset), order: 'desc' });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (kind.value) params.set('kind', kind.value);
    const { items, total } = rows(await api(fedPath(ctx.federation, `/audit?${params}`)), 'events');
    fill(
      listBox,
      h(
        'table',
        { class: 'table', 'data-testid': 'audit-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['#', 'Time', 'Kind', 'Actor', 'Subject', 'Data'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((e) =>
            h(
              'tr',
              {},
              h('td', {}, e.id ?? e.seq),
              h('td', {}, when(e.ts)),
              h('td', {}, h('code', {}, e.kind)),
              h('td', {}, e.actor),
              h('td', {}, e.subject ?? ''),
              h('td', { class: 'data' }, summary(e.data)),
            ),
          ),
        ),
      ),
      pager({ offset, limit: PAGE, total, onpage: (o) => ((offset = o), void load()), testid: 'audit-pager' }),
    );
  }

  verify.addEventListener('click', async () => {
    verify.disabled = true;
    fill(verdict, 'Verifying every entry…');
    verdict.dataset.ok = '';
    try {
      const v = await api(fedPath(ctx.federation, '/audit/verify'), { method: 'POST', body: {} });
      verdict.dataset.ok = String(Boolean(v.ok));
      fill(
        verdict,
        v.ok
          ? h('span', { class: 'ok' }, `✓ Chain OK — ${v.entries} entries verified (hashes, links and coordinator signatures).`)
          : h(
              'span',
              { class: 'bad' },
              `✗ Chain broken at entry #${v.brokenAt ?? '?'} (${v.entries} entries verified before it): ${v.reason ?? 'unknown reason'}`,
            ),
      );
    } catch (err) {
      verdict.dataset.ok = 'error';
      fill(verdict, h('span', { class: 'error' }, `Verification failed: ${err.message}`));
    } finally {
      verify.disabled = false;
    }
  });

  await load();
}

function summary(data) {
  if (data === undefined || data === null) return '';
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
