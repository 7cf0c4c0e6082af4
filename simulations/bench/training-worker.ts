/** One backend's local-training throughput (2NN and CNN) in its own process, since tfjs has one global backend (child of training-bench). */
import { pathToFileURL } from 'node:url';
import { initialWeights } from '../../coordinator/models/init.js';
import { createPrng } from '../../crypto/prng.js';
import { loadMnist, mnistSpec } from '../../node-agent/data/index.js';
import { buildModel, selectBackend, setNamedWeights, type BackendName } from '../../node-agent/train/index.js';

export type TrainingModel = 'mlp' | 'cnn';

/** How long to train one model: at most `maxBatches` timed batches, stopping early once `capMs` have passed (at least one batch). */
export interface TrainingPlan {
  model: TrainingModel;
  batchSize: number;
  warmupBatches: number;
  maxBatches: number;
  capMs: number;
}

export interface TrainingResult {
  backend: BackendName;
  model: TrainingModel;
  params: number;
  batchSize: number;
  /** Samples in the timed batches (warm-up excluded). */
  samples: number;
  ms: number;
  samplesPerSec: number;
  /** Samples per second of this process's CPU time (user + system): less sensitive than wall time to other load on the machine. */
  samplesPerCpuSec: number;
  /** Mean cross-entropy of the first and the last timed batch, to show the work is real training. */
  firstLoss: number;
  lastLoss: number;
  /** 'simd', 'simd+threads' or 'plain' for wasm; null elsewhere. */
  wasmFlavour: string | null;
}

/**
 * Trains each planned model on real MNIST digits with SGD (lr 0.05) and categorical cross-entropy, batch by batch
 * through `model.trainOnBatch` as trainLocal does, and times the batches after the warm-up.
 * @example const results = await measureTraining('wasm', [{ model: 'cnn', batchSize: 10, warmupBatches: 2, maxBatches: 30, capMs: 5000 }]);
 */
export async function measureTraining(backend: BackendName, plans: TrainingPlan[]): Promise<TrainingResult[]> {
  const { tf, name } = await selectBackend(backend);
  const data = loadMnist();
  const order = createPrng(7).shuffle(Array.from({ length: data.n }, (_, i) => i)); // mixed classes in every batch
  const width = data.x.length / data.n;
  const flavour =
    name !== 'wasm'
      ? null
      : tf.env().getBool('WASM_HAS_SIMD_SUPPORT')
        ? tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')
          ? 'simd+threads'
          : 'simd'
        : 'plain';
  const results: TrainingResult[] = [];
  for (const plan of plans) {
    const spec = mnistSpec(plan.model);
    const model = buildModel(tf, spec);
    setNamedWeights(model, initialWeights(spec, 1));
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
    const losses: number[] = [];
    let start = 0;
    let cpuStart = process.cpuUsage();
    let samples = 0;
    for (let b = 0; b < plan.warmupBatches + plan.maxBatches; b++) {
      if (b === plan.warmupBatches) [start, cpuStart] = [performance.now(), process.cpuUsage()];
      const rows = Array.from({ length: plan.batchSize }, (_, i) => order[(b * plan.batchSize + i) % data.n] as number);
      const x = new Float32Array(plan.batchSize * width);
      rows.forEach((row, i) => x.set(data.x.subarray(row * width, (row + 1) * width), i * width));
      const xs = tf.tensor(x, [plan.batchSize, ...spec.inputShape]);
      const ys = tf.oneHot(
        tf.tensor1d(
          rows.map((row) => data.y[row] as number),
          'int32',
        ),
        spec.classes.length,
      );
      const loss = (await model.trainOnBatch(xs, ys)) as number;
      tf.dispose([xs, ys]);
      if (b < plan.warmupBatches) continue;
      losses.push(loss);
      samples += plan.batchSize;
      if (performance.now() - start >= plan.capMs) break;
    }
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    results.push({
      backend: name,
      model: plan.model,
      params: model.countParams(),
      batchSize: plan.batchSize,
      samples,
      ms,
      samplesPerSec: (samples / ms) * 1000,
      samplesPerCpuSec: (samples / cpuMs) * 1000,
      firstLoss: losses[0] as number,
      lastLoss: losses.at(-1) as number,
      wasmFlavour: flavour,
    });
    model.dispose();
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [backend, plans] = process.argv.slice(2);
  const results = await measureTraining(backend as BackendName, JSON.parse(plans as string) as TrainingPlan[]);
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
