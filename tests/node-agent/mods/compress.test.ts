/** The site's compression mod: error feedback across rounds, the DP re-clip of what is sent, reproducible int8, plain frames for none. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../../crypto/prng.js';
import {
  decodeCompressedFrame,
  decodeTensors,
  decompressTensors,
  parseCompression,
  type NamedTensor,
  type TrainConfig,
  type UpdateMeta,
} from '../../../protocol/index.js';
import { compressedPayload, type CompressionMemory } from '../../../node-agent/mods/compress.js';

const layout = [
  { name: 'dense_0/kernel', shape: [40, 10] },
  { name: 'dense_0/bias', shape: [10] },
];
const base: TrainConfig = { localEpochs: 1, batchSize: 10, learningRate: 0.1 };
const meta = (round: number): UpdateMeta => ({
  kind: 'weights',
  federation: 'f',
  round,
  institution: 'site-1',
  baseVersion: round - 1,
  samples: 10,
  metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 1 },
});

function model(seed: number, scale: number): NamedTensor[] {
  const rng = createPrng(seed);
  return layout.map(({ name, shape }) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape[0]! * (shape[1] ?? 1) }, () => scale * rng.normal()),
  }));
}
const plus = (a: NamedTensor[], b: NamedTensor[]): NamedTensor[] =>
  a.map((t, i) => ({ ...t, data: t.data.map((v, j) => v + b[i]!.data[j]!) }));
const norm = (ts: readonly { data: Float32Array }[]): number =>
  Math.sqrt(ts.reduce((s, t) => s + t.data.reduce((a, v) => a + v * v, 0), 0));

function sentDelta(payload: Uint8Array, compress: string): NamedTensor[] {
  return decompressTensors(decodeCompressedFrame(payload, { compression: parseCompression(compress), layout }).tensors);
}

describe('compressedPayload', () => {
  it('sends the plain float32 weights frame, without its trailer hash, when the task does not compress', () => {
    const global = model(1, 1);
    const trained = plus(global, model(2, 0.01));

    const payload = compressedPayload({ config: base, global, trained, meta: meta(1) }, { seed: 0 });

    // The envelope's signed SHA-256 covers the frame: the coordinator decodes it as authenticated, the trailer stays zero.
    expect(decodeTensors(payload, { authenticated: true }).tensors).toEqual(trained);
    expect(payload.subarray(payload.length - 32).every((b) => b === 0)).toBe(true);
    expect(() => decodeTensors(payload)).toThrow(/digest mismatch/);
  });

  it('top-k with error feedback: what was sent over four rounds plus the residual kept is the sum of the true deltas', () => {
    const memory: CompressionMemory = { seed: 0 };
    const config = { ...base, compress: 'topk:0.05' };
    const global = model(1, 1);
    const sent = model(0, 0).map((t) => ({ ...t, data: new Float64Array(t.data.length) }));
    const truth = model(0, 0).map((t) => ({ ...t, data: new Float64Array(t.data.length) }));
    for (let round = 1; round <= 4; round++) {
      const delta = model(10 + round, 0.01);
      const payload = compressedPayload({ config, global, trained: plus(global, delta), meta: meta(round) }, memory);
      sentDelta(payload, 'topk:0.05').forEach((t, i) => t.data.forEach((v, j) => (sent[i]!.data[j] = sent[i]!.data[j]! + v)));
      delta.forEach((t, i) => t.data.forEach((v, j) => (truth[i]!.data[j] = truth[i]!.data[j]! + v)));
    }
    truth.forEach((t, i) => t.data.forEach((v, j) => expect(sent[i]!.data[j]! + memory.residual![i]![j]!).toBeCloseTo(v, 5)));
    // The residual is not the whole delta: top-k did send something each round.
    expect(norm(memory.residual!.map((data) => ({ data })))).toBeLessThan(norm(truth.map((t) => ({ data: Float32Array.from(t.data) }))));
  });

  it('forgets the residual when the compression or the model changes', () => {
    const memory: CompressionMemory = { seed: 0 };
    const global = model(1, 1);
    compressedPayload({ config: { ...base, compress: 'topk:0.1' }, global, trained: plus(global, model(2, 0.01)), meta: meta(1) }, memory);
    const before = memory.residual;

    compressedPayload({ config: { ...base, compress: 'topk:0.2' }, global, trained: global, meta: meta(2) }, memory);

    expect(before).toBeDefined();
    expect(norm(memory.residual!.map((data) => ({ data })))).toBe(0); // a zero delta and a fresh residual: nothing left over
  });

  it.each(['fp16', 'int8', 'topk:0.1'])(
    'under DP, what %s sends decodes within the clip norm even when the residual would take it over',
    (compress) => {
      const memory: CompressionMemory = { seed: 3 };
      const global = model(1, 1);
      const clip = 0.05;
      const config = { ...base, compress, dpClipNorm: clip };
      for (let round = 1; round <= 3; round++) {
        // The agent clipped the trained update to the clip norm already (dp-clip): deltas of norm exactly `clip`.
        // For top-k the same direction every round, so its residual piles up along it; fp16 and int8 round over the norm.
        const raw = model(compress.startsWith('topk') ? 20 : 20 + round, 0.01);
        const delta = raw.map((t) => ({ ...t, data: t.data.map((v) => (v * clip) / norm(raw)) }));
        const payload = compressedPayload({ config, global, trained: plus(global, delta), meta: meta(round) }, memory);
        expect(norm(sentDelta(payload, compress))).toBeLessThanOrEqual(clip);
      }
    },
  );

  it('draws int8 rounding from the seed and the round: the same site and round give the same bytes, another round other bytes', () => {
    const global = model(1, 1);
    const trained = plus(global, model(2, 0.01));
    const config = { ...base, compress: 'int8' };

    const a = compressedPayload({ config, global, trained, meta: meta(1) }, { seed: 5 });
    const b = compressedPayload({ config, global, trained, meta: meta(1) }, { seed: 5 });
    const c = compressedPayload({ config, global, trained, meta: { ...meta(1), round: 2 } }, { seed: 5 });

    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});
