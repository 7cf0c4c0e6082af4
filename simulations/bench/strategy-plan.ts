/** What the strategy and robustness tables run: the strategies with their parameters, the attacks, the settings and the plan of federations. */
import { scaledUpdate, signFlip, type Attack } from '../simulate/byzantine.js';
import type { ConfigResult } from './convergence-run.js';

/** A strategy as the tables run it: its label, registry name and parameters. */
export interface StrategyChoice {
  label: string;
  name: string;
  params: Record<string, number | string>;
}

/** An attack by kind and factor: sign flip sends global − k·δ, scaled sends global + s·δ. */
export interface AttackChoice {
  kind: 'sign-flip' | 'scaled';
  factor: number;
}

export interface TableSettings {
  institutions: number;
  fraction: number;
  rounds: number;
  localEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Partitions of the strategy table; the robustness table runs on the first. */
  partitions: string[];
  strategies: StrategyChoice[];
  /** Labels (from `strategies`) that the robustness table runs. */
  robust: string[];
  attacks: AttackChoice[];
  /** Shares of the institutions that are Byzantine (the first ⌈share·n⌉ of them). */
  byzantineShares: number[];
  /** Keep at most this many training rows per institution (quick mode); none: every row. */
  rowsPerSite?: number;
  timeCapS: number;
  seed: number;
}

/** One federation of a table: a strategy on a partition, optionally with Byzantine sites. */
export interface TableRun {
  table: 'strategies' | 'robustness';
  partition: string;
  strategy: StrategyChoice;
  attack?: AttackChoice;
  byzantineShare?: number;
}

export interface TableRunResult {
  run: TableRun;
  byzantineSites: number;
  result: ConfigResult;
}

export interface TablesSummary {
  settings: TableSettings;
  /** How the federations ran: the real coordinator and agents, or the same maths in-process. */
  engine: 'federation' | 'direct';
  results: TableRunResult[];
  jobs: number;
  wallMs: number;
  command: string;
}

/**
 * The strategies and their parameters. The server learning rates of FedAdam, FedYogi and FedAdagrad (over {0.003, 0.01, 0.03,
 * 0.1}, tau 1e-3), FedAvgM's momentum ({0.5, 0.9}, server lr 1) and FedProx's mu ({0.01, 0.1, 1}) are each the best mean final
 * accuracy over the three partitions in a --direct sweep of these very tables (seed 0; docs/strategies.md "Strategies and Byzantine
 * robustness"). The trimmed fraction and Krum's f are set, not tuned: f = 3 is the most Krum allows with 10 updates a round
 * (n ≥ 2f + 3); trimmed mean drops 2 of 10 from each side.
 */
export const TABLE_STRATEGIES: StrategyChoice[] = [
  { label: 'FedAvg', name: 'fedavg', params: {} },
  { label: 'FedAvgM', name: 'fedavgm', params: { lr: 1, momentum: 0.9 } },
  { label: 'FedProx', name: 'fedprox', params: { mu: 0.01 } },
  { label: 'FedAdam', name: 'fedadam', params: { lr: 0.03, beta1: 0.9, beta2: 0.99, tau: 0.001 } },
  { label: 'FedYogi', name: 'fedyogi', params: { lr: 0.03, beta1: 0.9, beta2: 0.99, tau: 0.001 } },
  { label: 'FedAdagrad', name: 'fedadagrad', params: { lr: 0.01, beta1: 0, tau: 0.001 } },
  { label: 'median', name: 'median', params: {} },
  { label: 'trimmed mean', name: 'trimmed-mean', params: { beta: 0.2 } },
  { label: 'Krum', name: 'krum', params: { f: 3 } },
  { label: 'multi-Krum', name: 'multi-krum', params: { f: 3, m: 7 } },
];

/**
 * The full tables: 20 institutions with 100 training digits each, C = 0.5, 10 rounds of E = 1, B = 10, lr 0.1 (2NN),
 * 10% and 20% Byzantine: 50 federations, sized for a 2-core machine shared with other work.
 */
export const FULL_TABLES: TableSettings = {
  institutions: 20,
  fraction: 0.5,
  rounds: 10,
  localEpochs: 1,
  batchSize: 10,
  learningRate: 0.1,
  partitions: ['iid', 'dirichlet:0.1', 'shards:2'],
  strategies: TABLE_STRATEGIES,
  robust: ['FedAvg', 'median', 'trimmed mean', 'Krum', 'multi-Krum'],
  attacks: [
    { kind: 'sign-flip', factor: 4 },
    { kind: 'scaled', factor: 10 },
  ],
  byzantineShares: [0.1, 0.2],
  rowsPerSite: 100,
  timeCapS: 900,
  seed: 0,
};

/**
 * Quick mode, a smoke run and not a measurement: 5 institutions (all in every round; Krum with f = 1, the most 5 updates
 * allow), 20 digits each, 1 round; FedAvg, median and Krum on the three partitions, FedAvg and Krum against both attacks
 * with 1 of the 5 institutions Byzantine.
 */
export const QUICK_TABLES: TableSettings = {
  ...FULL_TABLES,
  institutions: 5,
  fraction: 1,
  rounds: 1,
  rowsPerSite: 20,
  strategies: TABLE_STRATEGIES.filter((c) => ['FedAvg', 'median', 'Krum'].includes(c.label)).map((c) =>
    c.name === 'krum' ? { ...c, params: { f: 1 } } : c,
  ),
  robust: ['FedAvg', 'Krum'],
  byzantineShares: [0.2],
  timeCapS: 60,
};

/** The attack's transform and its name in the tables. */
export function attackOf(a: AttackChoice): Attack {
  return a.kind === 'sign-flip' ? signFlip(a.factor) : scaledUpdate(a.factor);
}

/** How many of `institutions` are Byzantine at `share` (at least one when share > 0). */
export function byzantineCount(institutions: number, share: number): number {
  return share > 0 ? Math.max(1, Math.round(share * institutions)) : 0;
}

/**
 * Every federation of both tables, in a fixed order: the strategy table (partition by strategy), then the
 * robustness table (attack by share by robust strategy) on the first partition; its no-attack column is the strategy table's run.
 * @example tablePlan(FULL_TABLES).length // 3·10 + 2·2·5 = 50
 */
export function tablePlan(s: TableSettings): TableRun[] {
  const pick = (label: string): StrategyChoice => {
    const found = s.strategies.find((c) => c.label === label);
    if (!found) throw new Error(`robustness strategy "${label}" is not among the table's strategies`);
    return found;
  };
  const robustPartition = s.partitions[0] ?? 'iid';
  return [
    ...s.partitions.flatMap((partition) => s.strategies.map((strategy): TableRun => ({ table: 'strategies', partition, strategy }))),
    ...s.attacks.flatMap((attack) =>
      s.byzantineShares.flatMap((byzantineShare) =>
        s.robust.map((label): TableRun => ({
          table: 'robustness',
          partition: robustPartition,
          strategy: pick(label),
          attack,
          byzantineShare,
        })),
      ),
    ),
  ];
}

/** The run's name in progress lines. */
export function runLabel(r: TableRun): string {
  const attack = r.attack ? `, ${attackOf(r.attack).name} at ${Math.round((r.byzantineShare ?? 0) * 100)}%` : '';
  return `${r.partition} ${r.strategy.label}${attack}`;
}
