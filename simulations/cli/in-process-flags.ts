/** `cohort simulate --in-process` and `--population`: the flags, what they refuse, and the run they start. */
import type { Command } from 'commander';
import type { PartitionScheme } from '../../node-agent/data/index.js';
import type { DatasetChoice } from '../simulate/dataset.js';
import type { InProcessSummary } from '../simulate/in-process-run.js';
import { int } from '../../protocol/cli/options.js';

/** Adds `--in-process`, `--population`, `--institutions-per-round` and `--institution-rows` (docs/performance-simulation.md). */
export function withInProcessFlags(cmd: Command): Command {
  return cmd
    .option(
      '--in-process',
      'run the rounds in this process (batched trainer, no coordinator, agents or sockets): fast, no consent, privacy or policy',
      false,
    )
    .option(
      '--population <n>',
      'with --in-process: a virtual population of N institutions that exist only while sampled',
      int(2, Number.MAX_SAFE_INTEGER),
    )
    .option('--institutions-per-round <k>', 'with --population: institutions sampled each round', int(1, 1_000_000))
    .option(
      '--institution-rows <r>',
      'with --population: rows each institution holds, drawn from the training rows (default 20)',
      int(1, 1_000_000),
    );
}

/** Flags the in-process path cannot honour, and why (each refused by name when given). */
const UNSUPPORTED: Record<string, string> = {
  dpNoise: 'differential privacy',
  dpClip: 'differential privacy',
  dpAdaptiveClip: 'adaptive clipping',
  secagg: 'secure aggregation',
  secaggThreshold: 'secure aggregation',
  secaggClip: 'secure aggregation',
  secaggThreatModel: 'secure aggregation',
  policy: 'the policy checks',
  revoke: 'consent revocation',
  byzantine: 'simulated attacks',
  maxUpdateNorm: 'the update-norm bound',
  fedbn: 'user models',
  centralized: 'the centralized baseline',
  workers: 'agents',
  roundTimeout: 'round deadlines',
  optimizer: 'local optimizers other than SGD',
  momentum: 'momentum',
  weightDecay: 'weight decay',
  classWeight: 'class weights',
  compress: 'update compression (the in-process path aggregates weights, never sealed uploads)',
  task: 'tasks other than classification',
  positive: 'binary tasks',
  missing: 'CSV options',
  ignoreColumns: 'CSV options',
  columns: 'CSV options',
  categorical: 'CSV options',
  minCategoryCount: 'CSV options',
};
const POPULATION_ONLY = ['population', 'institutionsPerRound', 'institutionRows'] as const;
const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The reason a simulate command line cannot run as asked, or undefined; population flags without --in-process included. */
export function inProcessRefusal(
  o: Record<string, unknown>,
  cmd: Command,
  dataset: DatasetChoice,
  partitionText: string,
): string | undefined {
  const given = (key: string): boolean => cmd.getOptionValueSource(key) === 'cli';
  const population = POPULATION_ONLY.filter(given);
  if (!o.inProcess)
    return population.length > 0
      ? `${flag(population[0] as string)} needs --in-process: the real federation registers and starts every institution, so its memory grows with the population`
      : undefined;
  const bad = Object.keys(UNSUPPORTED).find(given);
  if (bad) return `--in-process cannot honour ${flag(bad)} (${UNSUPPORTED[bad]}): run without --in-process for the real federation`;
  if (!['logreg', 'mlp', 'cnn'].includes(String(o.model)))
    return `--in-process trains the presets logreg, mlp and cnn, not --model ${String(o.model)}`;
  if (dataset.kind === 'images' || dataset.kind === 'dicom')
    return `--in-process does not stream or augment images: --dataset ${dataset.kind}: runs without --in-process`;
  if (dataset.kind === 'csv' && dataset.path.includes(','))
    return '--in-process takes one CSV file (several files are a natural partition)';
  if (partitionText.startsWith('column:')) return `--in-process cannot honour --partition ${partitionText} (a natural partition)`;
  if (given('strategy') && o.strategy === 'fedprox')
    return '--in-process cannot honour --strategy fedprox (the batched trainer has no proximal term)';
  if (o.population === undefined) return population.length > 0 ? `${flag(population[0] as string)} needs --population` : undefined;
  if (o.institutionsPerRound === undefined) return '--population needs --institutions-per-round';
  for (const key of ['institutions', 'fraction', 'minParticipants'])
    if (given(key)) return `${flag(key)} does not apply with --population (--institutions-per-round sets each round's institutions)`;
  if (partitionText !== 'iid') return `--population draws each institution's rows uniformly: --partition ${partitionText} is not supported`;
  return undefined;
}

/** What simulate parsed before deciding: the data, the partition, the strategy's parameters, the default run folder. */
export interface ParsedSimulate {
  dataset: DatasetChoice;
  partition: PartitionScheme;
  partitionText: string;
  strategyParams: Record<string, number | string>;
  /** The run folder when --out is absent. */
  out: string;
}

/**
 * Runs `simulate --in-process` when asked (true: done, the exit code set), refuses what it cannot honour (and the
 * population flags without it) by throwing, or returns false: the caller runs the real federation.
 * @example if (await inProcessIfAsked(o, cmd, parsed)) return;
 */
export async function inProcessIfAsked(o: Record<string, unknown>, cmd: Command, p: ParsedSimulate): Promise<boolean> {
  const refused = inProcessRefusal(o, cmd, p.dataset, p.partitionText);
  if (refused) throw new Error(refused);
  if (!o.inProcess) return false;
  const summary = await simulateInProcessFromFlags(o, p);
  process.exitCode = Number.isFinite(summary.final.loss) ? 0 : 1;
  return true;
}

/** Runs `simulate --in-process` from parsed flags (the caller checked inProcessRefusal first). */
async function simulateInProcessFromFlags(o: Record<string, unknown>, p: ParsedSimulate): Promise<InProcessSummary> {
  const { simulateInProcess } = await import('../simulate/in-process-run.js');
  const institutions = o.institutions as number;
  return simulateInProcess({
    dataset: p.dataset,
    model: o.model as 'logreg' | 'mlp' | 'cnn',
    institutions,
    partition: p.partition,
    partitionText: p.partitionText,
    fraction: o.fraction as number,
    // simulate's default minimum: half the institutions
    minParticipants: (o.minParticipants as number | undefined) ?? Math.min(institutions, Math.max(1, Math.ceil(institutions / 2))),
    rounds: o.rounds as number,
    localEpochs: o.localEpochs as number,
    batchSize: o.batchSize as number,
    learningRate: o.lr as number,
    seed: o.seed as number,
    backend: o.backend as 'auto',
    strategy: String(o.strategy),
    strategyParams: p.strategyParams,
    ...(o.population !== undefined
      ? {
          population: {
            size: o.population as number,
            perRound: o.institutionsPerRound as number,
            rows: (o.institutionRows as number | undefined) ?? 20,
          },
        }
      : {}),
    out: (o.out as string | undefined) ?? p.out,
  });
}
