/** Models: every published version with its signed card and provenance (which institutions, which rounds, whose consent was withdrawn). */
import { api, ApiError, fedPath, rows } from './api.js';
import { fill, h, num, pager, short, validation, when } from './dom.js';
import { decisionsTable } from './rounds.js';

const PAGE = 20;

/**
 * Renders the models tab.
 * @example const stop = await render(section, ctx)
 */
export async function render(root, ctx) {
  const listBox = h('div', { class: 'card' });
  const cardBox = h('div', { class: 'card', 'data-testid': 'model-card', hidden: true });
  root.append(h('div', { class: 'split' }, listBox, cardBox));
  let models = [];
  let offset = 0;

  async function load() {
    models = rows(await api(fedPath(ctx.federation, '/models')), 'models').items.sort((a, b) => b.version - a.version);
    draw();
  }

  function draw() {
    const page = models.slice(offset, offset + PAGE);
    fill(
      listBox,
      h('h3', {}, 'Model versions'),
      h(
        'table',
        { class: 'table clickable', 'data-testid': 'models-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Version', 'Round', 'Parent', 'Digest', 'Published'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          page.map((m) =>
            h(
              'tr',
              { 'data-version': m.version, onclick: () => void open(m.version) },
              h('td', {}, `v${m.version}`),
              h('td', {}, m.round ?? 'initial'),
              h('td', {}, m.parentVersion != null ? `v${m.parentVersion}` : '–'),
              h('td', { class: 'mono' }, short(m.digest)),
              h('td', {}, when(m.createdAt)),
            ),
          ),
        ),
      ),
      pager({ offset, limit: PAGE, total: models.length, onpage: (o) => ((offset = o), draw()), testid: 'models-pager' }),
    );
  }

  async function open(version) {
    cardBox.hidden = false;
    fill(cardBox, h('p', { class: 'muted' }, `Loading v${version}…`));
    const [card, lineage] = await Promise.all([
      api(fedPath(ctx.federation, `/models/${version}/card`)).catch((err) =>
        err instanceof ApiError && err.status === 404 ? null : Promise.reject(err),
      ),
      api(fedPath(ctx.federation, `/models/${version}/lineage`)).catch(() => null),
    ]);
    fill(cardBox, ...cardView(version, card, lineage));
  }

  await load();
  const unfollow = ctx.live.follow((name) => {
    if (name === 'round:published') void load();
  });
  return unfollow;
}

function cardView(version, signed, lineage) {
  const card = signed?.card;
  if (!card)
    return [
      h('h3', {}, `Model v${version}`),
      h('p', { class: 'muted' }, "The initial model has no card: it was not trained on anyone's data."),
    ];
  return [
    h('h3', {}, `Model card — v${card.version}`, lineage?.flagged ? h('span', { class: 'chip chip-failed' }, 'flagged') : null),
    h(
      'dl',
      { class: 'facts' },
      fact('Study', `${card.study?.title ?? ''} — ${card.study?.purpose ?? ''}`),
      fact('Published', card.publishedAt),
      fact('Round', card.round),
      fact('Parent', card.parentVersion != null ? `v${card.parentVersion}` : '–'),
      fact('Architecture', `${card.model?.arch} (${card.model?.parameters?.toLocaleString()} parameters)`),
      fact('Strategy', card.strategy),
      fact('Digest', h('span', { class: 'mono', 'data-testid': 'card-digest' }, card.model?.digest)),
      fact('Rounds in lineage', card.roundsInLineage),
      fact('Fairness gap', num(card.fairnessGap)),
      fact('Privacy', card.privacy?.dp ? `DP, epsilon spent ${num(card.privacy.epsilonSpent, 3)}` : 'no differential privacy'),
      fact('Signed by', `${card.coordinator?.id} (${short(card.coordinator?.signPublicKey, 16)})`),
      fact('Card signature', h('span', { class: 'mono' }, short(signed.signature, 24))),
    ),
    h('h4', {}, 'Provenance: contributing institutions'),
    h(
      'table',
      { class: 'table', 'data-testid': 'contributors' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Institution', 'Samples', 'Rounds', 'Consent', 'Validation'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        (card.contributors ?? []).map((c) => {
          const site = (card.siteMetrics ?? []).find((m) => m.institution === c.institution);
          return h(
            'tr',
            {},
            h('td', {}, c.institution),
            h('td', {}, c.samples),
            h('td', {}, compactRounds(c.rounds)),
            h('td', { class: c.consent === 'in force' ? '' : 'bad' }, c.consent),
            h('td', {}, validation(site)),
          );
        }),
      ),
    ),
    lineage
      ? [
          h('h4', {}, 'Lineage'),
          h(
            'ol',
            { class: 'lineage', 'data-testid': 'lineage' },
            lineage.steps.map((s) =>
              h(
                'li',
                {},
                h('b', {}, `v${s.version}`),
                ' ',
                s.round === null
                  ? 'initial weights'
                  : `round ${s.round}: ${s.contributors.map((c) => c.institution).join(', ') || 'no contributors'}`,
              ),
            ),
          ),
          lineage.flags?.length
            ? h(
                'ul',
                { class: 'bad' },
                lineage.flags.map((f) => h('li', {}, f)),
              )
            : null,
        ]
      : null,
    h('h4', {}, 'Policy decisions'),
    decisionsTable(card.policy?.decisions ?? []),
  ];
}

const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? '–')];

/** [1,2,3,5,7,8] as "1–3, 5, 7–8". */
function compactRounds(list = []) {
  const out = [];
  for (let i = 0; i < list.length; i++) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    out.push(i === j ? `${list[i]}` : `${list[i]}–${list[j]}`);
    i = j;
  }
  return out.join(', ');
}
