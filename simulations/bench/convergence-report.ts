/** The convergence benchmark's outputs: a table laid out like McMahan et al. 2017's Table 2, and accuracy-vs-rounds curves. */
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from '../report/index.js';
import type { BenchConfig, ConfigResult } from './convergence-run.js';

export interface BenchSummary {
  target: number | undefined;
  baseline: { accuracy: number; epochs: number; batchSize: number; learningRate: number } | undefined;
  /** The data set as `--dataset` spells it, and its test rows. */
  dataset: string;
  testRows: number;
  engine: 'federation' | 'direct';
  institutions: number;
  fraction: number;
  meanRows: number;
  partitions: string[];
  configs: BenchConfig[];
  /** Partitions run side by side in this many processes. */
  jobs: number;
  results: ConfigResult[];
  wallMs: number;
  command: string;
}

/** Updates per round u = E·n/B (B = ∞: E). */
export function updatesPerRound(c: BenchConfig, meanRows: number): number {
  return c.localEpochs * Math.max(1, meanRows / Math.min(c.batchSize, meanRows));
}

/** The data set's name for titles: the IDX training images' file name, or mnist / mnist-full. */
const dataName = (dataset: string): string =>
  dataset.startsWith('idx:') ? ((dataset.slice(4).split(',')[0] ?? dataset).split(/[\\/]/).pop() ?? dataset) : dataset;
const fmtB = (b: number): string => (b >= 1_000_000 ? '∞' : String(b));
const fmtU = (u: number): string => (Number.isInteger(u) ? String(u) : u.toFixed(1));

/** "412", or "> 300 (round cap)" / "> 57 (time cap)" when the target was not reached. */
export function roundsCell(r: ConfigResult | undefined): string {
  if (!r) return '–';
  if (r.roundsToTarget !== null) return String(r.roundsToTarget);
  const why = r.stoppedBy === 'time-cap' ? 'time cap' : r.stoppedBy === 'failed' ? 'failed' : 'round cap';
  return `> ${r.roundsRun} (${why})`;
}

/** The speed-up of `r` over the FedSGD run `sgd`: exact, a lower bound (FedSGD capped), an upper bound (r capped), or n/a. */
export function speedup(
  r: ConfigResult | undefined,
  sgd: ConfigResult | undefined,
): { text: string; value: number | null; bound: 'exact' | 'lower' | 'upper' | 'none' } {
  if (!r || !sgd || r === sgd) return { text: '', value: null, bound: 'none' };
  const a = r.roundsToTarget;
  const s = sgd.roundsToTarget;
  if (a !== null && s !== null) return { text: `${(s / a).toFixed(1)}×`, value: s / a, bound: 'exact' };
  if (a !== null && s === null) return { text: `≥ ${(sgd.roundsRun / a).toFixed(1)}×`, value: sgd.roundsRun / a, bound: 'lower' };
  if (a === null && s !== null && r.roundsRun > 0)
    return { text: `≤ ${(s / r.roundsRun).toFixed(1)}×`, value: s / r.roundsRun, bound: 'upper' };
  return { text: 'n/a', value: null, bound: 'none' };
}

/** The markdown report: the table, then the facts a reader needs to reproduce it. */
export function convergenceMarkdown(s: BenchSummary): string {
  const find = (c: BenchConfig, p: string): ConfigResult | undefined =>
    s.results.find((r) => r.config.name === c.name && r.partition === p);
  const sgdConfig = s.configs.find((c) => c.name.startsWith('FedSGD'));
  const head = ['2NN', 'E', 'B', 'u', 'lr', ...s.partitions.flatMap((p) => [`${p}: rounds`, `${p}: best acc.`])];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...s.configs.map((c) => {
      const cells = s.partitions.flatMap((p) => {
        const r = find(c, p);
        const sp = sgdConfig ? speedup(r, find(sgdConfig, p)) : { text: '' };
        return [`${roundsCell(r)}${sp.text ? ` (${sp.text})` : ''}`, r ? `${r.bestAccuracy.toFixed(4)} @ ${r.bestRound}` : '–'];
      });
      const algo = c.name.startsWith('FedSGD') ? 'FedSGD' : 'FedAvg';
      return `| ${[algo, c.localEpochs, fmtB(c.batchSize), fmtU(updatesPerRound(c, s.meanRows)), c.learningRate, ...cells].join(' | ')} |`;
    }),
  ];
  const capped = s.results.filter((r) => r.roundsToTarget === null);
  const target = s.target === undefined ? 'none (quick mode)' : `${(s.target * 100).toFixed(1)}%`;
  const baseline = s.baseline
    ? `${(s.baseline.accuracy * 100).toFixed(2)}% (the same 2NN on all the training digits pooled, ${s.baseline.epochs} epochs of SGD, B=${s.baseline.batchSize}, lr=${s.baseline.learningRate})`
    : 'not measured';
  return [
    `# FedSGD vs FedAvg: rounds to ${target} test accuracy (2NN, ${dataName(s.dataset)})`,
    '',
    `Rounds of communication for the global model to reach the target accuracy on the ${s.testRows} held-out test digits, and in parentheses the speed-up over FedSGD (McMahan et al. 2017, Table 2 layout).`,
    s.engine === 'direct'
      ? "Computed in-process (--direct): the coordinator's selection, initial weights and FedAvg, the agents' trainer, with no sockets, envelopes or database; the same numbers as the federation, round by round."
      : `Through the real coordinator and ${s.institutions} real agents (in one process) over loopback.`,
    `Data set ${s.dataset}; ${s.institutions} institutions, C = ${s.fraction} (${Math.round(s.fraction * s.institutions)} per round), n = ${fmtU(s.meanRows)} rows per institution on average, u = E·n/B updates per round.`,
    '',
    ...lines,
    '',
    `- Target: ${target}; centralized baseline ${baseline}; target = baseline − 2 points, rounded down to 0.5%, unless set with --target.`,
    `- Caps per configuration and partition (rounds / wall time): ${s.configs.map((c) => `${c.name} ${c.roundCap} / ${c.timeCapS} s`).join(', ')}; ${s.jobs > 1 ? `the ${s.partitions.length} partitions ran side by side, one process each` : 'one process'}. ` +
      (capped.length === 0
        ? 'No cap was hit.'
        : `Cap hit by: ${capped.map((r) => `${r.partition} ${r.config.name} (${r.roundsRun} rounds, ${r.stoppedBy})`).join('; ')}; where FedSGD hit a cap the speed-ups are lower bounds (≥), where FedAvg did, upper bounds (≤).`),
    `- Learning rates: ${s.configs.map((c) => `${c.name} ${c.learningRate}`).join(', ')} (from a small sweep, not the paper's full grid per configuration; the sweep is described beside PAPER_CONFIGS and SMALL_CONFIGS in simulations/bench/convergence-bench.ts); seeds fixed.`,
    `- Wall time ${(s.wallMs / 60_000).toFixed(1)} min. Command: \`${s.command}\``,
    '',
  ].join('\n');
}

/**
 * Accuracy against rounds (log x), one line per configuration, one panel per partition, the target as a dashed rule.
 * @example writeFileSync('convergence.svg', await convergenceSvg(summary))
 */
export async function convergenceSvg(s: BenchSummary): Promise<string> {
  const values = s.results.flatMap((r) =>
    r.curve.map((p) => ({ partition: r.partition, configuration: r.config.name, round: p.round, accuracy: p.accuracy })),
  );
  const floor = Math.max(0, Math.min(0.9, Math.floor((Math.min(1, ...values.map((v) => v.accuracy)) - 0.02) * 20) / 20));
  const target = s.target;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `2NN on ${dataName(s.dataset)}, ${s.institutions} institutions, C = ${s.fraction}: test accuracy per round`,
      fontSize: 15,
    },
    background: 'white',
    padding: 12,
    data: { values },
    facet: { column: { field: 'partition', type: 'nominal', title: null, sort: s.partitions } },
    spec: {
      width: 380,
      height: 280,
      layer: [
        {
          mark: { type: 'line', point: { size: 12 } },
          encoding: {
            x: { field: 'round', type: 'quantitative', title: 'Round (log scale)', scale: { type: 'log' } },
            y: { field: 'accuracy', type: 'quantitative', title: 'Test accuracy', scale: { domain: [floor, 1], zero: false, clamp: true } },
            color: { field: 'configuration', type: 'nominal', sort: s.configs.map((c) => c.name), title: 'Configuration' },
          },
        },
        ...(target !== undefined
          ? [{ mark: { type: 'rule', strokeDash: [6, 4], color: '#555555' }, encoding: { y: { datum: target } } }]
          : []),
      ],
    },
  } as unknown as TopLevelSpec;
  return renderSvg(spec);
}
