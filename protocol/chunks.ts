/** Chunked upload: split an envelope into in-order, windowed chunks below socket.io's 1 MB limit, and reassemble them. */
import { CohortError } from './errors.js';

/** Chunk size used by default: half of socket.io's default `maxHttpBufferSize` (1 MB). */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;
/** Most chunks one upload may have (keeps per-upload bookkeeping and event counts bounded). */
export const MAX_CHUNK_COUNT = 65_536;
/** Chunks a sender keeps unacknowledged by default: 8 x 512 KiB = 4 MiB in flight, far below the coordinator's byte bucket. */
export const DEFAULT_UPLOAD_WINDOW = 8;
/** Bytes of an upload's tail announced at `update:begin`: an envelope's Ed25519 signature, which commits to every byte before it. */
export const UPLOAD_TAIL_BYTES = 64;

/** A caller's value in an error message: a number or at most 32 characters of a string, else its type. */
const quote = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v).slice(0, 32) : typeof v);

const HEX_TAIL = new RegExp(`^[0-9a-f]{${UPLOAD_TAIL_BYTES * 2}}$`);

/**
 * The hex of an upload's last 64 bytes, as `update:begin` announces them (for an envelope: its signature).
 * @example uploadTail(envelope) // 128 hex characters
 */
export function uploadTail(bytes: Uint8Array): string {
  if (bytes.length < UPLOAD_TAIL_BYTES) throw new CohortError('BAD_REQUEST', `an upload has at least ${UPLOAD_TAIL_BYTES} bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset + bytes.length - UPLOAD_TAIL_BYTES, UPLOAD_TAIL_BYTES).toString('hex');
}

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
  /** Lowercase hex of the upload's last 64 bytes (`uploadTail`): names this upload for a resume, checked at finish. */
  tail: string;
  /** Largest upload the receiver accepts. */
  maxBytes: number;
}

/**
 * Reassembles one upload from chunks that arrive in order into a buffer allocated once. No hash: the
 * envelope inside is authenticated (AEAD + signature) when it is opened. A gap or a chunk already held
 * is refused (`UPLOAD_OUT_OF_ORDER`); `next` tells a reconnecting sender where to resume.
 * @example
 * const asm = new ChunkAssembler({ totalBytes, chunkBytes, tail: uploadTail(envelope), maxBytes: 8 << 20 });
 * asm.accept(0, first); asm.accept(1, second);
 * const envelope = asm.finish(); // throws unless complete and ending with the announced tail
 */
export class ChunkAssembler {
  readonly totalBytes: number;
  readonly chunkBytes: number;
  readonly tail: string;
  readonly chunkCount: number;
  readonly #buffer: Uint8Array<ArrayBuffer>;
  #next = 0;
  #finished = false;

  constructor(opts: ChunkAssemblerOptions) {
    const { totalBytes, chunkBytes, tail, maxBytes } = opts;
    if (!Number.isSafeInteger(totalBytes) || totalBytes < UPLOAD_TAIL_BYTES) {
      throw new CohortError('BAD_REQUEST', `totalBytes must be an integer of at least ${UPLOAD_TAIL_BYTES}, got ${quote(totalBytes)}`);
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
    if (typeof tail !== 'string' || !HEX_TAIL.test(tail)) {
      throw new CohortError(
        'BAD_REQUEST',
        `tail must be ${UPLOAD_TAIL_BYTES * 2} lowercase hex characters (the upload's last ${UPLOAD_TAIL_BYTES} bytes)`,
      );
    }
    this.totalBytes = totalBytes;
    this.chunkBytes = chunkBytes;
    this.tail = tail;
    this.chunkCount = Math.ceil(totalBytes / chunkBytes);
    this.#buffer = new Uint8Array(totalBytes);
  }

  /** Index of the next chunk expected: every chunk below it is held (where a resuming sender starts). */
  get next(): number {
    return this.#next;
  }

  /** True once every chunk has been received. */
  get complete(): boolean {
    return this.#next === this.chunkCount;
  }

  /**
   * Stores chunk `index`, which must be `next`: UPLOAD_OUT_OF_ORDER for a chunk already held or one
   * beyond a gap; BAD_REQUEST for an index out of range, a wrong length, or an upload already finished.
   * @example asm.accept(0, chunk) // { received: 1 }
   */
  accept(index: number, data: Uint8Array): { received: number } {
    if (this.#finished) throw new CohortError('BAD_REQUEST', 'upload already finished');
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new CohortError('BAD_REQUEST', `chunk index ${quote(index)} out of range 0..${this.chunkCount - 1}`);
    }
    if (index < this.#next) {
      throw new CohortError(
        'UPLOAD_OUT_OF_ORDER',
        `chunk ${index} is a duplicate: chunks 0..${this.#next - 1} are held, next is ${this.#next}`,
      );
    }
    if (index > this.#next) {
      throw new CohortError('UPLOAD_OUT_OF_ORDER', `chunk ${index} out of order: chunk ${this.#next} is next (chunks are sent in order)`);
    }
    if (!(data instanceof Uint8Array)) throw new CohortError('BAD_REQUEST', `chunk ${index} must be bytes`);
    const start = index * this.chunkBytes;
    const end = Math.min(start + this.chunkBytes, this.totalBytes);
    if (data.length !== end - start) {
      throw new CohortError('BAD_REQUEST', `chunk ${index} has ${data.length} bytes, expected ${end - start}`);
    }
    this.#buffer.set(data, start);
    this.#next += 1;
    return { received: this.#next };
  }

  /**
   * The whole upload, once complete and ending with the announced tail (BAD_REQUEST if incomplete,
   * CORRUPT_PAYLOAD otherwise). Returns the assembler's own buffer, without copying.
   * @example openEnvelope(asm.finish(), keys)
   */
  finish(): Uint8Array<ArrayBuffer> {
    if (this.#finished) return this.#buffer;
    if (!this.complete) {
      const missing = this.chunkCount - this.#next;
      throw new CohortError('BAD_REQUEST', `upload incomplete: ${missing} of ${this.chunkCount} chunks missing`);
    }
    const actual = uploadTail(this.#buffer);
    if (actual !== this.tail) {
      throw new CohortError(
        'CORRUPT_PAYLOAD',
        `upload does not end with the announced tail: announced ${this.tail.slice(0, 16)}..., received ${actual.slice(0, 16)}...`,
      );
    }
    this.#finished = true;
    return this.#buffer;
  }
}
