/** The strategy and robustness tables as markdown, and their accuracy-per-round curves as one SVG. */
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from '../report/index.js';
import { attackOf, type StrategyChoice, type TableRunResult, type TablesSummary } from './strategy-plan.js';

/** `lr=0.01, tau=0.001`, or `–` for none. */
export function paramsText(c: StrategyChoice): string {
  const entries = Object.entries(c.params);
  return entries.length === 0 ? '–' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

/** Final test accuracy, flagged when the run stopped before its last round. */
export function accuracyCell(r: TableRunResult | undefined, rounds: number): string {
  if (!r) return '–';
  const last = r.result.curve.at(-1);
  if (!last) return `failed (${r.result.stoppedBy}, no round published)`;
  const acc = last.accuracy.toFixed(4);
  return r.result.roundsRun < rounds ? `${acc} (stopped at round ${r.result.roundsRun}: ${r.result.stoppedBy})` : acc;
}

const sharePct = (share: number | undefined): string => `${Math.round((share ?? 0) * 100)}%`;

/** Both tables and the facts needed to reproduce them. */
export function strategyTablesMarkdown(t: TablesSummary): string {
  const s = t.settings;
  const strategyRows = t.results.filter((r) => r.run.table === 'strategies');
  const find = (label: string, partition: string) =>
    strategyRows.find((r) => r.run.strategy.label === label && r.run.partition === partition);
  const head1 = ['strategy', 'parameters', ...s.partitions];
  const table1 = [
    `| ${head1.join(' | ')} |`,
    `|${head1.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...s.strategies.map(
      (c) => `| ${[c.label, paramsText(c), ...s.partitions.map((p) => accuracyCell(find(c.label, p), s.rounds))].join(' | ')} |`,
    ),
  ];

  const robustPartition = s.partitions[0] ?? 'iid';
  const columns = s.attacks.flatMap((attack) => s.byzantineShares.map((share) => ({ attack, share })));
  const attacked = t.results.filter((r) => r.run.table === 'robustness');
  const head2 = ['strategy', `no attack`, ...columns.map((c) => `${attackOf(c.attack).name}, ${sharePct(c.share)} Byzantine`)];
  const table2 = [
    `| ${head2.join(' | ')} |`,
    `|${head2.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...s.robust.map((label) => {
      const cells = columns.map((c) =>
        accuracyCell(
          attacked.find(
            (r) =>
              r.run.strategy.label === label &&
              r.run.attack?.kind === c.attack.kind &&
              r.run.attack.factor === c.attack.factor &&
              r.run.byzantineShare === c.share,
          ),
          s.rounds,
        ),
      );
      return `| ${[label, accuracyCell(find(label, robustPartition), s.rounds), ...cells].join(' | ')} |`;
    }),
  ];
  const perShare = s.byzantineShares.map((share) => {
    const runs = attacked.filter((r) => r.run.byzantineShare === share);
    const counts = runs.flatMap((r) => r.result.byzantinePerRound ?? []);
    const sites = runs[0]?.byzantineSites ?? 0;
    const mean = counts.length ? counts.reduce((a, b) => a + b, 0) / counts.length : 0;
    return `${sharePct(share)}: ${sites} of ${s.institutions} institutions, ${mean.toFixed(1)} Byzantine updates per round on average, at most ${counts.length ? Math.max(...counts) : 0}`;
  });
  const perRound = Math.max(1, Math.round(s.fraction * s.institutions));
  return [
    `# Strategies and Byzantine robustness (MNIST 2NN)`,
    '',
    `Final test accuracy (the global model after round ${s.rounds}, on the ${'held-out'} test digits) of every strategy, ${t.engine === 'direct' ? "computed in-process with the coordinator's strategies and the agents' trainer and attacks (--direct: no sockets, envelopes or database)" : `through the real coordinator and ${s.institutions} real agents`}.`,
    `${s.institutions} institutions, C = ${s.fraction} (${perRound} per round), ${s.rounds} rounds, local SGD E = ${s.localEpochs}, B = ${s.batchSize}, lr = ${s.learningRate}, seed ${s.seed}${s.rowsPerSite !== undefined ? `, at most ${s.rowsPerSite} training digits per institution (a seeded random subset of its share)` : ''}.`,
    '',
    ...table1,
    '',
    `## Byzantine institutions (${robustPartition})`,
    '',
    `The first institutions are Byzantine: their agents train honestly, then send global − k·δ (sign flip) or global + s·δ (scaled) instead of global + δ${t.engine === 'direct' ? '' : ', sealed and signed like any update'}.`,
    '',
    ...table2,
    '',
    `- Byzantine updates accepted: ${perShare.join('; ')}.`,
    `- Robust strategies need every update of a round at once; Krum and multi-Krum tolerate f = ${String(s.strategies.find((c) => c.name === 'krum')?.params.f ?? '?')} Byzantine updates among ${perRound} (n ≥ 2f + 3).`,
    `- Wall time ${(t.wallMs / 60_000).toFixed(1)} min in ${t.jobs} process(es). Command: \`${t.command}\``,
    '',
  ].join('\n');
}

/** The curve values of the SVG: one panel per partition (strategy table) and per attack column (robustness table). */
function curveValues(t: TablesSummary): { panel: string; strategy: string; round: number; accuracy: number }[] {
  return t.results.flatMap((r) => {
    const panel = r.run.attack ? `${attackOf(r.run.attack).name}, ${sharePct(r.run.byzantineShare)}` : r.run.partition;
    return r.result.curve.map((p) => ({ panel, strategy: r.run.strategy.label, round: p.round, accuracy: p.accuracy }));
  });
}

/**
 * Test accuracy per round, one panel per partition and per attack, one line per strategy.
 * @example writeFileSync('strategy-tables.svg', await strategyTablesSvg(summary))
 */
export async function strategyTablesSvg(t: TablesSummary): Promise<string> {
  const values = curveValues(t);
  const panels = [...new Set(values.map((v) => v.panel))];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `MNIST 2NN, ${t.settings.institutions} institutions, C = ${t.settings.fraction}: test accuracy per round`,
      fontSize: 15,
    },
    background: 'white',
    padding: 12,
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels },
    columns: 4,
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', point: { size: 10 } },
      encoding: {
        x: { field: 'round', type: 'quantitative', title: 'Round', axis: { format: 'd', tickMinStep: 1 } },
        y: { field: 'accuracy', type: 'quantitative', title: 'Test accuracy', scale: { domain: [0, 1] } },
        color: { field: 'strategy', type: 'nominal', sort: t.settings.strategies.map((c) => c.label), title: 'Strategy' },
      },
    },
  } as unknown as TopLevelSpec;
  return renderSvg(spec);
}
