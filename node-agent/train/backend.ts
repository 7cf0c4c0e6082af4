/** Chooses the TensorFlow.js backend: native TensorFlow (GPU, then CPU) where installed, else WebAssembly, else pure JS. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import type { ModelSpec } from '../../protocol/model-spec.js';
import { registerWasmFastKernels } from './wasm-fast-kernels.js';
import { hasWasmGradKernels, registerWasmGradKernels } from './wasm-grad-kernels.js';
import { hasConvLayers, missingWasmKernels } from './wasm-trainable.js';

/** The TensorFlow.js namespace every training function receives. */
export type TF = typeof import('@tensorflow/tfjs');
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

/** A running backend and the namespace bound to it. */
export interface SelectedBackend {
  name: BackendName;
  tf: TF;
}

/** Receives one line per event; `level` is 'info' unless given (a plain `(msg) => void` works). */
export type BackendLog = (msg: string, level?: 'debug' | 'info' | 'warn') => void;

const NATIVE_PACKAGES = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;
const INSTALL_HINT: Record<BackendName, string> = {
  'tensorflow-gpu':
    'install it with `npm install @tensorflow/tfjs-node-gpu` (Linux x64 with CUDA/cuDNN; the install downloads libtensorflow, so it needs network access)',
  tensorflow: 'install it with `npm install @tensorflow/tfjs-node` (the install downloads libtensorflow, so it needs network access)',
  wasm: 'install it with `npm install @tensorflow/tfjs-backend-wasm`',
  cpu: 'reinstall `@tensorflow/tfjs`',
};
const WHY: Record<BackendName, string> = {
  'tensorflow-gpu': 'native TensorFlow with CUDA, the fastest',
  tensorflow: 'native TensorFlow on the CPU',
  wasm: 'WebAssembly, 2-5x faster than pure JS on dense models and ~100x on conv nets; install @tensorflow/tfjs-node for native speed',
  cpu: 'pure JavaScript, the slowest; install @tensorflow/tfjs-node for native speed',
};

let current: SelectedBackend | undefined;
let pending: Promise<SelectedBackend> | undefined;
const loadedNative = new Map<BackendName, TF>();
let wasmPathsSet = false;

/** Imports a native binding by a computed name so TypeScript needs no types for it. */
async function loadNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<TF> {
  const known = loadedNative.get(name);
  if (known) return known;
  const pkg = NATIVE_PACKAGES[name];
  createRequire(import.meta.url).resolve(pkg); // throws MODULE_NOT_FOUND when not installed
  const mod = (await import(pkg)) as TF & { default?: TF };
  const tf = typeof mod.setBackend === 'function' ? mod : (mod.default as TF);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its 'tensorflow' backend did not initialise`);
  loadedNative.set(name, tf);
  return tf;
}

/** Registers and initialises the wasm backend with its binaries' directory set for Node. */
async function loadWasm(): Promise<TF> {
  const pkgJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!tfjs.findBackendFactory('wasm')) throw new Error('@tensorflow/tfjs-backend-wasm did not register a wasm backend');
  if (!wasmPathsSet) {
    wasm.setWasmPaths(join(dirname(pkgJson), 'dist') + '/'); // Node reads the .wasm binaries from disk
    wasmPathsSet = true;
  }
  if (!(await tfjs.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  registerWasmGradKernels(tfjs); // Conv2D backprop kernels tfjs-backend-wasm lacks (or runs slowly)
  registerWasmFastKernels(tfjs); // transposed matMuls and 2x2 max-pool gradients, 3-10x faster than its own
  return tfjs;
}

async function load(name: BackendName): Promise<TF> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') return loadNative(name);
  if (name === 'wasm') return loadWasm();
  tfjs.enableProdMode(); // silences tfjs's own "install the node backend" banner: our log line says it
  if (!(await tfjs.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  return tfjs;
}

async function select(preference: BackendPreference, log: BackendLog): Promise<SelectedBackend> {
  if (current && (preference === 'auto' || preference === current.name)) return current;
  const candidates: BackendName[] = preference === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [preference];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const tf = await load(name);
      await tf.ready();
      current = { name, tf };
      const why = preference === 'auto' ? (skipped.length ? `${skipped.join(', ')} unavailable; ` : 'first choice; ') : 'requested; ';
      log(`TensorFlow.js backend: ${name} (${why}${WHY[name]})`, 'info');
      return current;
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      if (preference !== 'auto') {
        throw new Error(`TensorFlow.js backend '${name}' is not available (${reason}); ${INSTALL_HINT[name]}`, { cause });
      }
      skipped.push(name);
      log(`backend ${name} skipped: ${reason}`, 'debug');
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

/**
 * Selects the backend once per process ('auto': tfjs-node-gpu, tfjs-node, wasm, cpu, first that
 * loads); calling again with 'auto' or the same name returns the running one.
 * @example const { name, tf } = await selectBackend('auto', (m) => logger.info(m));
 */
export async function selectBackend(preference: BackendPreference = 'auto', log: BackendLog = () => {}): Promise<SelectedBackend> {
  while (pending) await pending.catch(() => undefined);
  const run = select(preference, log);
  pending = run;
  try {
    return await run;
  } finally {
    if (pending === run) pending = undefined;
  }
}

/** The backend that `selectBackend` last made current, if any. */
export function currentBackend(): SelectedBackend | undefined {
  return current;
}

/**
 * The backend to train this spec on: the selected one, except that a wasm selection moves to cpu (with a warning)
 * when the spec's layers need a gradient kernel the wasm backend lacks: Conv2D's if Cohort's wasm Conv2D gradient
 * kernels are not registered (they are whenever `selectBackend` loaded wasm), and for a user's Layers model any
 * other (Embedding's UnsortedSegmentSum, depthwise convolutions'); anything else is returned unchanged.
 * @example const backend = await backendForSpec(spec, await selectBackend());
 */
export async function backendForSpec(spec: ModelSpec, selected: SelectedBackend, log: BackendLog = () => {}): Promise<SelectedBackend> {
  if (selected.name !== 'wasm') return selected;
  if (spec.arch !== 'layers') {
    if (!hasConvLayers(spec) || hasWasmGradKernels(selected.tf)) return selected;
    log(
      'the wasm backend lacks Conv2D backprop kernels (Conv2DBackpropInput/Filter), so this cnn trains on the slower cpu backend; install @tensorflow/tfjs-node for native speed',
      'warn',
    );
    return selectBackend('cpu', log);
  }
  const missing = missingWasmKernels(selected.tf, spec);
  if (missing.length === 0) return selected;
  log(
    `the wasm backend lacks ${missing.map((m) => `${m.kernel} (for ${m.layer})`).join(', ')}, so this model trains on the slower cpu backend; install @tensorflow/tfjs-node for native speed`,
    'warn',
  );
  return selectBackend('cpu', log);
}
