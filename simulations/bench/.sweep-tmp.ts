import { parsePartition, selectRows } from '/work/main/node-agent/data/index.js';
import { selectBackend, trainLocal, evaluate } from '/work/main/node-agent/train/index.js';
import { prepareData } from '/work/main/simulations/simulate/dataset.js';
import { initialWeights } from '/work/main/coordinator/models/index.js';
const { tf } = await selectBackend('wasm', () => undefined);
const d = prepareData({ kind: 'mnist' }, 'mlp', 100, parsePartition('iid'), 0);
const test = selectRows(d.all, d.test); const train = selectRows(d.all, d.train);
const mode = process.argv[2];
if (mode === 'sgd') for (const lr of [0.1, 0.2, 0.3, 0.5]) {
  let w = initialWeights(d.spec, 0); const accs: string[] = []; const t = Date.now();
  for (let k = 0; k < 30; k++) { w = (await trainLocal({ tf, spec: d.spec, weights: w, data: train, config: { localEpochs: 1, batchSize: 800, learningRate: lr }, valFraction: 0, seed: k })).weights;
    const e = await evaluate({ tf, spec: d.spec, weights: w, data: test, batchSize: 500 }); accs.push(e.accuracy.toFixed(3)); }
  console.log('sgd lr', lr, 'acc per 10 steps', accs.join(' '), (Date.now()-t)/1000, 's');
}
else { let w = initialWeights(d.spec, 0); const t = Date.now();
  for (let k = 0; k < 20; k++) { w = (await trainLocal({ tf, spec: d.spec, weights: w, data: train, config: { localEpochs: 1, batchSize: 10, learningRate: 0.05 }, valFraction: 0, seed: k })).weights;
    const e = await evaluate({ tf, spec: d.spec, weights: w, data: test, batchSize: 500 }); console.log('central epoch', k+1, e.accuracy.toFixed(4), (Date.now()-t)/1000); } }
