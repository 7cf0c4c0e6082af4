/** Update compression's codecs: fp16 error bounds, int8 unbiasedness, top-k counts, and the frame's refusals. */
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/prng.js';
import {
  compressTensors,
  decompressTensors,
  parseCompression,
  scaleCompressed,
  topkCount,
  type CompressedTensor,
} from '../../protocol/compression.js';
import { decodeCompressedFrame, encodeCompressedFrame } from '../../protocol/compressed-frame.js';
import { encodeTensors } from '../../protocol/codec.js';
import { fromHalfBits, toHalfBits, HALF_MAX } from '../../protocol/half.js';
import { CohortError } from '../../protocol/errors.js';

const layout = [
  { name: 'dense_0/kernel', shape: [30, 20] },
  { name: 'dense_0/bias', shape: [20] },
];

function deltas(seed: number, scale = 0.01) {
  const rng = createPrng(seed);
  return layout.map(({ name, shape }) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
  }));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof CohortError ? err.code : `not a CohortError: ${(err as Error).message}`;
  }
  return 'no error';
}

describe('parseCompression', () => {
  it('reads the four modes and refuses anything else by value', () => {
    expect(parseCompression('none')).toEqual({ mode: 'none' });
    expect(parseCompression('fp16')).toEqual({ mode: 'fp16' });
    expect(parseCompression('int8')).toEqual({ mode: 'int8' });
    expect(parseCompression('topk:0.1')).toEqual({ mode: 'topk', fraction: 0.1 });
    for (const bad of ['int4', 'topk:0', 'topk:1.5', 'topk:', 'topk:-0.1', 'TOPK:0.1'])
      expect(() => parseCompression(bad), bad).toThrow(new RegExp(bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });
});

describe('fp16', () => {
  it('rounds every float32 to within 2^-11 relative (normal halves) or 2^-25 absolute (subnormals)', () => {
    const rng = createPrng(1);
    for (let i = 0; i < 20_000; i++) {
      const v = Math.fround(rng.normal() * 10 ** (rng.int(12) - 8));
      const back = fromHalfBits(toHalfBits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
    }
  });

  it('is exact on halves, rounds ties to even and saturates beyond the largest half', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, 2 ** -14]) expect(fromHalfBits(toHalfBits(v))).toBe(v);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and 1 + 2^-10: to the even one
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(fromHalfBits(toHalfBits(1e6))).toBe(HALF_MAX);
    expect(fromHalfBits(toHalfBits(-1e6))).toBe(-HALF_MAX);
  });
});

describe('int8 with stochastic rounding', () => {
  it('is unbiased: the mean of many draws is the value, within the standard error', () => {
    const value = { name: 'w', shape: [4], data: new Float32Array([0.37, -0.81, 1, 0.002]) };
    const rng = createPrng(7);
    const draws = 20_000;
    const sum = new Float64Array(4);
    for (let d = 0; d < draws; d++) {
      const [out] = decompressTensors(compressTensors([value], { mode: 'int8' }, rng.next));
      out!.data.forEach((v, i) => (sum[i] = sum[i]! + v));
    }
    const step = 1 / 127; // the scale: max |x| is 1
    for (let i = 0; i < 4; i++) {
      // Each draw is off by less than one step: the mean's standard error is below step / sqrt(draws).
      expect(Math.abs(sum[i]! / draws - value.data[i]!)).toBeLessThan((4 * step) / Math.sqrt(draws));
    }
  });

  it('puts every value within one step of the scale max|x|/127, and the same seed gives the same codes', () => {
    const d = deltas(3);
    const a = compressTensors(d, { mode: 'int8' }, createPrng(9).next);
    const b = compressTensors(d, { mode: 'int8' }, createPrng(9).next);
    expect(a).toEqual(b);
    decompressTensors(a).forEach((t, i) => {
      const scale = (a[i] as { scale: number }).scale;
      t.data.forEach((v, j) => expect(Math.abs(v - d[i]!.data[j]!)).toBeLessThan(scale * 1.0001));
    });
  });
});

describe('top-k', () => {
  it('keeps exactly ceil(F·n) entries of each tensor, the largest in magnitude, in index order', () => {
    const d = deltas(5);
    const sent = compressTensors(d, { mode: 'topk', fraction: 0.1 }, Math.random) as Extract<CompressedTensor, { indices: Uint32Array }>[];
    sent.forEach((t, i) => {
      const n = d[i]!.data.length;
      expect(t.indices.length).toBe(Math.ceil(0.1 * n));
      const kept = new Set(t.indices);
      const smallestKept = Math.min(...t.values.map(Math.abs));
      d[i]!.data.forEach((v, j) => {
        if (!kept.has(j)) expect(Math.abs(v)).toBeLessThanOrEqual(smallestKept);
      });
      expect([...t.indices]).toEqual([...t.indices].sort((x, y) => x - y));
    });
    expect(topkCount(0.1, 600)).toBe(60);
    expect(topkCount(0.001, 20)).toBe(1);
  });

  it('with error feedback, what was sent over the rounds plus the residual is the sum of the true deltas', () => {
    const rounds = [deltas(11), deltas(12), deltas(13), deltas(14)];
    let residual = layout.map(({ shape }) => new Float32Array(shape.reduce((a, b) => a * b, 1)));
    const sentTotal = layout.map(({ shape }) => new Float64Array(shape.reduce((a, b) => a * b, 1)));
    const trueTotal = layout.map(({ shape }) => new Float64Array(shape.reduce((a, b) => a * b, 1)));
    for (const d of rounds) {
      const v = d.map((t, i) => ({ ...t, data: t.data.map((x, j) => x + residual[i]![j]!) }));
      const sent = decompressTensors(compressTensors(v, { mode: 'topk', fraction: 0.05 }, Math.random));
      residual = v.map((t, i) => t.data.map((x, j) => x - sent[i]!.data[j]!));
      sent.forEach((t, i) => t.data.forEach((x, j) => (sentTotal[i]![j] = sentTotal[i]![j]! + x)));
      d.forEach((t, i) => t.data.forEach((x, j) => (trueTotal[i]![j] = trueTotal[i]![j]! + x)));
    }
    trueTotal.forEach((total, i) => total.forEach((x, j) => expect(sentTotal[i]![j]! + residual[i]![j]!).toBeCloseTo(x, 5)));
  });
});

describe('compressed frame', () => {
  const modes = [{ mode: 'fp16' }, { mode: 'int8' }, { mode: 'topk', fraction: 0.1 }] as const;

  it.each(modes)('round-trips $mode: the decoded tensors are the compressed ones, at about the expected size', (compression) => {
    const d = deltas(21);
    const sent = compressTensors(d, compression, createPrng(1).next);
    const frame = encodeCompressedFrame(sent, { round: 2 });

    const out = decodeCompressedFrame(frame, { compression, layout });

    expect(out.meta).toEqual({ round: 2 });
    expect(decompressTensors(out.tensors)).toEqual(decompressTensors(sent));
    const plain = encodeTensors(d, { round: 2 }).length;
    const ratio = { fp16: 0.5, int8: 0.25, topk: 0.2 }[compression.mode];
    expect(frame.length / plain).toBeLessThan(ratio + 0.1);
  });

  it('refuses a frame in another mode, a plain frame, a wrong top-k count, bad indices, a NaN scale and a wrong length', () => {
    const d = deltas(22);
    const topk = { mode: 'topk', fraction: 0.1 } as const;
    const int8 = compressTensors(d, { mode: 'int8' }, createPrng(1).next) as Extract<CompressedTensor, { int8: Int8Array }>[];
    const top = compressTensors(d, topk, Math.random) as Extract<CompressedTensor, { indices: Uint32Array }>[];
    const withIndex = (at: number, idx: number) =>
      top.map((t, i) => (i === 0 ? { ...t, indices: t.indices.map((x, j) => (j === at ? idx : x)) } : t));

    expect(codeOf(() => decodeCompressedFrame(encodeCompressedFrame(int8, {}), { compression: topk, layout }))).toBe('BAD_COMPRESSION');
    expect(codeOf(() => decodeCompressedFrame(encodeTensors(d), { compression: topk, layout }))).toBe('BAD_COMPRESSION');
    const short = top.map((t, i) => (i === 0 ? { ...t, indices: t.indices.slice(1), values: t.values.slice(1) } : t));
    expect(codeOf(() => decodeCompressedFrame(encodeCompressedFrame(short, {}), { compression: topk, layout }))).toBe('BAD_COMPRESSION');
    expect(codeOf(() => decodeCompressedFrame(encodeCompressedFrame(withIndex(3, 600), {}), { compression: topk, layout }))).toBe(
      'BAD_COMPRESSION',
    );
    expect(codeOf(() => decodeCompressedFrame(encodeCompressedFrame(withIndex(3, 0), {}), { compression: topk, layout }))).toBe(
      'BAD_COMPRESSION',
    );
    const nan = int8.map((t, i) => (i === 1 ? { ...t, scale: Number.NaN } : t));
    expect(() => decodeCompressedFrame(encodeCompressedFrame(nan, {}), { compression: { mode: 'int8' }, layout })).toThrow(/scale NaN/);
    const frame = encodeCompressedFrame(int8, {});
    expect(codeOf(() => decodeCompressedFrame(frame.subarray(0, frame.length - 4), { compression: { mode: 'int8' }, layout }))).toBe(
      'BAD_COMPRESSION',
    );
    const other = [{ name: 'dense_0/kernel', shape: [20, 30] }, layout[1]!];
    expect(codeOf(() => decodeCompressedFrame(frame, { compression: { mode: 'int8' }, layout: other }))).toBe('SHAPE_MISMATCH');
  });
});

describe('scaleCompressed', () => {
  it.each([{ mode: 'fp16' }, { mode: 'int8' }, { mode: 'topk', fraction: 0.2 }] as const)(
    'scales a $mode update by the factor, within its rounding',
    (compression) => {
      const sent = compressTensors(deltas(31), compression, createPrng(2).next);
      const before = decompressTensors(sent);

      const after = decompressTensors(scaleCompressed(sent, 0.5));

      after.forEach((t, i) =>
        t.data.forEach((v, j) =>
          expect(Math.abs(v - 0.5 * before[i]!.data[j]!)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)),
        ),
      );
    },
  );
});
