/**
 * Holds a round's whole updates for the robust strategies, within a byte budget: updates are kept in
 * memory while they fit in `memoryBytes`, and later ones are appended to a temporary file (this is the
 * one place in coordinator/strategies that uses node:fs). Reads go by coordinate block, so aggregation
 * needs at most `blockBytes` of scratch whatever the number of updates.
 *
 * Memory bound of a round: memoryBytes (updates held in memory) + blockBytes (scratch for one block
 * of the spilled updates) + the result (4 B/param) + one column of n values (Krum adds 8·n² bytes of
 * distances). Disk: 4 B/param per spilled update. Reads and writes are synchronous (the Accumulator
 * interface is), measured ~0.1 s for 10 spilled updates of 1.66M parameters. The spill file lives in
 * a fresh 0700 directory under `spillDir` (default os.tmpdir()), is created 0600 (updates are institutions' model weights, in the
 * clear), and is deleted by `dispose()`, which the accumulators call from `result()` and on error; a
 * process 'exit' hook deletes any left over.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BufferOptions {
  /** Bytes of updates kept in memory before spilling to disk (0: spill everything). */
  memoryBytes: number;
  /** Scratch bytes for reading one coordinate block of every update. */
  blockBytes: number;
  /** Where the spill directory is created; default os.tmpdir(). */
  spillDir?: string;
}

const live = new Set<string>();
let exitHookInstalled = false;

function removeDir(dir: string): void {
  live.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function trackDir(dir: string): void {
  live.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const d of [...live]) removeDir(d);
  });
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * A list of flat updates (all tensors of one update concatenated, `dim` values), memory first, then disk.
 * @example
 * const buf = new UpdateBuffer([4, 2], { memoryBytes: 0, blockBytes: 1 << 20 });
 * buf.push([new Float32Array(4), new Float32Array(2)]);
 * buf.block(0, 6); // [Float32Array(6)]: coordinates 0..5 of every update
 * buf.dispose();
 */
export class UpdateBuffer {
  readonly dim: number;
  private readonly memory: Float32Array[] = [];
  private spilledCount = 0;
  private pushed = 0;
  private dir: string | undefined;
  private fd: number | undefined;
  private disposed = false;
  private scratch: Float32Array | undefined;

  constructor(
    readonly sizes: number[],
    private readonly opts: BufferOptions,
  ) {
    this.dim = sizes.reduce((a, b) => a + b, 0);
  }

  /** Number of updates held. */
  get length(): number {
    return this.pushed;
  }

  /** Number of updates written to the spill file. */
  get spilled(): number {
    return this.spilledCount;
  }

  /** Bytes of updates held in memory (at most `memoryBytes`). */
  get bytesInMemory(): number {
    return this.memory.length * this.dim * 4;
  }

  /** The spill file's directory while one exists. */
  get spillPath(): string | undefined {
    return this.dir;
  }

  /** Copies one update in (its tensors are not kept). Memory while it fits, else the spill file. */
  push(tensors: Float32Array[]): void {
    if (this.disposed) throw new Error('update buffer already disposed');
    if (this.bytesInMemory + this.dim * 4 <= this.opts.memoryBytes) {
      const flat = new Float32Array(this.dim);
      let offset = 0;
      for (const t of tensors) {
        flat.set(t, offset);
        offset += t.length;
      }
      this.memory.push(flat);
      this.pushed += 1;
      return;
    }
    const fd = this.openSpill();
    let position = this.spilledCount * this.dim * 4;
    for (const t of tensors) {
      const bytes = bytesOf(t);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
      position += bytes.length;
    }
    this.spilledCount += 1;
    this.pushed += 1;
  }

  /** Coordinates per block such that one block of every update fits in `blockBytes` (at least 1). */
  blockSize(): number {
    return Math.max(1, Math.floor(this.opts.blockBytes / (4 * Math.max(1, this.spilledCount))));
  }

  /**
   * Coordinates [start, end) of every update, in order: views into memory for the in-memory ones,
   * reads from the spill file for the others (into scratch reused by the next call: copy to keep).
   */
  block(start: number, end: number): Float32Array[] {
    if (this.disposed) throw new Error('update buffer already disposed');
    const n = end - start;
    const out = this.memory.map((u) => u.subarray(start, end));
    if (this.spilledCount === 0) return out;
    const fd = this.fd as number;
    const scratch = this.scratchFor(n);
    for (let s = 0; s < this.spilledCount; s++) {
      const view = scratch.subarray(s * n, (s + 1) * n);
      const bytes = bytesOf(view);
      const position = (s * this.dim + start) * 4;
      for (let done = 0; done < bytes.length;) {
        const read = readSync(fd, bytes, done, bytes.length - done, position + done);
        if (read === 0) throw new Error('spill file is shorter than expected');
        done += read;
      }
      out.push(view);
    }
    return out;
  }

  /** The whole update `i`, as a new array. */
  update(i: number): Float32Array {
    if (this.disposed) throw new Error('update buffer already disposed');
    const inMemory = this.memory[i];
    if (inMemory) return inMemory.slice();
    const out = new Float32Array(this.dim);
    const step = Math.max(1, Math.floor(this.opts.blockBytes / 4));
    for (let start = 0; start < this.dim; start += step) {
      const end = Math.min(this.dim, start + step);
      const bytes = bytesOf(out.subarray(start, end));
      const position = ((i - this.memory.length) * this.dim + start) * 4;
      for (let done = 0; done < bytes.length;) {
        const read = readSync(this.fd as number, bytes, done, bytes.length - done, position + done);
        if (read === 0) throw new Error('spill file is shorter than expected');
        done += read;
      }
    }
    return out;
  }

  /** Frees the memory and deletes the spill file. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.memory.length = 0;
    this.scratch = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.dir) removeDir(this.dir);
    this.dir = undefined;
  }

  private scratchFor(n: number): Float32Array {
    const need = n * this.spilledCount;
    if (!this.scratch || this.scratch.length < need) this.scratch = new Float32Array(need);
    return this.scratch;
  }

  private openSpill(): number {
    if (this.fd !== undefined) return this.fd;
    const dir = mkdtempSync(join(this.opts.spillDir ?? tmpdir(), 'cohort-spill-'));
    trackDir(dir);
    this.dir = dir;
    this.fd = openSync(join(dir, 'updates.f32'), 'w+', 0o600);
    return this.fd;
  }
}

/** Splits a flat update back into tensors of `sizes`. */
export function unflatten(flat: Float32Array, sizes: number[]): Float32Array[] {
  let offset = 0;
  return sizes.map((size) => {
    const t = flat.slice(offset, offset + size);
    offset += size;
    return t;
  });
}
