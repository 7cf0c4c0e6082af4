/** Rounds: accuracy and loss per round (Chart.js), and each round's participations, local metrics and policy decision. */
import { api, fedPath, rows } from './api.js';
import { loadChart } from './chart.js';
import { chip, fill, h, num, pager, pct, validation, when } from './dom.js';

const PAGE = 20;
const CHART_PAGE = 200;

/** Every round's metrics, for the chart, read in pages. */
async function allRounds(federation) {
  const out = [];
  for (let offset = 0; ; offset += CHART_PAGE) {
    const { items, total } = rows(await api(fedPath(federation, `/rounds?limit=${CHART_PAGE}&offset=${offset}`)), 'rounds');
    out.push(...items);
    if (items.length < CHART_PAGE || out.length >= total) break;
  }
  const byRound = new Map(out.map((r) => [r.round, r]));
  return [...byRound.values()].sort((a, b) => a.round - b.round);
}

/**
 * Renders the rounds tab; live publications refresh it.
 * @example const stop = await render(section, ctx)
 */
export async function render(root, ctx) {
  const canvas = h('canvas', { 'data-testid': 'rounds-chart', height: 90 });
  const tableBox = h('div', { class: 'card' });
  const detail = h('div', { class: 'card', 'data-testid': 'round-detail', hidden: true });
  root.append(
    h(
      'div',
      { class: 'card' },
      h('h3', {}, 'Accuracy and loss per round'),
      h('p', { class: 'muted small' }, 'Sample-weighted means of what the participants reported on their own data.'),
      canvas,
    ),
    tableBox,
    detail,
  );

  let chart;
  let offset = 0;
  let total = 0;
  let rounds = [];

  async function drawChart() {
    const [Chart, all] = await Promise.all([loadChart(), allRounds(ctx.federation)]);
    total = all.length;
    rounds = all;
    const closed = all.filter((r) => r.metrics);
    /** One metric's line over the closed rounds: solid for validation, dashed for train. */
    const line = (label, key, axis, colour, dashed = false) => ({
      label,
      data: closed.map((r) => r.metrics[key] ?? null),
      yAxisID: axis,
      borderColor: colour,
      backgroundColor: colour,
      ...(dashed ? { borderDash: [4, 3] } : {}),
      tension: 0.2,
    });
    const data = {
      labels: closed.map((r) => r.round),
      datasets: [
        line('validation accuracy', 'valAccuracy', 'acc', '#1f6feb'),
        line('train accuracy', 'trainAccuracy', 'acc', '#8cb4f5', true),
        line('validation loss', 'valLoss', 'loss', '#d1242f'),
        line('train loss', 'trainLoss', 'loss', '#f0a0a6', true),
      ],
    };
    if (chart) {
      chart.data = data;
      chart.update('none');
    } else {
      chart = new Chart(canvas, {
        type: 'line',
        data,
        options: {
          animation: false,
          elements: { point: { radius: closed.length > 40 ? 0 : 3 } },
          interaction: { mode: 'index', intersect: false },
          scales: {
            x: { title: { display: true, text: 'round' } },
            acc: { position: 'left', min: 0, max: 1, title: { display: true, text: 'accuracy' } },
            loss: { position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'loss' } },
          },
        },
      });
    }
  }

  function drawTable() {
    const newestFirst = [...rounds].reverse().slice(offset, offset + PAGE);
    fill(
      tableBox,
      h('h3', {}, 'Rounds'),
      h(
        'table',
        { class: 'table clickable', 'data-testid': 'rounds-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Round', 'State', 'Participants', 'Samples', 'Validation', 'Train loss', 'Policy', 'Model', 'Closed'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          newestFirst.map((r) => {
            const d = r.decisions ?? [];
            const passed = d.filter((x) => x.passed).length;
            return h(
              'tr',
              { 'data-round': r.round, onclick: () => showRound(r.round) },
              h('td', {}, r.round),
              h('td', {}, chip(r.state)),
              h('td', {}, r.metrics?.participants ?? r.selected?.length ?? '–'),
              h('td', {}, r.metrics?.samples ?? '–'),
              h('td', {}, validation(r.metrics)),
              h('td', {}, num(r.metrics?.trainLoss)),
              h('td', { class: passed === d.length ? 'ok' : 'bad' }, d.length ? `${passed}/${d.length} rules passed` : '–'),
              h('td', {}, r.resultVersion != null ? `v${r.resultVersion}` : '–'),
              h('td', {}, when(r.closedAt)),
            );
          }),
        ),
      ),
      pager({ offset, limit: PAGE, total, onpage: (o) => ((offset = o), drawTable()), testid: 'rounds-pager' }),
    );
  }

  function showRound(n) {
    const r = rounds.find((x) => x.round === n);
    if (!r) return;
    detail.hidden = false;
    fill(detail, ...roundDetail(r));
    detail.scrollIntoView({ block: 'nearest' });
  }

  await drawChart();
  drawTable();
  const unfollow = ctx.live.follow((name) => {
    if (['round:published', 'round:withheld', 'round:failed', 'round:started'].includes(name)) void drawChart().then(drawTable);
  });
  return () => {
    unfollow();
    chart?.destroy();
  };
}

function roundDetail(r) {
  const parts = r.participations ?? [];
  const decisions = r.decisions ?? [];
  return [
    h('h3', {}, `Round ${r.round} `, chip(r.state)),
    r.reason ? h('p', { class: 'muted' }, r.reason) : null,
    h('h4', {}, 'Participation and local metrics'),
    parts.length
      ? h(
          'table',
          { class: 'table', 'data-testid': 'participations' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Institution', 'Status', 'Samples', 'Train loss', 'Train acc.', 'Val. loss', 'Val. acc.', 'Epochs', 'Time', 'Note'].map(
                (t) => h('th', {}, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            parts.map((p) =>
              h(
                'tr',
                {},
                h('td', {}, p.institutionId ?? p.institution),
                h('td', {}, chip(p.status)),
                h('td', {}, p.samples ?? '–'),
                h('td', {}, num(p.metrics?.trainLoss)),
                h('td', {}, pct(p.metrics?.trainAccuracy)),
                h('td', {}, num(p.metrics?.valLoss)),
                h('td', {}, pct(p.metrics?.valAccuracy)),
                h('td', {}, p.metrics?.epochs ?? '–'),
                h('td', {}, p.metrics ? `${(p.metrics.durationMs / 1000).toFixed(1)} s` : '–'),
                h('td', { class: 'muted' }, p.code ? `${p.code}: ${p.message ?? ''}` : ''),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No participations recorded.'),
    h('h4', {}, 'Policy decision'),
    decisions.length ? decisionsTable(decisions) : h('p', { class: 'muted' }, 'No decision recorded (the round did not reach the policy).'),
  ];
}

/**
 * Each rule with its stage, whether it passed, the measured value and the limit.
 * @example decisionsTable(round.decisions)
 */
export function decisionsTable(decisions) {
  return h(
    'table',
    { class: 'table', 'data-testid': 'decisions' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Stage', 'Rule', 'Result', 'Value', 'Limit', 'Why'].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      decisions.map((d) =>
        h(
          'tr',
          {},
          h('td', {}, d.stage),
          h('td', {}, d.rule),
          h('td', { class: d.passed ? 'ok' : 'bad' }, d.passed ? '✓ passed' : '✗ failed'),
          h('td', {}, String(d.value ?? '–')),
          h('td', {}, String(d.limit ?? '–')),
          h('td', { class: 'muted' }, d.message),
        ),
      ),
    ),
  );
}
