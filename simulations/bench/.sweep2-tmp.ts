import { parsePartition, selectRows } from '/work/main/node-agent/data/index.js';
import { selectBackend, trainLocal, evaluate } from '/work/main/node-agent/train/index.js';
import { prepareData } from '/work/main/simulations/simulate/dataset.js';
import { initialWeights } from '/work/main/coordinator/models/index.js';
import { createPrng } from '/work/main/crypto/prng.js';
const { tf } = await selectBackend('wasm', () => undefined);
const d = prepareData({ kind: 'mnist' }, 'mlp', 100, parsePartition('iid'), 0);
const test = selectRows(d.all, d.test);
const E = Number(process.argv[2]), B = Number(process.argv[3]);
for (const lr of process.argv[4]!.split(',').map(Number)) {
  let w = initialWeights(d.spec, 0); const rng = createPrng(1); const accs: string[] = [];
  for (let r = 0; r < 15; r++) {
    const pick = rng.shuffle([...Array(100).keys()]).slice(0, 10);
    const sum = w.map((t) => new Float32Array(t.data.length)); let n = 0;
    for (const s of pick) { const data = selectRows(d.all, d.sites[s]!);
      const res = await trainLocal({ tf, spec: d.spec, weights: w, data, config: { localEpochs: E, batchSize: B, learningRate: lr }, valFraction: 0, seed: r * 1000 + s });
      res.weights.forEach((t, i) => { const a = sum[i]!; for (let j = 0; j < a.length; j++) a[j]! += t.data[j]! * data.n; }); n += data.n; }
    w = w.map((t, i) => ({ ...t, data: sum[i]!.map((v) => v / n) }));
    const e = await evaluate({ tf, spec: d.spec, weights: w, data: test, batchSize: 500 }); accs.push(e.accuracy.toFixed(3));
  }
  console.log(`E=${E} B=${B} lr ${lr}:`, accs.join(' '));
}
