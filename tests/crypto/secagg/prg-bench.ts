/**
 * Not a test: measures the two keystream ciphers node:crypto offers for the mask PRG, the way prg.ts uses them
 * (64 KiB chunks of zeros), plus expandMask itself. Run: npx tsx tests/crypto/secagg/prg-bench.ts
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { expandMask } from '../../../crypto/secagg/prg.js';

const WORDS = 1_663_371; // McMahan's CNN + the weight entry
const CHUNK = 65536;
const zeros = new Uint8Array(CHUNK);

function keystream(cipherName: 'aes-256-ctr' | 'chacha20'): number {
  const cipher = createCipheriv(cipherName, randomBytes(32), new Uint8Array(16));
  const start = performance.now();
  for (let done = 0; done < 4 * WORDS; done += CHUNK) cipher.update(zeros.subarray(0, Math.min(CHUNK, 4 * WORDS - done)));
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const runs: Record<string, number[]> = { 'aes-256-ctr': [], chacha20: [], expandMask: [] };
for (let trial = 0; trial < 25; trial++) {
  runs['aes-256-ctr']?.push(keystream('aes-256-ctr'));
  runs.chacha20?.push(keystream('chacha20'));
  const start = performance.now();
  expandMask(new Uint8Array(randomBytes(32)), WORDS, { kind: 'self-mask', federation: 'bench', round: trial });
  runs.expandMask?.push(performance.now() - start);
}
for (const [name, times] of Object.entries(runs)) {
  const ms = median(times.slice(5));
  console.log(`${name.padEnd(12)} ${WORDS} words: median ${ms.toFixed(2)} ms, ${((4 * WORDS) / ms / 1e6).toFixed(2)} GB/s`);
}
