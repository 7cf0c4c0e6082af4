/** The model runner's worker thread: loads a TF.js backend (wasm, else cpu), builds and caches models, answers predictions. */
import { parentPort, workerData } from 'node:worker_threads';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { selectBackend, type TF } from './backend.js';
import { buildServingModel } from './serving-model.js';
import type { WorkerReply, WorkerRequest, WorkerSettings } from './model-runner.js';

const settings = workerData as WorkerSettings;
const port = parentPort;
if (!port) throw new Error('model-worker.ts runs as a worker thread (createModelRunner starts it)');

/** The backend asked for, or cpu when it does not load (wasm binaries missing, say). */
async function loadBackend(): Promise<TF> {
  try {
    return (await selectBackend(settings.backend)).tf;
  } catch {
    return (await selectBackend('cpu')).tf;
  }
}
const ready = loadBackend();
void ready.then(() => port.postMessage({ ready: true } satisfies WorkerReply));
/** Built models by key, least recently used first. */
const models = new Map<string, LayersModel>();

/** The cached model of the request's key (now the most recently used), else one built from its tensors, else undefined. */
async function modelFor(tf: TF, request: Extract<WorkerRequest, { type: 'predict' }>): Promise<LayersModel | undefined> {
  const known = models.get(request.key);
  if (known) {
    models.delete(request.key);
    models.set(request.key, known);
    return known;
  }
  if (!request.tensors) return undefined;
  const model = await buildServingModel(tf, request.spec, request.tensors);
  models.set(request.key, model);
  for (const [key, old] of models) {
    if (models.size <= settings.maxModels) break;
    models.delete(key);
    old.dispose();
  }
  return model;
}

async function run(request: Extract<WorkerRequest, { type: 'predict' }>): Promise<Float32Array | undefined> {
  const tf = await ready;
  const model = await modelFor(tf, request);
  if (!model) return undefined;
  const out = tf.tidy(() => model.predict(tf.tensor(request.x, [request.rows, ...request.spec.inputShape], 'float32')) as Tensor);
  try {
    return Float32Array.from(await out.data());
  } finally {
    out.dispose();
  }
}

let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  // One request at a time, in order: TF.js work is synchronous anyway, and the cache stays consistent.
  queue = queue.then(async () => {
    if (request.type === 'close') {
      for (const model of models.values()) model.dispose();
      models.clear();
      port.postMessage({ id: request.id, closed: true } satisfies WorkerReply);
      return;
    }
    try {
      const out = await run(request);
      if (!out) return port.postMessage({ id: request.id, missing: true } satisfies WorkerReply);
      port.postMessage({ id: request.id, out } satisfies WorkerReply, [out.buffer as ArrayBuffer]);
    } catch (cause) {
      port.postMessage({ id: request.id, error: cause instanceof Error ? cause.message : String(cause) } satisfies WorkerReply);
    }
  });
});
