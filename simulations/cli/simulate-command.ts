/** `cohort simulate`: a whole federation on this machine, with the real coordinator and real agents. */
import { Command } from 'commander';
import { parsePartition } from '../../node-agent/data/index.js';
import { parseDataset } from '../simulate/dataset.js';
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../../coordinator/policy/index.js';
import { createStrategy, parseStrategyParams, strategyNames } from '../../coordinator/strategies/index.js';
import { parseRevoke } from '../simulate/consents.js';
import { parseByzantine } from '../simulate/byzantine-sites.js';
import { imageOptionsFrom, withImageFlags } from '../../node-agent/cli/image-flags.js';
import { inProcessIfAsked, withInProcessFlags } from './in-process-flags.js';
import { fineTuningDefaults, fineTuningOptions, withModelFlags } from '../../protocol/cli/fine-tuning.js';
import {
  BACKENDS,
  TASKS,
  choice,
  collect,
  dpFromFlags,
  adaptiveFromFlags,
  secaggFromFlags,
  fraction,
  int,
  missingTokens,
  nameList,
  positive,
  trainingTermsFromFlags,
  unitInterval,
  withPrivacyFlags,
  withTaskFlags,
} from '../../protocol/cli/options.js';

export function simulateCommand(): Command {
  return withInProcessFlags(withModelFlags(withPrivacyFlags(withImageFlags(withTaskFlags(new Command('simulate')))), true))
    .description(
      'run a local federation: a real coordinator and real agents (one process each, or many per worker thread above 20 institutions), talking socket.io over loopback',
    )
    .option('--institutions <n>', 'number of institutions', int(1, 100_000), 5)
    .option('--rounds <r>', 'number of rounds', int(1, 100_000), 10)
    .option(
      '--dataset <name>',
      'mnist (10,000 digits) | mnist-full (60,000 training + 10,000 test digits) | idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS] (IDX files, raw or .gz) | csv:PATH | csv:A.csv,B.csv,... (one file per institution) | images:DIR (PNG/JPEG in class folders) | dicom:MANIFEST.csv',
      'mnist',
    )
    .option('--label <column>', 'the label column of a csv data set (several, comma-separated: multilabel labels or regression targets)')
    .option('--positive <value>', 'binary task: the label value that is the positive class (default: the second of the two values, sorted)')
    .option('--threshold <p>', 'binary and multilabel: the probability from which the final report counts a positive', unitInterval, 0.5)
    .option(
      '--partition <scheme>',
      'iid | dirichlet:ALPHA | shards:K | quantity:ALPHA | column:NAME (csv: one institution per value of that column; --institutions then follows the values)',
      'iid',
    )
    .option('--missing <tokens>', 'csv: comma-separated cell values that mean missing (an empty cell always does; default: NA,N/A,?,NaN)')
    .option('--ignore-columns <names>', 'csv: columns that are not features (ids, dates), comma-separated')
    .option('--columns <names>', 'csv: the feature columns to use, comma-separated (default: all but the label and the ignored ones)')
    .option('--categorical <names>', 'csv: columns to treat as categories even when their values are numbers (codes), comma-separated')
    .option('--min-category-count <n>', 'csv: categories seen fewer times across the institutions fall into "other"', int(1), 5)
    .option('--local-epochs <e>', 'local epochs per round', int(1, 1000), 2)
    .option('--batch-size <b>', 'local batch size', int(1, 1_000_000), 10)
    .option('--lr <x>', 'local SGD learning rate', positive, 0.05)
    .option(
      '--fraction <c>',
      'fraction of institutions selected per round (under DP it does not lower epsilon: selection is accounted with q = 1)',
      fraction,
      1,
    )
    .option('--min-participants <n>', 'fewest accepted updates for a round to publish (default: half the institutions)', int(1))
    .option('--round-timeout <seconds>', 'deadline of each training round', int(1), 600)
    .option('--seed <s>', 'seed of the split, the partition and the initial model', int(0, 2 ** 31), 0)
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu', choice(BACKENDS), 'auto')
    .option('--strategy <name>', `aggregation: ${strategyNames.join(' | ')}`, choice(strategyNames), 'fedavg')
    .option('--strategy-param <key=value>', 'strategy parameter, repeatable (e.g. lr=0.01, f=1, mu=0.1)', collect, [])
    .option('--policy <file>', 'policy file (JSON, format cohort-policy/v1); default: the default policy')
    .option(
      '--workers <n>',
      'worker threads hosting the agents, many per thread (0: one process per agent; default: one per core above 20 institutions, else 0)',
      int(0, 1024),
    )
    .option(
      '--revoke <institution@round>',
      'that institution revokes its consent as that round opens (repeatable), e.g. institution-2@4',
      collect,
      [],
    )
    .option(
      '--max-update-norm <norm>',
      "the study's bound on each update's L2 distance from the global model (default: 10 times the last round's median update norm, sqrt(parameters) in round 1)",
      positive,
    )
    .option(
      '--byzantine <attack:count>',
      'simulations of attacks: COUNT sites (the last institutions) send ATTACK instead of their update: sign-flip[=k] | scale=S | noise=STD | constant=V (repeatable), e.g. constant=1e30:1',
      collect,
      [],
    )
    .option('--centralized', 'also train the same model on the pooled training rows, as a baseline', false)
    .option('--out <dir>', 'run folder (default: runs/<timestamp>)')
    .action(async (flags: Record<string, unknown>, cmd: Command) => {
      const o = fineTuningDefaults(flags, cmd);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
      const partitionText = String(o.partition);
      const dataset = parseDataset(String(o.dataset), o.label as string | undefined, imageOptionsFrom(o));
      const natural = partitionText.startsWith('column:')
        ? { kind: 'column' as const, column: partitionText.slice(7) }
        : dataset.kind === 'csv' && dataset.path.includes(',')
          ? { kind: 'files' as const }
          : undefined;
      if (natural?.kind === 'column' && natural.column === '') throw new Error('--partition column:NAME needs the column name');
      const partition = natural?.kind === 'column' ? { kind: 'iid' as const } : parsePartition(partitionText);
      const tabular = {
        ...(o.missing !== undefined ? { missing: missingTokens(o.missing) } : {}),
        ...(o.ignoreColumns !== undefined ? { ignore: nameList(o.ignoreColumns) } : {}),
        ...(o.columns !== undefined ? { columns: nameList(o.columns) } : {}),
        ...(o.categorical !== undefined ? { categorical: nameList(o.categorical) } : {}),
        minCategoryCount: o.minCategoryCount as number,
      };
      const [institutions, minParticipants] = [o.institutions as number, o.minParticipants as number | undefined];
      if (minParticipants !== undefined && minParticipants > institutions) {
        throw new Error(`--min-participants ${minParticipants} is more than the ${institutions} institutions: no round could ever publish`);
      }
      const strategyParams = parseStrategyParams(o.strategyParam as string[]);
      createStrategy(String(o.strategy), strategyParams); // refuses unknown or invalid parameters before anything starts
      if (await inProcessIfAsked(o, cmd, { dataset, partition, partitionText, strategyParams, out: `runs/${stamp}` })) return;
      const policy = o.policy ? parsePolicy(JSON.parse(readFileSync(String(o.policy), 'utf8'))) : undefined;
      const revoke = (o.revoke as string[]).map(parseRevoke);
      const byzantine = (o.byzantine as string[]).map(parseByzantine);
      const dp = dpFromFlags(o);
      const secagg = secaggFromFlags(o);
      const adaptiveClip = adaptiveFromFlags(o);
      const training = trainingTermsFromFlags(o);
      // Loaded only now, so `--help` and flag errors answer without loading TensorFlow.js.
      const { simulate } = await import('../simulate/run.js');
      const summary = await simulate({
        institutions,
        rounds: o.rounds as number,
        dataset,
        partition,
        partitionText: natural?.kind === 'files' ? 'one file per institution' : partitionText,
        ...(natural ? { natural } : {}),
        ...(dataset.kind === 'csv' ? { tabular } : {}),
        model: o.model as string,
        ...(o.fedbn ? { fedbn: true } : {}),
        ...fineTuningOptions(o, (text) => parseDataset(text, o.label as string | undefined, imageOptionsFrom(o))),
        localEpochs: o.localEpochs as number,
        batchSize: o.batchSize as number,
        learningRate: o.lr as number,
        fraction: o.fraction as number,
        minParticipants,
        roundTimeoutMs: (o.roundTimeout as number) * 1000,
        seed: o.seed as number,
        backend: o.backend as (typeof BACKENDS)[number],
        centralized: Boolean(o.centralized),
        strategy: String(o.strategy),
        strategyParams,
        policy,
        revoke,
        byzantine,
        ...(o.maxUpdateNorm !== undefined ? { maxUpdateNorm: o.maxUpdateNorm as number } : {}),
        dp,
        secagg,
        adaptiveClip,
        workers: o.workers as number | undefined,
        ...(o.task !== undefined ? { task: o.task as (typeof TASKS)[number] } : {}),
        ...(o.positive !== undefined ? { positive: String(o.positive) } : {}),
        threshold: o.threshold as number,
        training,
        out: (o.out as string | undefined) ?? `runs/${stamp}`,
      });
      process.exitCode = Number.isFinite(summary.final.loss) ? 0 : 1;
    });
}
