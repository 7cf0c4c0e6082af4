/** Runs models in a worker thread with TF.js, for the coordinator (which never loads TF.js itself): one worker, started lazily. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CohortError } from '../../protocol/errors.js';
import type { NamedTensor } from '../../protocol/codec.js';
import type { ModelSpec } from '../../protocol/model-spec.js';

/** What the worker is started with. */
export interface WorkerSettings {
  backend: 'wasm' | 'cpu';
  maxModels: number;
}
/** A message to the worker. */
export type WorkerRequest =
  | { type: 'predict'; id: number; key: string; spec: ModelSpec; tensors?: readonly NamedTensor[]; x: Float32Array; rows: number }
  | { type: 'close'; id: number };
/** The worker's answer to one request. */
export type WorkerReply =
  | { id: number; out: Float32Array }
  | { id: number; error: string }
  /** Sent without tensors, and the worker does not hold this key (evicted): send them. */
  | { id: number; missing: true }
  | { id: number; closed: true }
  | { ready: true };

export interface ModelRunnerOptions {
  /** The worker's TF.js backend (cpu when wasm does not load). Default 'wasm'. */
  backend?: 'wasm' | 'cpu';
  /** A request not answered within this many milliseconds of the worker being ready ends the worker (MODEL_RUNNER_FAILED). Default 30 000. */
  timeoutMs?: number;
  /** A worker that has not loaded its backend within this many milliseconds is ended (MODEL_RUNNER_FAILED). Default 60 000. */
  startTimeoutMs?: number;
  /** Built models kept in the worker (least recently used go first). Default 4. */
  maxModels?: number;
}

/** The run of one model: the cache key, the spec, every tensor, and `rows` normalised inputs. */
export interface RunnerRequest {
  key: string;
  spec: ModelSpec;
  tensors: readonly NamedTensor[];
  x: Float32Array;
  rows: number;
}

/** A model runner (the coordinator's `ModelRunner`): TF.js in one worker thread. */
export interface WorkerModelRunner {
  predict(request: RunnerRequest): Promise<Float32Array>;
  close(): Promise<void>;
}

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/** The URL of tsx's ESM `register` API, as an `import` would resolve it (require's resolution gives the CommonJS build). */
function tsxApiUrl(here: string): string {
  const pkg = createRequire(here).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(pkg, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkg), (exports['./esm/api'] as { import: { default: string } }).import.default)).href;
}

/** Starts the worker: the compiled .js beside this file, or, running from the TypeScript sources, the .ts through tsx. */
function startWorker(settings: WorkerSettings): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./model-worker.js', here), { workerData: settings });
  const tsx = tsxApiUrl(here);
  const entry = new URL('./model-worker.ts', here).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: settings });
}

/**
 * A model runner for `createCoordinator({ modelRunner })`. Its worker starts on the first request, loads the wasm
 * backend (else cpu), builds each model once per key (as the agents build it) and keeps the last `maxModels`.
 * A worker that crashes or overruns `timeoutMs` fails its requests with MODEL_RUNNER_FAILED and is replaced on the
 * next request; tensors that do not fit the spec fail with CORRUPT_PAYLOAD. `close()` disposes the models and ends it.
 * @example const runner = createModelRunner(); await runner.predict({ key: 'fed/v2', spec, tensors, x, rows: 1 })
 */
export function createModelRunner(opts: ModelRunnerOptions = {}): WorkerModelRunner {
  const settings: WorkerSettings = { backend: opts.backend ?? 'wasm', maxModels: opts.maxModels ?? 4 };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  let worker: Worker | undefined;
  /** Resolves once the current worker has loaded its backend: request timers start then, so start-up is not inference time. */
  let ready: Promise<void> = Promise.resolve();
  /** Keys the current worker has been sent tensors for: later requests leave the tensors out (no copy per request). */
  const held = new Set<string>();
  let nextId = 1;
  const pending = new Map<number, Pending>();

  /** Fails every request in flight and drops the worker: the next request starts a new one. */
  const fail = (dead: Worker, reason: string): void => {
    if (worker !== dead) return;
    worker = undefined;
    void dead.terminate();
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(
        new CohortError(
          'MODEL_RUNNER_FAILED',
          `the model runner's worker ${reason}; the request was dropped and the next one starts a new worker`,
        ),
      );
    }
  };

  const live = (): Worker => {
    if (worker) return worker;
    const w = startWorker(settings);
    held.clear();
    const startTimer = setTimeout(() => fail(w, `did not load its TF.js backend within ${startTimeoutMs} ms`), startTimeoutMs);
    let started = (): void => {};
    ready = new Promise<void>((resolve) => (started = resolve));
    w.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) {
        clearTimeout(startTimer);
        started();
        return;
      }
      const p = pending.get(reply.id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(reply.id);
      if (pending.size === 0) w.unref(); // an idle worker does not keep the process alive
      p.resolve(reply);
    });
    w.on('error', (err) => fail(w, `crashed (${err.message})`));
    w.on('exit', (code) => {
      clearTimeout(startTimer);
      fail(w, `exited (code ${code})`);
    });
    worker = w;
    return w;
  };

  const send = (request: WorkerRequest, timeout: number): Promise<WorkerReply> => {
    const w = live();
    return new Promise<WorkerReply>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      pending.set(request.id, entry);
      w.ref();
      w.postMessage(request);
      void ready.then(() => {
        if (pending.get(request.id) === entry) entry.timer = setTimeout(() => fail(w, `did not answer within ${timeout} ms`), timeout);
      });
    });
  };

  return {
    async predict(request) {
      const { key, spec, x, rows } = request;
      let reply = await send(
        { type: 'predict', id: nextId++, key, spec, x, rows, ...(held.has(key) ? {} : { tensors: request.tensors }) },
        timeoutMs,
      );
      if ('missing' in reply)
        reply = await send({ type: 'predict', id: nextId++, key, spec, x, rows, tensors: request.tensors }, timeoutMs);
      if ('error' in reply) throw new CohortError('CORRUPT_PAYLOAD', `the model cannot be run: ${reply.error}`);
      if (!('out' in reply)) throw new CohortError('INTERNAL', 'the model runner answered a prediction with no output');
      held.add(key);
      return reply.out;
    },
    async close() {
      const w = worker;
      if (!w) return;
      await send({ type: 'close', id: nextId++ }, 5_000).catch(() => undefined); // disposes the models; a dead worker has nothing to free
      worker = undefined;
      await w.terminate();
    },
  };
}
