/** Chunked upload: split a frame into acknowledged chunks below socket.io's 1 MB limit, and reassemble them. */
import { createHash } from 'node:crypto';
import { CohortError } from './errors.js';

/** Chunk size used by default: half of socket.io's default `maxHttpBufferSize` (1 MB). */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;
/** Most chunks one upload may have (keeps per-upload bookkeeping and event counts bounded). */
export const MAX_CHUNK_COUNT = 65_536;

/** A caller's value in an error message: a number or at most 32 characters of a string, else its type. */
const quote = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v).slice(0, 32) : typeof v);

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Splits bytes into `chunkBytes`-sized views (no copy); the last one may be shorter.
 * Throws BAD_REQUEST for empty input or a chunk size that is not a positive integer.
 * @example splitIntoChunks(frame, DEFAULT_CHUNK_BYTES).length // Math.ceil(frame.length / 524288)
 */
export function splitIntoChunks<T extends ArrayBufferLike>(
  bytes: Uint8Array<T>,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): Uint8Array<T>[] {
  if (!(bytes instanceof Uint8Array)) throw new CohortError('BAD_REQUEST', 'upload must be a Uint8Array');
  if (bytes.length === 0) throw new CohortError('BAD_REQUEST', 'cannot upload zero bytes');
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    throw new CohortError('BAD_REQUEST', `chunkBytes must be a positive integer, got ${quote(chunkBytes)}`);
  }
  const chunks: Uint8Array<T>[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  return chunks;
}

export interface ChunkAssemblerOptions {
  /** Size of the whole upload in bytes. */
  totalBytes: number;
  /** Size of every chunk but the last. */
  chunkBytes: number;
  /** Lowercase hex SHA-256 of the whole upload. */
  sha256: string;
  /** Largest upload the receiver accepts. */
  maxBytes: number;
}

/**
 * Reassembles one upload from chunks sent in any order into a buffer allocated once.
 * A re-sent identical chunk counts as a duplicate (resume after reconnect); `received()` tells a
 * reconnecting sender what to skip.
 * @example
 * const asm = new ChunkAssembler({ totalBytes, chunkBytes, sha256, maxBytes: 8 << 20 });
 * asm.accept(1, second); asm.accept(0, first);
 * const frame = asm.finish(); // throws unless complete and the SHA-256 matches
 */
export class ChunkAssembler {
  readonly totalBytes: number;
  readonly chunkBytes: number;
  readonly sha256: string;
  readonly #buffer: Uint8Array<ArrayBuffer>;
  readonly #have: Uint8Array;
  #count = 0;
  #finished = false;

  constructor(opts: ChunkAssemblerOptions) {
    const { totalBytes, chunkBytes, sha256, maxBytes } = opts;
    if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0) {
      throw new CohortError('BAD_REQUEST', `totalBytes must be a positive integer, got ${quote(totalBytes)}`);
    }
    if (totalBytes > maxBytes) {
      throw new CohortError('PAYLOAD_TOO_LARGE', `upload of ${totalBytes} bytes exceeds the limit of ${maxBytes}`);
    }
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
      throw new CohortError('BAD_REQUEST', `chunkBytes must be a positive integer, got ${quote(chunkBytes)}`);
    }
    if (Math.ceil(totalBytes / chunkBytes) > MAX_CHUNK_COUNT) {
      throw new CohortError('BAD_REQUEST', `chunkBytes ${chunkBytes} splits ${totalBytes} bytes into more than ${MAX_CHUNK_COUNT} chunks`);
    }
    if (typeof sha256 !== 'string' || !HEX_SHA256.test(sha256)) {
      throw new CohortError('BAD_REQUEST', 'sha256 must be 64 lowercase hex characters');
    }
    this.totalBytes = totalBytes;
    this.chunkBytes = chunkBytes;
    this.sha256 = sha256;
    this.#buffer = new Uint8Array(totalBytes);
    this.#have = new Uint8Array(Math.ceil(totalBytes / chunkBytes));
  }

  /** Number of chunks the upload is made of. */
  get chunkCount(): number {
    return this.#have.length;
  }

  /** True once every chunk has been received. */
  get complete(): boolean {
    return this.#count === this.#have.length;
  }

  /**
   * Stores chunk `index`; BAD_REQUEST for an index out of range, a wrong length, different bytes
   * for a chunk already received, or an upload already finished.
   * @example asm.accept(0, chunk) // { received: 1, duplicate: false }
   */
  accept(index: number, data: Uint8Array): { received: number; duplicate: boolean } {
    if (this.#finished) throw new CohortError('BAD_REQUEST', 'upload already finished');
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new CohortError('BAD_REQUEST', `chunk index ${quote(index)} out of range 0..${this.chunkCount - 1}`);
    }
    if (!(data instanceof Uint8Array)) throw new CohortError('BAD_REQUEST', `chunk ${index} must be bytes`);
    const start = index * this.chunkBytes;
    const end = Math.min(start + this.chunkBytes, this.totalBytes);
    if (data.length !== end - start) {
      throw new CohortError('BAD_REQUEST', `chunk ${index} has ${data.length} bytes, expected ${end - start}`);
    }
    if (this.#have[index] === 1) {
      if (Buffer.compare(this.#buffer.subarray(start, end), data) !== 0) {
        throw new CohortError('BAD_REQUEST', `chunk ${index} re-sent with different bytes`);
      }
      return { received: this.#count, duplicate: true };
    }
    this.#buffer.set(data, start);
    this.#have[index] = 1;
    this.#count += 1;
    return { received: this.#count, duplicate: false };
  }

  /** Indices of the chunks not yet received, ascending. */
  missing(): number[] {
    return this.#indices(0);
  }

  /** Indices of the chunks received so far, ascending (what a resuming sender may skip). */
  received(): number[] {
    return this.#indices(1);
  }

  /**
   * The whole upload, once complete and matching its SHA-256 (BAD_REQUEST if incomplete,
   * CORRUPT_PAYLOAD on a mismatch). Returns the assembler's own buffer, without copying.
   * @example decodeTensors(asm.finish(), { maxBytes })
   */
  finish(): Uint8Array<ArrayBuffer> {
    if (this.#finished) return this.#buffer;
    if (!this.complete) {
      const missing = this.chunkCount - this.#count;
      throw new CohortError('BAD_REQUEST', `upload incomplete: ${missing} of ${this.chunkCount} chunks missing`);
    }
    const actual = createHash('sha256').update(this.#buffer).digest('hex');
    if (actual !== this.sha256) {
      throw new CohortError('CORRUPT_PAYLOAD', `upload SHA-256 mismatch: announced ${this.sha256}, received bytes hash to ${actual}`);
    }
    this.#finished = true;
    return this.#buffer;
  }

  #indices(flag: 0 | 1): number[] {
    const out: number[] = [];
    this.#have.forEach((v, i) => {
      if (v === flag) out.push(i);
    });
    return out;
  }
}
