/** Stats: run a federated stats query (admin) or read the last ones, with histograms and Kaplan-Meier curves (Chart.js). */
import { api, fedPath } from './api.js';
import { loadChart } from './chart.js';
import { fill, h, num, when } from './dom.js';

const COLOURS = ['#1f6feb', '#d1242f', '#2da44e', '#bf8700', '#8250df', '#cf222e', '#0a7ea4'];

const list = (text) =>
  text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The REST body from the form's fields. */
function requestFrom(form) {
  const v = (name) => form.querySelector(`[name=${name}]`).value.trim();
  const body = {};
  if (v('columns')) body.columns = list(v('columns'));
  if (v('label')) body.label = v('label');
  if (v('survival')) {
    const [time, event] = list(v('survival'));
    body.survival = {
      time,
      event,
      ...(v('group') ? { group: v('group') } : {}),
      ...(v('grid') ? { grid: list(v('grid')).map(Number) } : {}),
    };
  }
  if (v('epsilon')) body.epsilon = Number(v('epsilon'));
  if (form.querySelector('[name=secure]').checked) body.secure = true;
  return body;
}

/** One histogram per numeric column (bars over the agreed bins), one line chart of the survival curves with their bands. */
async function drawResult(box, stats) {
  const Chart = await loadChart();
  const charts = [];
  const numeric = Object.entries(stats.columns ?? {}).filter(([, r]) => r.kind === 'numeric');
  const notes = [
    `${Object.keys(stats.sites ?? {}).length} site(s) answered`,
    ...Object.entries(stats.refused ?? {}).map(([s, r]) => `${s} refused: ${r.code}`),
    ...(stats.secure ? [`secure aggregation: pooled counts only, withheld below k=${stats.secure.minCellSize}`] : []),
    ...Object.entries(stats.dp ?? {}).map(([s, d]) => `${s}: DP epsilon ${d.epsilon}, sigma ${num(d.sigma, 2)}`),
    ...(stats.notes ?? []),
  ];
  fill(box, h('ul', { class: 'muted small', 'data-testid': 'stats-notes' }, ...notes.map((n) => h('li', {}, n))));
  for (const [column, r] of numeric) {
    const canvas = h('canvas', { 'data-testid': 'stats-histogram', height: 70 });
    box.append(
      h('h4', {}, `${column}: n ${r.count}, missing ${r.missing}, mean ${num(r.mean, 2)}${r.incomplete ? ' (lacks withheld cells)' : ''}`),
      canvas,
    );
    const e = r.histogram.edges;
    charts.push(
      new Chart(canvas, {
        type: 'bar',
        data: {
          labels: r.histogram.counts.map((_, i) => `${e[i]}–${e[i + 1]}`),
          datasets: [{ label: column, data: r.histogram.counts, backgroundColor: '#1f6feb' }],
        },
        options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { title: { display: true, text: 'rows' } } } },
      }),
    );
  }
  if (stats.survival) {
    const s = stats.survival;
    const canvas = h('canvas', { 'data-testid': 'stats-survival', height: 90 });
    const lr = s.logRank ? `; log-rank chi-square ${num(s.logRank.chiSquare, 3)}, df ${s.logRank.df}, p ${num(s.logRank.pValue, 3)}` : '';
    box.append(h('h4', {}, `Kaplan-Meier: ${s.event} over ${s.time} (${s.band} bands)${lr}`), canvas);
    const datasets = s.curves.flatMap((c, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const at = (ys) => [{ x: 0, y: 1 }, ...c.times.map((t, j) => ({ x: t, y: ys[j] }))];
      /** One edge of the curve's confidence band: a thin dashed line in the curve's colour. */
      const edge = (label, ys) => ({
        label,
        data: at(ys),
        borderColor: colour,
        borderDash: [3, 3],
        borderWidth: 1,
        stepped: 'before',
        pointRadius: 0,
      });
      return [
        { label: c.group, data: at(c.survival), borderColor: colour, backgroundColor: colour, stepped: 'before', pointRadius: 0 },
        edge(`${c.group} lower`, c.lower),
        edge(`${c.group} upper`, c.upper),
      ];
    });
    charts.push(
      new Chart(canvas, {
        type: 'line',
        data: { datasets },
        options: {
          animation: false,
          plugins: { legend: { labels: { filter: (item) => !/ (lower|upper)$/.test(item.text) } } },
          scales: {
            x: { type: 'linear', title: { display: true, text: s.time } },
            y: { min: 0, max: 1, title: { display: true, text: 'survival' } },
          },
        },
      }),
    );
  }
  return () => charts.forEach((c) => c.destroy());
}

/**
 * Renders the Stats tab: the last queries (auditors and admins), and a form to run one (admins).
 * @example const stop = await render(section, ctx)
 */
export async function render(root, ctx) {
  const result = h('div', { class: 'card', 'data-testid': 'stats-result' });
  const recent = h('div', { class: 'card' });
  let destroy = () => undefined;
  const show = async (stats) => {
    destroy();
    destroy = await drawResult(result, stats);
  };
  const form = h(
    'form',
    { class: 'card', 'data-testid': 'stats-form' },
    h('h3', {}, 'Ask the sites'),
    h('p', { class: 'muted small' }, 'Each site applies its own minimum cell size and, if its consent says so, its own DP noise.'),
    ...[
      ['columns', 'columns (comma-separated; empty: all)'],
      ['label', 'label column'],
      ['survival', 'survival TIME,EVENT'],
      ['group', 'survival group column'],
      ['grid', 'survival grid t1,t2,…'],
      ['epsilon', 'DP epsilon (optional)'],
    ].map(([name, text]) => h('label', {}, text, ' ', h('input', { name }))),
    h('label', {}, h('input', { name: 'secure', type: 'checkbox' }), ' secure aggregation'),
    h('button', { type: 'submit' }, 'Run'),
    h('p', { class: 'error', role: 'alert' }),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    form.querySelector('.error').textContent = '';
    try {
      await show(await api(fedPath(ctx.federation, '/stats'), { method: 'POST', body: requestFrom(form) }));
      await drawRecent();
    } catch (err) {
      form.querySelector('.error').textContent = err.message;
    }
  });
  async function drawRecent() {
    const { queries } = await api(fedPath(ctx.federation, '/stats'));
    fill(
      recent,
      h('h3', {}, 'Last queries'),
      queries.length === 0
        ? h('p', { class: 'muted' }, 'No stats query since the coordinator started.')
        : h(
            'table',
            { class: 'table clickable', 'data-testid': 'stats-recent' },
            h('tr', {}, h('th', {}, 'when'), h('th', {}, 'who'), h('th', {}, 'asked')),
            ...queries.map((q) => {
              const tr = h('tr', {}, h('td', {}, when(q.at)), h('td', {}, q.actor), h('td', { class: 'small' }, JSON.stringify(q.request)));
              tr.addEventListener('click', () => void show(q.result));
              return tr;
            }),
          ),
    );
    if (queries[0] && !result.hasChildNodes()) await show(queries[0].result);
  }
  root.append(...(ctx.isAdmin ? [form] : []), recent, result);
  await drawRecent();
  document.body.dataset.ready = 'stats';
  return () => destroy();
}
