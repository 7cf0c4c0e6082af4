import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/prng.js';
import { decodeTensors, encodeTensors, flatSize, frameDigest, readFloat32LE, type NamedTensor } from '../../protocol/codec.js';
import { bitsOf, dataSection, float32Bytes, handFrame, headerText, thrown } from './helpers.js';

function tensor(name: string, shape: number[], fill: (i: number) => number = (i) => i + 0.5): NamedTensor {
  return { name, shape, data: Float32Array.from({ length: flatSize(shape) }, (_, i) => fill(i)) };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(bitsOf(a)).equals(bitsOf(b));
}

describe('encodeTensors / decodeTensors', () => {
  it('writes exactly the documented byte layout', () => {
    const w = tensor('w', [2, 1]);
    const json = JSON.stringify({ tensors: [{ name: 'w', dtype: 'float32', shape: [2, 1] }], meta: { round: 3 } });

    const frame = encodeTensors([w], { round: 3 });

    expect(Buffer.from(frame).equals(handFrame(json, float32Bytes([0.5, 1.5])))).toBe(true);
  });

  it('round-trips no tensors at all', () => {
    const frame = encodeTensors([]);

    const out = decodeTensors(frame);

    expect(out.tensors).toEqual([]);
    expect(out.meta).toEqual({});
    expect(dataSection(frame).length).toBe(0);
  });

  it('round-trips zero-size tensors, a scalar and odd shapes, keeping order', () => {
    const input = [
      tensor('empty', [0]),
      tensor('also-empty', [3, 0, 2]),
      tensor('scalar', [], () => -7.25),
      tensor('odd', [3, 1, 7]),
      tensor('bias', [5]),
    ];

    const out = decodeTensors(encodeTensors(input));

    expect(out.tensors.map((t) => [t.name, t.shape, t.data.length])).toEqual([
      ['empty', [0], 0],
      ['also-empty', [3, 0, 2], 0],
      ['scalar', [], 1],
      ['odd', [3, 1, 7], 21],
      ['bias', [5], 5],
    ]);
    out.tensors.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(input[i]!.data)));
  });

  it('preserves meta, including non-ASCII text, and aligns the data to 4 bytes', () => {
    const meta = { kind: 'weights', institution: 'hôpital-zürich', note: '🏥 ünïcödé', nested: { a: [1, 2, { b: null }] }, ok: true };
    for (const pad of ['', 'x', 'xx', 'xxx']) {
      const frame = encodeTensors([tensor(`t${pad}`, [3])], { ...meta, pad });

      const out = decodeTensors(frame);

      expect(out.meta).toEqual({ ...meta, pad });
      expect((frame.length - 32 - dataSection(frame).length) % 4).toBe(0);
    }
  });

  it('round-trips an 8.8 MB model bit-exactly and without copying the data', () => {
    const rng = createPrng(7);
    const special = [0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity];
    const big = tensor('dense_0/kernel', [2_200_000], (i) => (i < special.length ? special[i]! : rng.normal()));
    const input = [big, tensor('dense_0/bias', [1000], () => rng.normal())];

    const frame = encodeTensors(input, { round: 1 });
    const out = decodeTensors(frame);

    expect(frame.length).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(sameBits(out.tensors[0]!.data, big.data)).toBe(true);
    expect(sameBits(out.tensors[1]!.data, input[1]!.data)).toBe(true);
    expect(Object.is(out.tensors[0]!.data[1], -0)).toBe(true);
    expect(out.tensors[0]!.data.buffer).toBe(frame.buffer);
  });

  it('decodes a frame at an odd byteOffset by copying', () => {
    const input = [tensor('a', [3, 1, 7]), tensor('b', [5], (i) => -i)];
    const frame = encodeTensors(input);
    const holder = Buffer.alloc(frame.length + 1);
    holder.set(frame, 1);
    const odd = holder.subarray(1); // a node Buffer, as socket.io delivers, misaligned

    const out = decodeTensors(odd);

    expect(odd.byteOffset % 4).not.toBe(0);
    out.tensors.forEach((t, i) => expect(sameBits(t.data, input[i]!.data)).toBe(true));
    expect(out.tensors[0]!.data.buffer).not.toBe(holder.buffer);
  });

  it('reports the digest stored in the trailer', () => {
    const frame = encodeTensors([tensor('w', [4])], { a: 1 });
    const expected = createHash('sha256')
      .update(frame.subarray(0, frame.length - 32))
      .digest('hex');

    expect(frameDigest(frame)).toBe(expected);
    expect(decodeTensors(frame).digest).toBe(expected);
  });

  it('leaves the trailer zero with trailer: false (for an envelope), which only an authenticated decode accepts', () => {
    const input = [tensor('w', [4])];
    const hashed = encodeTensors(input, { a: 1 });
    const bare = encodeTensors(input, { a: 1 }, { trailer: false });

    expect(bare.subarray(0, bare.length - 32)).toEqual(hashed.subarray(0, hashed.length - 32));
    expect(bare.subarray(bare.length - 32)).toEqual(new Uint8Array(32));
    expect(decodeTensors(bare, { authenticated: true }).tensors).toEqual(decodeTensors(hashed).tensors);
    expect(() => decodeTensors(bare)).toThrow(/digest mismatch/);
  });

  it('refuses to encode a tensor whose data does not match its shape', () => {
    const bad = { name: 'w', shape: [2, 3], data: new Float32Array(5) };

    const error = thrown(() => encodeTensors([bad]));

    expect(error.code).toBe('SHAPE_MISMATCH');
    expect(error.message).toMatch(/'w'.*needs 6 values, data has 5/);
  });

  it('refuses to encode bad names, shapes and meta', () => {
    const one = new Float32Array(1);
    const cases: [NamedTensor[], unknown, RegExp][] = [
      [[{ name: '', shape: [1], data: one }], {}, /tensors\.0\.name/],
      [
        [
          { name: 'a', shape: [1], data: one },
          { name: 'a', shape: [1], data: one },
        ],
        {},
        /duplicate tensor name 'a'/,
      ],
      [[{ name: 'a', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data: one }], {}, /shape/],
      [[{ name: 'a', shape: [-1], data: one }], {}, /shape/],
      [[{ name: 'a', shape: [0.5], data: one }], {}, /shape/],
      [[], { n: 1n }, /JSON/],
    ];
    for (const [tensors, meta, message] of cases) {
      const error = thrown(() => encodeTensors(tensors, meta as Record<string, unknown>));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(message);
    }
  });

  it('reads little-endian float32 on any host', () => {
    const out = readFloat32LE(new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]));

    expect(Array.from(out)).toEqual([1, -2]);
  });

  it('keeps the header readable as JSON', () => {
    const frame = encodeTensors([tensor('w', [2])], { round: 2 });

    expect(JSON.parse(headerText(frame))).toEqual({ tensors: [{ name: 'w', dtype: 'float32', shape: [2] }], meta: { round: 2 } });
  });
});
