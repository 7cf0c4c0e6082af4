/**
 * `npm run bench` section "privacy": what secure aggregation costs in round time, and what differential privacy costs
 * in accuracy, each against a baseline measured in the same run through the real coordinator and in-process agents.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dp } from '../../crypto/index.js';
import type { CustomTrainer } from '../../node-agent/index.js';
import { parsePartition, selectRows } from '../../node-agent/data/index.js';
import { selectBackend } from '../../node-agent/train/index.js';
import { prepareData, type Arch } from '../simulate/dataset.js';
import { runConfig, type ConfigResult } from './convergence-run.js';
import type { BenchContext, BenchResult, BenchRow, BenchSection } from './section.js';
import { fmtSpread, spread, spreadValues } from './stats.js';

/** No training: each site returns the global model plus a small seeded perturbation, so the round time is the protocol's. */
const perturb: CustomTrainer = async ({ weights, samples }) => ({
  weights: weights.map((t) => ({
    name: t.name,
    shape: t.shape,
    data: Float32Array.from(t.data, (v, i) => v + 1e-3 * Math.sin(i + samples)),
  })),
  metrics: { trainLoss: 0, trainAccuracy: 0, epochs: 0, durationMs: 0 },
  trainSamples: samples,
});

const DELTA = 1e-5;

/** The settings both parts run with; the quick mode shrinks them to seconds. */
function plan(quick: boolean) {
  return quick
    ? {
        sizes: [3, 5],
        arch: 'logreg' as Arch,
        overheadRounds: 3,
        dp: { institutions: 10, fraction: 0.5, rounds: 3, epsilons: [4], clip: 0.5 },
      }
    : {
        sizes: [10, 50, 100],
        arch: 'mlp' as Arch,
        overheadRounds: 4,
        dp: { institutions: 100, fraction: 0.1, rounds: 20, epsilons: [1, 4, 8], clip: 0.5 },
      };
}

export const privacySection: BenchSection = {
  id: 'privacy',
  title: 'Privacy: secure aggregation round time, and accuracy under differential privacy',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const p = plan(ctx.quick);
    const { tf } = await selectBackend('wasm', () => undefined);
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const workDir = join(tmpdir(), `cohort-bench-privacy-${process.pid}`);
    const say = (line: string) => ctx.log(`[privacy] ${line}`);

    // 1. Round time with secure aggregation over plain rounds, same sites, same model, no training.
    for (const n of p.sizes) {
      const data = prepareData({ kind: 'mnist' }, p.arch, n, parsePartition('iid'), 0);
      const testSet = selectRows(data.all, data.test.slice(0, 200));
      const times = async (rules: Record<string, unknown>, name: string): Promise<number[]> => {
        const config = { name, localEpochs: 1, batchSize: 10, learningRate: 0.1, roundCap: p.overheadRounds, timeCapS: 900 };
        const r: ConfigResult = await runConfig({
          tf,
          data,
          testSet,
          config,
          partition: 'iid',
          fraction: 1,
          target: undefined,
          seed: 0,
          workDir,
          say,
          rules: { joinGraceMs: 0, roundTimeoutMs: 1_800_000, ...rules },
          trainer: perturb,
        });
        if (r.stoppedBy === 'failed')
          notes.push(`${name}: the federation failed (see the progress log); its rounds are missing from the median.`);
        // Round 1 includes agents' start-up (backend load): leave it out.
        return r.curve.slice(1).map((c) => c.roundMs ?? Number.NaN);
      };
      const plain = spread(await times({}, `plain n=${n}`));
      const complete = spread(await times({ secagg: { graph: 'complete', clipNorm: 100, stepTimeoutMs: 300_000 } }, `secagg n=${n}`));
      const harary =
        n >= 10 ? spread(await times({ secagg: { graph: 'harary', clipNorm: 100, stepTimeoutMs: 300_000 } }, `secagg+ n=${n}`)) : undefined;
      const ratio = (s: typeof plain) => s.median / plain.median;
      rows.push({
        cells: [
          `secure aggregation, ${n} sites, ${p.arch}`,
          `plain ${fmtSpread(plain, 0)} ms`,
          `complete graph ${fmtSpread(complete, 0)} ms = **${ratio(complete).toFixed(2)}x**${harary ? `; SecAgg+ ${fmtSpread(harary, 0)} ms = **${ratio(harary).toFixed(2)}x**` : ''}`,
        ],
        values: {
          part: 'secagg',
          sites: n,
          ...spreadValues('plainMs', plain),
          ...spreadValues('completeMs', complete),
          completeRatio: ratio(complete),
          ...(harary ? { ...spreadValues('hararyMs', harary), hararyRatio: ratio(harary) } : {}),
        },
      });
    }
    notes.push(
      `Secure aggregation: median round time (tasks sent to publication, at the coordinator) over ${p.overheadRounds - 1} rounds after a warm-up round, sites in one process on ${p.arch === 'mlp' ? 'the 2NN (199,210 parameters)' : 'logistic regression'}; sites do no training (they return a perturbed model), so the ratio is the protocol's whole cost, not diluted by training. SecAgg+ uses a Harary graph of degree about 2 log2 n.`,
    );

    // 2. Accuracy after R rounds under DP-FedAvg at several epsilons, against no DP, same sites and seeds.
    const d = p.dp;
    const data = prepareData({ kind: 'mnist' }, 'logreg', d.institutions, parsePartition('iid'), 0);
    const testSet = selectRows(data.all, data.test);
    const config = { name: 'dp', localEpochs: 1, batchSize: 10, learningRate: 0.1, roundCap: d.rounds, timeCapS: 1200 };
    const final = async (rules: Record<string, unknown>, label: string) => {
      const r = await runConfig({
        tf,
        data,
        testSet,
        config: { ...config, name: label },
        partition: 'iid',
        fraction: d.fraction,
        target: undefined,
        seed: 0,
        workDir,
        say,
        rules,
      });
      return r.curve.at(-1)?.accuracy ?? Number.NaN;
    };
    const baseline = await final({}, 'no DP');
    rows.push({
      cells: [`DP-FedAvg, no DP`, `${d.rounds} rounds`, `accuracy **${(100 * baseline).toFixed(2)}%**`],
      values: { part: 'dp', epsilon: null, accuracy: baseline },
    });
    for (const epsilon of d.epsilons) {
      // The coordinator's accountant uses q = 1 (it selects the participants: no amplification by subsampling is claimed).
      const z = dp.noiseFor({ q: 1, steps: d.rounds, delta: DELTA, targetEpsilon: epsilon });
      const spent = dp.epsilonFor({ q: 1, noiseMultiplier: z, steps: d.rounds, delta: DELTA }).epsilon;
      const accuracy = await final({ dp: { noiseMultiplier: z, clipNorm: d.clip, delta: DELTA } }, `DP eps=${epsilon}`);
      rows.push({
        cells: [
          `DP-FedAvg, epsilon ${spent.toFixed(2)} (delta ${DELTA})`,
          `z = ${z.toFixed(3)}, C = ${d.clip}`,
          `accuracy **${(100 * accuracy).toFixed(2)}%** (${(accuracy / baseline).toFixed(3)} of no DP)`,
        ],
        values: { part: 'dp', epsilon: spent, noiseMultiplier: z, clipNorm: d.clip, accuracy, ratio: accuracy / baseline },
      });
    }
    notes.push(
      `DP: ${d.institutions} institutions (IID MNIST slices of the 8,000 training digits), fraction ${d.fraction} (${Math.round(d.fraction * d.institutions)} per round, selected by the coordinator, so accounted with q = 1), ${d.rounds} rounds, logistic regression, E = 1, B = 10, lr 0.1; central Gaussian noise of std z*C on the sum, z chosen by the RDP accountant for the target epsilon; accuracy on the 2,000 held-out digits after the last round.`,
    );
    return { title: privacySection.title, columns: ['what', 'baseline / settings', 'measured'], rows, notes };
  },
};
