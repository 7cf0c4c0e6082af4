import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkAssembler, DEFAULT_CHUNK_BYTES, splitIntoChunks } from '../../protocol/chunks.js';
import { thrown } from './helpers.js';

/** A deterministic upload of `n` bytes, its chunks and an assembler expecting it. */
function upload(n: number, chunkBytes: number, maxBytes = 1 << 20) {
  const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const chunks = splitIntoChunks(bytes, chunkBytes);
  const asm = new ChunkAssembler({ totalBytes: n, chunkBytes, sha256, maxBytes });
  return { bytes, sha256, chunks, asm };
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
  it('assembles chunks sent in order', () => {
    const { bytes, chunks, asm } = upload(1000, 300);

    const acks = chunks.map((c, i) => asm.accept(i, c));

    expect(acks).toEqual([1, 2, 3, 4].map((received) => ({ received, duplicate: false })));
    expect(asm.chunkCount).toBe(4);
    expect(asm.complete).toBe(true);
    expect(Buffer.from(asm.finish()).equals(bytes)).toBe(true);
  });

  it('assembles chunks sent out of order and reports what is missing', () => {
    const { bytes, chunks, asm } = upload(1000, 300);

    asm.accept(3, chunks[3]!);
    asm.accept(1, chunks[1]!);

    expect(asm.received()).toEqual([1, 3]);
    expect(asm.missing()).toEqual([0, 2]);
    expect(asm.complete).toBe(false);
    asm.accept(2, chunks[2]!);
    asm.accept(0, chunks[0]!);
    expect(Buffer.from(asm.finish()).equals(bytes)).toBe(true);
  });

  it('treats a re-sent identical chunk as a duplicate, and refuses one with different bytes', () => {
    const { chunks, asm } = upload(1000, 300);
    asm.accept(0, chunks[0]!);

    const again = asm.accept(0, chunks[0]!.slice());
    const changed = chunks[0]!.slice();
    changed[5] = (changed[5] as number) ^ 1;

    expect(again).toEqual({ received: 1, duplicate: true });
    expect(thrown(() => asm.accept(0, changed)).message).toMatch(/chunk 0 re-sent with different bytes/);
  });

  it('refuses a wrong index or a chunk of the wrong length', () => {
    const { chunks, asm } = upload(1000, 300);
    const cases: [number, Uint8Array, RegExp][] = [
      [4, chunks[0]!, /chunk index 4 out of range 0\.\.3/],
      [-1, chunks[0]!, /chunk index -1 out of range/],
      [1.5, chunks[0]!, /chunk index 1.5 out of range/],
      [0, chunks[3]!, /chunk 0 has 100 bytes, expected 300/],
      [3, chunks[0]!, /chunk 3 has 300 bytes, expected 100/],
    ];
    for (const [index, data, message] of cases) {
      const error = thrown(() => asm.accept(index, data));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(message);
    }
    expect(asm.received()).toEqual([]);
  });

  it('refuses to finish an incomplete upload, naming the missing count', () => {
    const { chunks, asm } = upload(1000, 300);
    asm.accept(2, chunks[2]!);

    const error = thrown(() => asm.finish());

    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toBe('upload incomplete: 3 of 4 chunks missing');
  });

  it('refuses to finish when the bytes do not match the announced SHA-256', () => {
    const { chunks } = upload(1000, 300);
    const asm = new ChunkAssembler({ totalBytes: 1000, chunkBytes: 300, sha256: '0'.repeat(64), maxBytes: 1 << 20 });
    chunks.forEach((c, i) => asm.accept(i, c));

    const error = thrown(() => asm.finish());

    expect(error.code).toBe('CORRUPT_PAYLOAD');
    expect(error.message).toMatch(/SHA-256 mismatch/);
  });

  it('refuses chunks after finishing', () => {
    const { chunks, asm } = upload(10, 10);
    asm.accept(0, chunks[0]!);
    asm.finish();

    expect(thrown(() => asm.accept(0, chunks[0]!)).message).toBe('upload already finished');
  });

  it('refuses an upload larger than maxBytes before allocating, and bad parameters', () => {
    const sha256 = 'a'.repeat(64);

    const tooLarge = thrown(() => new ChunkAssembler({ totalBytes: 2 ** 40, chunkBytes: 1024, sha256, maxBytes: 8 << 20 }));

    expect(tooLarge.code).toBe('PAYLOAD_TOO_LARGE');
    expect(tooLarge.message).toMatch(/exceeds the limit of 8388608/);
    const bad: [number, number, string, RegExp][] = [
      [0, 10, sha256, /totalBytes/],
      [100, 0, sha256, /chunkBytes/],
      [100, 2.5, sha256, /chunkBytes/],
      [1 << 20, 1, sha256, /more than 65536 chunks/],
      [100, 10, 'A'.repeat(64), /sha256/],
    ];
    for (const [totalBytes, chunkBytes, sha, message] of bad) {
      const error = thrown(() => new ChunkAssembler({ totalBytes, chunkBytes, sha256: sha, maxBytes: 8 << 20 }));
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message).toMatch(message);
    }
  });
});
