import { describe, expect, it } from 'vitest';
import { ChunkAssembler, DEFAULT_CHUNK_BYTES, splitIntoChunks, uploadTail } from '../../protocol/chunks.js';
import { thrown } from './helpers.js';

/** A deterministic upload of `n` bytes, its chunks and an assembler expecting it. */
function upload(n: number, chunkBytes: number, maxBytes = 1 << 20) {
  const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
  const tail = uploadTail(bytes);
  const chunks = splitIntoChunks(bytes, chunkBytes);
  const asm = new ChunkAssembler({ totalBytes: n, chunkBytes, tail, maxBytes });
  return { bytes, tail, chunks, asm };
}

describe('splitIntoChunks', () => {
  it('splits into views of chunkBytes with a shorter last chunk', () => {
    const bytes = new Uint8Array(10);

    const chunks = splitIntoChunks(bytes, 4);

    expect(chunks.map((c) => c.length)).toEqual([4, 4, 2]);
    expect(chunks.every((c) => c.buffer === bytes.buffer)).toBe(true);
    expect(splitIntoChunks(new Uint8Array(8), 4).map((c) => c.length)).toEqual([4, 4]);
    expect(splitIntoChunks(new Uint8Array(DEFAULT_CHUNK_BYTES + 1))).toHaveLength(2);
  });

  it('refuses empty uploads and nonsensical chunk sizes', () => {
    expect(thrown(() => splitIntoChunks(new Uint8Array(0), 4)).message).toMatch(/zero bytes/);
    for (const size of [0, -1, 1.5, NaN]) expect(thrown(() => splitIntoChunks(new Uint8Array(4), size)).code).toBe('BAD_REQUEST');
  });
});

describe('ChunkAssembler', () => {
  it('assembles chunks sent in order, without hashing them', () => {
    const { bytes, chunks, asm } = upload(1000, 300);

    const acks = chunks.map((c, i) => asm.accept(i, c));

    expect(acks).toEqual([1, 2, 3, 4].map((received) => ({ received })));
    expect(asm.chunkCount).toBe(4);
    expect(asm.complete).toBe(true);
    expect(Buffer.from(asm.finish()).equals(bytes)).toBe(true);
  });

  it('refuses a chunk beyond a gap and a duplicate by name, keeping what it holds', () => {
    const { bytes, chunks, asm } = upload(1000, 300);
    asm.accept(0, chunks[0]!);

    const ahead = thrown(() => asm.accept(2, chunks[2]!));
    const duplicate = thrown(() => asm.accept(0, chunks[0]!));

    expect(ahead.code).toBe('UPLOAD_OUT_OF_ORDER');
    expect(ahead.message).toBe('chunk 2 out of order: chunk 1 is next (chunks are sent in order)');
    expect(duplicate.code).toBe('UPLOAD_OUT_OF_ORDER');
    expect(duplicate.message).toBe('chunk 0 is a duplicate: chunks 0..0 are held, next is 1');
    expect(asm.next).toBe(1);
    for (let i = 1; i < chunks.length; i++) asm.accept(i, chunks[i]!);
    expect(Buffer.from(asm.finish()).equals(bytes)).toBe(true);
  });

  it('refuses a wrong index or a chunk of the wrong length', () => {
    const { chunks, asm } = upload(1000, 300);
    const cases: [number, Uint8Array, RegExp][] = [
      [4, chunks[0]!, /chunk index 4 out of range 0\.\.3/],
      [-1, chunks[0]!, /chunk index -1 out of range/],
      [1.5, chunks[0]!, /chunk index 1.5 out of range/],
      [0, chunks[3]!, /chunk 0 has 100 bytes, expected 300/],
      [0, new Uint8Array(301), /chunk 0 has 301 bytes, expected 300/],
    ];
    for (const [index, data, message] of cases) {
      const error = thrown(() => asm.accept(index, data));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(message);
    }
    expect(asm.next).toBe(0);
  });

  it('refuses to finish an incomplete upload, naming the missing count', () => {
    const { chunks, asm } = upload(1000, 300);
    asm.accept(0, chunks[0]!);

    const error = thrown(() => asm.finish());

    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toBe('upload incomplete: 3 of 4 chunks missing');
  });

  it('refuses to finish when the bytes do not end with the announced tail', () => {
    const { chunks } = upload(1000, 300);
    const asm = new ChunkAssembler({ totalBytes: 1000, chunkBytes: 300, tail: '0'.repeat(128), maxBytes: 1 << 20 });
    chunks.forEach((c, i) => asm.accept(i, c));

    const error = thrown(() => asm.finish());

    expect(error.code).toBe('CORRUPT_PAYLOAD');
    expect(error.message).toMatch(/does not end with the announced tail/);
  });

  it('refuses chunks after finishing', () => {
    const { chunks, asm } = upload(64, 64);
    asm.accept(0, chunks[0]!);
    asm.finish();

    expect(thrown(() => asm.accept(0, chunks[0]!)).message).toBe('upload already finished');
  });

  it('refuses an upload larger than maxBytes before allocating, and bad parameters', () => {
    const tail = 'a'.repeat(128);

    const tooLarge = thrown(() => new ChunkAssembler({ totalBytes: 2 ** 40, chunkBytes: 1024, tail, maxBytes: 8 << 20 }));

    expect(tooLarge.code).toBe('PAYLOAD_TOO_LARGE');
    expect(tooLarge.message).toMatch(/exceeds the limit of 8388608/);
    const bad: [number, number, string, RegExp][] = [
      [0, 10, tail, /totalBytes/],
      [63, 10, tail, /totalBytes must be an integer of at least 64/],
      [100, 0, tail, /chunkBytes/],
      [100, 2.5, tail, /chunkBytes/],
      [1 << 20, 1, tail, /more than 65536 chunks/],
      [100, 10, 'A'.repeat(128), /tail/],
      [100, 10, 'a'.repeat(64), /tail/],
    ];
    for (const [totalBytes, chunkBytes, t, message] of bad) {
      const error = thrown(() => new ChunkAssembler({ totalBytes, chunkBytes, tail: t, maxBytes: 8 << 20 }));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(message);
    }
  });
});

describe('uploadTail', () => {
  it("is the hex of the last 64 bytes (an envelope's signature), and refuses shorter input", () => {
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);

    expect(uploadTail(bytes)).toBe(Buffer.from(bytes.subarray(36)).toString('hex'));
    expect(uploadTail(bytes.subarray(10, 90))).toBe(Buffer.from(bytes.subarray(26, 90)).toString('hex'));
    expect(thrown(() => uploadTail(new Uint8Array(63))).code).toBe('BAD_REQUEST');
  });
});
