/**
 * `npm run bench` section "compression": upload bytes per round and final accuracy of each update compression
 * (none, fp16, int8, topk:0.1) on the 2NN and the CNN, through the real coordinator and in-process agents, same sites
 * and seeds for every mode.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePartition, selectRows } from '../../node-agent/data/index.js';
import { selectBackend } from '../../node-agent/train/index.js';
import { prepareData, type Arch } from '../simulate/dataset.js';
import { runConfig } from './convergence-run.js';
import type { BenchContext, BenchResult, BenchRow, BenchSection } from './section.js';

const MODES = ['none', 'fp16', 'int8', 'topk:0.1'] as const;
const LABEL: Record<'mlp' | 'cnn', string> = { mlp: '2NN', cnn: 'CNN' };

/** Per model: institutions (the 8,000 training digits split IID), the fraction selected per round, rounds, learning rate. */
function plan(quick: boolean) {
  return quick
    ? [
        { arch: 'mlp' as Arch, institutions: 40, fraction: 0.05, rounds: 2, lr: 0.05 },
        { arch: 'cnn' as Arch, institutions: 80, fraction: 0.025, rounds: 1, lr: 0.05 },
      ]
    : [
        { arch: 'mlp' as Arch, institutions: 10, fraction: 0.5, rounds: 5, lr: 0.05 },
        { arch: 'cnn' as Arch, institutions: 20, fraction: 0.1, rounds: 3, lr: 0.05 },
      ];
}

export const compressionSection: BenchSection = {
  id: 'compression',
  title: 'Compression: upload bytes per round and final accuracy of each --compress mode',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const { tf } = await selectBackend('wasm', () => undefined);
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const workDir = join(tmpdir(), `cohort-bench-compression-${process.pid}`);
    const say = (line: string) => ctx.log(`[compression] ${line}`);
    const goals: string[] = [];
    for (const p of plan(ctx.quick)) {
      const data = prepareData({ kind: 'mnist' }, p.arch, p.institutions, parsePartition('iid'), 0);
      const testSet = selectRows(data.all, data.test);
      const results = new Map<string, { accuracy: number; bytes: number }>();
      for (const compress of MODES) {
        const r = await runConfig({
          tf,
          data,
          testSet,
          config: { name: `${p.arch} ${compress}`, localEpochs: 1, batchSize: 10, learningRate: p.lr, roundCap: p.rounds, timeCapS: 1800 },
          partition: 'iid',
          fraction: p.fraction,
          target: undefined,
          seed: 0,
          workDir,
          say,
          rules: { train: { localEpochs: 1, batchSize: 10, learningRate: p.lr, ...(compress === 'none' ? {} : { compress }) } },
        });
        if (r.stoppedBy === 'failed' || r.curve.length === 0) throw new Error(`${p.arch} ${compress}: the federation failed`);
        const bytes = r.curve.reduce((n, c) => n + (c.uploadBytes ?? 0), 0) / r.curve.length;
        results.set(compress, { accuracy: r.curve.at(-1)!.accuracy, bytes });
      }
      const none = results.get('none')!;
      for (const compress of MODES) {
        const { accuracy, bytes } = results.get(compress)!;
        const points = 100 * (accuracy - none.accuracy);
        rows.push({
          cells: [
            `${LABEL[p.arch as 'mlp' | 'cnn']}, ${compress}`,
            `${(bytes / 1e6).toFixed(3)} MB (${(bytes / none.bytes).toFixed(3)} of none)`,
            `${(100 * accuracy).toFixed(2)}%${compress === 'none' ? '' : ` (${points >= 0 ? '+' : ''}${points.toFixed(2)} points)`}`,
          ],
          values: { model: p.arch, compress, uploadBytesPerRound: bytes, bytesRatio: bytes / none.bytes, accuracy, pointsVsNone: points },
        });
      }
      const int8 = results.get('int8')!;
      const met = Math.abs(100 * (int8.accuracy - none.accuracy)) <= 0.5 && int8.bytes / none.bytes <= 0.26;
      goals.push(
        `${LABEL[p.arch as 'mlp' | 'cnn']} ${met ? 'met' : 'missed'} (${(int8.bytes / none.bytes).toFixed(3)} of the bytes, ${(100 * (int8.accuracy - none.accuracy)).toFixed(2)} points)`,
      );
      notes.push(
        `${LABEL[p.arch as 'mlp' | 'cnn']}: ${p.institutions} institutions (IID slices of the 8,000 training digits), ${Math.round(p.fraction * p.institutions)} per round, ${p.rounds} rounds, E = 1, B = 10, lr ${p.lr}, seed 0 for every mode; accuracy of the last round's global model on the 2,000 held-out digits; bytes: the sealed envelopes the sites sent per round (mean over rounds).`,
      );
    }
    notes.push(`Target int8 within 0.5 points of none at a quarter of the bytes (<= 0.26 with the envelope): ${goals.join('; ')}.`);
    notes.push(
      'One run per mode: the accuracy differences carry the run-to-run noise of a few rounds (int8 and top-k draw the same training as none; only what is sent differs).',
    );
    return { title: compressionSection.title, columns: ['model, --compress', 'upload per round', 'final accuracy'], rows, notes };
  },
};
