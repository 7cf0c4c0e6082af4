/** Measures bulk-cipher, hash and signature throughput, to pick the envelope's AEAD from numbers. */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import nacl from 'tweetnacl';

/** One measured operation. `mbPerSec` is over `bytes` (MB = 10^6 bytes); `ratio` = fastest / this, for rows over the full buffer. */
export interface Row {
  operation: string;
  bytes: number;
  medianMs: number;
  mbPerSec: number;
  /** How many times slower than the fastest full-buffer row; null for rows over a 32-byte digest. */
  ratio: number | null;
}

export interface CipherBenchOptions {
  /** Fewer repetitions (3 instead of 7, plus one uncounted warm-up), for a smoke run. */
  quick?: boolean;
  /** Buffer size; default 8 MiB. */
  bufferBytes?: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function aeadSeal(algorithm: 'aes-256-gcm' | 'chacha20-poly1305', key: Uint8Array, nonce: Uint8Array, data: Uint8Array) {
  const cipher =
    algorithm === 'aes-256-gcm'
      ? createCipheriv(algorithm, key, nonce, { authTagLength: 16 })
      : createCipheriv(algorithm, key, nonce, { authTagLength: 16 });
  const body = cipher.update(data);
  cipher.final();
  return { body, tag: cipher.getAuthTag() };
}

function aeadOpen(
  algorithm: 'aes-256-gcm' | 'chacha20-poly1305',
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: { body: Uint8Array; tag: Uint8Array },
) {
  const decipher =
    algorithm === 'aes-256-gcm'
      ? createDecipheriv(algorithm, key, nonce, { authTagLength: 16 })
      : createDecipheriv(algorithm, key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.tag);
  const out = decipher.update(sealed.body);
  decipher.final();
  return out;
}

/**
 * Runs every measurement once and returns the rows (also usable from reports).
 * @example const rows = await runCipherBench({ quick: true }); console.log(formatCipherTable(rows));
 */
export async function runCipherBench(options: CipherBenchOptions = {}): Promise<Row[]> {
  const runs = options.quick ? 3 : 7;
  const size = options.bufferBytes ?? 8 * 1024 * 1024;
  const data = new Uint8Array(randomBytes(size));
  const key = new Uint8Array(randomBytes(32));
  const nonce12 = new Uint8Array(randomBytes(12));
  const nonce24 = new Uint8Array(randomBytes(24));
  const signer = nacl.sign.keyPair.fromSeed(new Uint8Array(randomBytes(32)));
  const digest = new Uint8Array(createHash('sha256').update(data).digest());
  const fullSig = nacl.sign.detached(data, signer.secretKey);
  const digestSig = nacl.sign.detached(digest, signer.secretKey);
  const boxed = nacl.secretbox(data, nonce24, key);
  const gcm = aeadSeal('aes-256-gcm', key, nonce12, data);
  const chacha = aeadSeal('chacha20-poly1305', key, nonce12, data);

  const cases: Array<{ operation: string; bytes: number; fn: () => unknown; inner: number }> = [];
  const add = (operation: string, bytes: number, fn: () => unknown, inner = 1) => cases.push({ operation, bytes, fn, inner });
  add('tweetnacl secretbox seal (xsalsa20-poly1305)', size, () => nacl.secretbox(data, nonce24, key));
  add('tweetnacl secretbox open', size, () => nacl.secretbox.open(boxed, nonce24, key));
  add('node aes-256-gcm seal', size, () => aeadSeal('aes-256-gcm', key, nonce12, data));
  add('node aes-256-gcm open', size, () => aeadOpen('aes-256-gcm', key, nonce12, gcm));
  add('node chacha20-poly1305 seal', size, () => aeadSeal('chacha20-poly1305', key, nonce12, data));
  add('node chacha20-poly1305 open', size, () => aeadOpen('chacha20-poly1305', key, nonce12, chacha));
  add('node sha256', size, () => createHash('sha256').update(data).digest());
  add('tweetnacl ed25519 sign (full buffer)', size, () => nacl.sign.detached(data, signer.secretKey));
  add('tweetnacl ed25519 verify (full buffer)', size, () => nacl.sign.detached.verify(data, fullSig, signer.publicKey));
  add('tweetnacl ed25519 sign (32-byte digest)', 32, () => nacl.sign.detached(digest, signer.secretKey), 50);
  add('tweetnacl ed25519 verify (32-byte digest)', 32, () => nacl.sign.detached.verify(digest, digestSig, signer.publicKey), 50);

  // Round-robin: each run times every case once, so a burst of load from elsewhere hits all cases alike.
  const samples = cases.map(() => [] as number[]);
  for (let r = -1; r < runs; r++) {
    for (const [index, c] of cases.entries()) {
      const start = performance.now();
      for (let i = 0; i < c.inner; i++) c.fn();
      if (r >= 0) samples[index]!.push((performance.now() - start) / c.inner);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const measured: Array<[string, number, number]> = cases.map((c, index) => [c.operation, c.bytes, median(samples[index]!)]);

  const ms = (name: string): number => measured.find(([op]) => op === name)?.[2] ?? Number.NaN;
  measured.push(['sha256 + ed25519 sign digest (full buffer)', size, ms('node sha256') + ms('tweetnacl ed25519 sign (32-byte digest)')]);
  measured.push([
    'sha256 + ed25519 verify digest (full buffer)',
    size,
    ms('node sha256') + ms('tweetnacl ed25519 verify (32-byte digest)'),
  ]);

  const rows = measured.map(([operation, bytes, medianMs]) => ({
    operation,
    bytes,
    medianMs,
    mbPerSec: bytes / 1e6 / (medianMs / 1000),
    ratio: null as number | null,
  }));
  const fastest = Math.max(...rows.filter((r) => r.bytes === size).map((r) => r.mbPerSec));
  for (const row of rows) if (row.bytes === size) row.ratio = fastest / row.mbPerSec;
  return rows;
}

/**
 * A markdown table of the rows.
 * @example console.log(formatCipherTable(await runCipherBench()));
 */
export function formatCipherTable(rows: Row[]): string {
  const lines = ['| operation | bytes | median ms | MB/s | x slower than fastest |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    const ratio = r.ratio === null ? '-' : r.ratio.toFixed(1);
    const mbs = r.bytes === 32 ? `${Math.round(1000 / r.medianMs)} ops/s` : r.mbPerSec.toFixed(0);
    lines.push(`| ${r.operation} | ${r.bytes} | ${r.medianMs.toFixed(r.medianMs < 10 ? 3 : 1)} | ${mbs} | ${ratio} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const rows = await runCipherBench({ quick });
  console.log(`Node ${process.version}, ${quick ? 'quick (3 runs)' : '7 runs'}, median, 8 MiB buffer, MB = 10^6 bytes\n`);
  console.log(formatCipherTable(rows));
}
