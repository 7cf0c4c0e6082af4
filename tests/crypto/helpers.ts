/** Test helpers for crypto/: a deterministic random source and a temp-dir fixture. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../crypto/hash.js';
import { concatBytes, u32le, utf8Encode } from '../../crypto/bytes.js';
import type { RandomSource } from '../../crypto/random.js';

/** A reproducible RandomSource: SHA-256(label || counter) blocks. For tests only. */
export function seededRandom(label: string): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let offset = 0; offset < n; offset += 32) {
      out.set(sha256(concatBytes(utf8Encode(label), u32le(counter++))).subarray(0, Math.min(32, n - offset)), offset);
    }
    return out;
  };
}

/** A fresh directory under os.tmpdir() and a function that removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-crypto-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A copy of `bytes` with bit 0 of byte `index` flipped. */
export function flipped(bytes: Uint8Array, index: number): Uint8Array {
  const copy = bytes.slice();
  copy[index] = (copy[index] as number) ^ 1;
  return copy;
}
