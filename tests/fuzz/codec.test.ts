/** Fuzzing the tensor codec and the chunk assembler: any bytes, any header, any chunk order give a result or a coded CohortError, never a crash. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ChunkAssembler,
  CohortError,
  checkFinite,
  checkLayout,
  decodeTensors,
  encodeTensors,
  splitIntoChunks,
  uploadTail,
  type NamedTensor,
} from '../../protocol/index.js';
import { FUZZ_SEED, heapAfterGc, mutated, reportFuzz, runs, weirdValue } from './fuzz-report.js';

const counts: Record<string, number> = {};
const count = (name: string): void => void (counts[name] = (counts[name] ?? 0) + 1);
afterAll(() => reportFuzz('codec', counts));

/** Runs `fn` and returns the CohortError it threw (or undefined); any other exception fails the property. */
function coded(fn: () => unknown, allowed: string[]): CohortError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof CohortError)) throw new Error(`not a CohortError: ${String(err)}`, { cause: err });
    if (!allowed.includes(err.code)) throw new Error(`unexpected code ${err.code}: ${err.message}`, { cause: err });
    expect(err.message.length).toBeLessThan(2_000);
    return err;
  }
}

/** A frame built by hand: any header value, any data, a correct digest (so decoding reaches the header checks). */
function handFrame(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  const json = typeof header === 'string' ? header : (JSON.stringify(header) ?? 'null');
  const text = new TextEncoder().encode(json);
  const padded = pad ? Math.ceil((12 + text.length) / 4) * 4 - 12 : text.length;
  const out = new Uint8Array(12 + padded + data.length + 32);
  out.set([0x43, 0x4f, 0x48, 0x54, 1, 0, 0, 0]);
  new DataView(out.buffer).setUint32(8, padded, true);
  out.set(text, 12);
  out.fill(0x20, 12 + text.length, 12 + padded);
  out.set(data, 12 + padded);
  out.set(
    createHash('sha256')
      .update(out.subarray(0, out.length - 32))
      .digest(),
    out.length - 32,
  );
  return out;
}

const tensorArb: fc.Arbitrary<NamedTensor> = fc
  .tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }))
  .chain(([name, shape]) =>
    fc
      .float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) })
      .map((data) => ({ name, shape, data })),
  );
const uniqueTensors = fc.uniqueArray(tensorArb, { selector: (t) => t.name, maxLength: 5 });
const opts = { seed: FUZZ_SEED };

describe('decodeTensors under fuzzing', () => {
  it('round-trips any tensors and meta that encode, and names NaN/Infinity with NON_FINITE', () => {
    fc.assert(
      fc.property(uniqueTensors, fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), (tensors, meta) => {
        count('round-trip');
        const frame = encodeTensors(tensors, meta);
        const back = decodeTensors(frame);
        expect(back.tensors.map((t) => [t.name, [...t.shape]])).toEqual(tensors.map((t) => [t.name, t.shape]));
        back.tensors.forEach((t, i) =>
          expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(Buffer.from(tensors[i]!.data.buffer)),
        );
        const bad = tensors.some((t) => t.data.some((v) => !Number.isFinite(v)));
        const err = coded(() => checkFinite(back.tensors), ['NON_FINITE']);
        expect(err !== undefined).toBe(bad);
      }),
      { ...opts, numRuns: runs(400) },
    );
  });

  it('answers random bytes, truncations and bit flips of a valid frame with CORRUPT_PAYLOAD or PAYLOAD_TOO_LARGE', () => {
    const valid = encodeTensors(
      [
        { name: 'w', shape: [3, 4], data: new Float32Array(12).fill(0.5) },
        { name: 'b', shape: [4], data: new Float32Array(4) },
      ],
      { kind: 'weights', round: 1 },
    );
    const damaged = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.slice(0, n)),
      fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const copy = valid.slice();
        copy[i] = (copy[i] as number) ^ x;
        return copy;
      }),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((tail) => new Uint8Array([...valid, ...tail])),
    );
    fc.assert(
      fc.property(damaged, fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }), (bytes, maxBytes) => {
        count('damaged-frame');
        const err = coded(() => decodeTensors(bytes, { maxBytes }), ['CORRUPT_PAYLOAD', 'PAYLOAD_TOO_LARGE']);
        const intact = bytes.length === valid.length && bytes.every((b, i) => b === valid[i]);
        if (!intact || (maxBytes !== undefined && maxBytes < bytes.length)) expect(err).toBeDefined();
      }),
      { ...opts, numRuns: runs(1500) },
    );
  });

  it('checks every hand-made header (wrong dtypes, shapes, names, meta; not JSON; unpadded) with a correct digest', () => {
    const base = { tensors: [{ name: 'w', dtype: 'float32', shape: [2, 2] }], meta: { kind: 'weights' } };
    const header = fc.oneof(mutated(base), fc.string({ maxLength: 100 }), weirdValue);
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 40 }), fc.boolean(), (h, data, pad) => {
        count('hand-made-header');
        const frame = handFrame(h, data, pad);
        const err = coded(() => decodeTensors(frame), ['CORRUPT_PAYLOAD', 'SHAPE_MISMATCH']);
        if (err === undefined) {
          const { tensors } = decodeTensors(frame);
          expect(tensors.reduce((n, t) => n + t.data.length * 4, 0)).toBe(data.length);
        }
      }),
      { ...opts, numRuns: runs(1500) },
    );
  });

  it('checkLayout answers SHAPE_MISMATCH for any tensors that are not the expected layout', () => {
    const expected = [
      { name: 'dense/kernel', shape: [4, 3] },
      { name: 'dense/bias', shape: [3] },
    ];
    fc.assert(
      fc.property(uniqueTensors, (tensors) => {
        count('layout');
        const err = coded(() => checkLayout(tensors, expected), ['SHAPE_MISMATCH']);
        const same =
          tensors.length === 2 && tensors.every((t, i) => t.name === expected[i]!.name && t.shape.join() === expected[i]!.shape.join());
        expect(err === undefined).toBe(same);
      }),
      { ...opts, numRuns: runs(500) },
    );
  });
});

describe('ChunkAssembler under fuzzing', () => {
  it('takes any begin parameters and any chunk sequence with a coded answer, and assembles only bytes ending with the announced tail', () => {
    const heapBefore = heapAfterGc();
    const frame = fc.uint8Array({ minLength: 1, maxLength: 3000 });
    const step = fc.record({
      index: fc.oneof(fc.integer({ min: -2, max: 12 }), weirdValue),
      kind: fc.constantFrom('right', 'right', 'short', 'flipped', 'weird'),
      weird: weirdValue,
    });
    fc.assert(
      fc.property(
        frame,
        fc.integer({ min: 1, max: 1200 }),
        fc.array(step, { maxLength: 16 }),
        fc.oneof(fc.constant('right'), fc.constant('lie-size'), fc.constant('lie-tail'), weirdValue),
        fc.integer({ min: 0, max: 4000 }),
        (bytes, chunkBytes, steps, begin, maxBytes) => {
          count('chunk-sequence');
          const tail = bytes.length >= 64 ? uploadTail(bytes) : '0'.repeat(128);
          const chunks = splitIntoChunks(bytes, chunkBytes);
          const params =
            begin === 'right'
              ? { totalBytes: bytes.length, chunkBytes, tail }
              : begin === 'lie-size'
                ? { totalBytes: bytes.length + 1, chunkBytes, tail }
                : begin === 'lie-tail'
                  ? { totalBytes: bytes.length, chunkBytes, tail: 'f'.repeat(128) }
                  : { totalBytes: begin, chunkBytes: begin, tail: begin };
          let asm: ChunkAssembler | undefined;
          coded(
            () => (asm = new ChunkAssembler({ ...(params as { totalBytes: number; chunkBytes: number; tail: string }), maxBytes })),
            ['BAD_REQUEST', 'PAYLOAD_TOO_LARGE'],
          );
          if (!asm) return;
          const a = asm;
          // Other bytes than the announced ones may be taken in the right place: the envelope's signature refuses them later.
          let altered = false;
          for (const s of steps) {
            const i = typeof s.index === 'number' ? s.index : 0;
            const right = chunks[i];
            const data =
              s.kind === 'right'
                ? right
                : s.kind === 'short'
                  ? right?.subarray(1)
                  : s.kind === 'flipped' && right
                    ? right.map((b, j) => (j === 0 ? b ^ 1 : b))
                    : s.weird;
            const err = coded(() => a.accept(s.index as number, data as Uint8Array), ['BAD_REQUEST', 'UPLOAD_OUT_OF_ORDER']);
            if (err === undefined && s.kind !== 'right') altered = true;
          }
          for (let i = a.next; i < chunks.length; i++) coded(() => a.accept(i, chunks[i] as Uint8Array), ['BAD_REQUEST']);
          let out: Uint8Array | undefined;
          coded(() => (out = a.finish()), ['BAD_REQUEST', 'CORRUPT_PAYLOAD']);
          if (out) expect(uploadTail(out)).toBe((params as { tail: string }).tail);
          if (out && !altered) expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
        },
      ),
      { ...opts, numRuns: runs(1500) },
    );
    expect(heapAfterGc() - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
