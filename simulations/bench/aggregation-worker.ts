/** One aggregation variant over N streamed updates, run in its own process so its peak RSS is its own (child of aggregation-bench). */
import { pathToFileURL } from 'node:url';
import { fedAvg } from '../../coordinator/strategies/fedavg.js';
import { createPrng } from '../../crypto/index.js';

export type JsVariant = 'idle' | 'copy' | 'fedavg' | 'flower';

export interface WorkerResult {
  variant: string;
  n: number;
  params: number;
  /** Time spent aggregating (generation of the updates excluded), ms. */
  aggregateMs: number;
  /** Peak resident set size of the whole process, KiB (process.resourceUsage().maxRSS). */
  maxRssKiB: number;
  /** A checksum of the aggregate, so the work cannot be optimised away and variants can be compared. */
  checksum: number;
}

/**
 * Layer shapes of a P-parameter model: two weight matrices and two bias vectors (P = 1M gives 780k + 1k + 218k + 1k).
 * @example modelShapes(1_000_000) // [[1000, 780], [1000], [1000, 218], [1000]]
 */
export function modelShapes(params: number): number[][] {
  const width = 1000;
  const rows = Math.max(1, Math.floor(params / width) - 2);
  const first = Math.round(rows * 0.78);
  return [[width, first], [width], [width, rows - first], [width]];
}

/**
 * Streams N deterministic updates through one reused buffer: each is a random base model rotated by a
 * PRNG offset (two memcpys, so generation costs little next to aggregation), with a PRNG sample count.
 * @example for (const { tensors, weight } of streamUpdates(shapes, 10, 1)) acc.add(tensors, weight);
 */
export function* streamUpdates(shapes: number[][], n: number, seed: number): Generator<{ tensors: Float32Array[]; weight: number }> {
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  const rng = createPrng(seed);
  const base = new Float32Array(total);
  for (let i = 0; i < total; i++) base[i] = (rng.next() - 0.5) * 0.2;
  const flat = new Float32Array(total);
  const tensors: Float32Array[] = [];
  let at = 0;
  for (const size of sizes) {
    tensors.push(flat.subarray(at, at + size));
    at += size;
  }
  for (let u = 0; u < n; u++) {
    const r = rng.int(total);
    flat.set(base.subarray(r), 0);
    flat.set(base.subarray(0, r), total - r);
    yield { tensors, weight: 1 + rng.int(100) };
  }
}

/** Flower's `aggregate()` (flwr/server/strategy/aggregate.py) in JS: scale every update into new arrays, keep them all, then sum layer by layer into new arrays. */
function flowerAggregate(results: { tensors: Float32Array[]; weight: number }[]): Float32Array[] {
  const total = results.reduce((n, r) => n + r.weight, 0);
  const layers = (results[0] as { tensors: Float32Array[] }).tensors.length;
  const out: Float32Array[] = [];
  for (let l = 0; l < layers; l++) {
    // reduce(np.add, layer_updates): every step allocates a new array.
    let sum = results[0]!.tensors[l] as Float32Array;
    for (let r = 1; r < results.length; r++) {
      const next = results[r]!.tensors[l] as Float32Array;
      const added = new Float32Array(sum.length);
      for (let i = 0; i < added.length; i++) added[i] = (sum[i] as number) + (next[i] as number);
      sum = added;
    }
    const mean = new Float32Array(sum.length);
    for (let i = 0; i < mean.length; i++) mean[i] = (sum[i] as number) / total;
    out.push(mean);
  }
  return out;
}

/** layer * num_examples: a new array (a plain loop, as fast as JS does it). */
function scaled(t: Float32Array, weight: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let i = 0; i < out.length; i++) out[i] = (t[i] as number) * weight;
  return out;
}

const checksumOf = (tensors: Float32Array[]): number => tensors.reduce((s, t) => s + (t[0] as number) + (t[t.length - 1] as number), 0);

/**
 * Runs one variant and returns its timing and peak RSS.
 * @example runVariant('fedavg', 10, 1_000_000, 1)
 */
export function runVariant(variant: JsVariant, n: number, params: number, seed: number): WorkerResult {
  const shapes = modelShapes(params);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  // The current global model: every variant holds it (the coordinator does), so it is part of the constant.
  const previous = sizes.map((size) => new Float32Array(size).fill(0.01));
  let aggregateMs = 0;
  let checksum = 0;
  const time = (fn: () => void): void => {
    const start = performance.now();
    fn();
    aggregateMs += performance.now() - start;
  };
  if (variant === 'idle') {
    // The same timing closure per update as the other variants, so their allocations are in the constant too.
    for (const { tensors } of streamUpdates(shapes, n, seed)) time(() => (checksum += tensors[0]![0] as number));
  } else if (variant === 'copy') {
    const target = sizes.map((size) => new Float32Array(size).fill(1));
    for (const { tensors } of streamUpdates(shapes, n, seed)) time(() => tensors.forEach((t, i) => target[i]!.set(t)));
    checksum = checksumOf(target);
  } else if (variant === 'fedavg') {
    const acc = fedAvg.begin(shapes, previous);
    for (const { tensors, weight } of streamUpdates(shapes, n, seed)) time(() => acc.add(tensors, weight));
    let result: Float32Array[] | null = null;
    time(() => (result = acc.result()));
    checksum = checksumOf(result ?? []);
  } else {
    const kept: { tensors: Float32Array[]; weight: number }[] = [];
    for (const { tensors, weight } of streamUpdates(shapes, n, seed)) {
      // [layer * num_examples for layer in weights]: a new array per layer per update, all kept.
      time(() => kept.push({ tensors: tensors.map((t) => scaled(t, weight)), weight }));
    }
    let result: Float32Array[] = [];
    time(() => (result = flowerAggregate(kept)));
    // Flower's result is sum(w*x)/sum(w) like FedAvg's; the checksum shows both agree.
    checksum = checksumOf(result);
  }
  return { variant, n, params, aggregateMs, maxRssKiB: process.resourceUsage().maxRSS, checksum };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [variant, n, params, seed] = process.argv.slice(2);
  const result = runVariant(variant as JsVariant, Number(n), Number(params), Number(seed ?? 1));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
