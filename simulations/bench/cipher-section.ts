/** The cipher bench as a section of `npm run bench`: bulk cipher, hash and signature throughput (id `cipher`). */
import { runCipherBench } from './cipher-bench.js';
import type { BenchSection } from './section.js';

/**
 * Runs the cipher bench (8 MiB buffer, 7 rounds; quick: 256 KiB, 3 rounds) and returns its table.
 * @example const result = await cipherSection.run({ quick: true, outDir, log: console.error });
 */
export const cipherSection: BenchSection = {
  id: 'cipher',
  title: 'Bulk cipher, hash and signature throughput',
  async run(ctx) {
    const bufferBytes = ctx.quick ? 256 * 1024 : 8 * 1024 * 1024;
    ctx.log(`cipher: ${ctx.quick ? '3' : '7'} rounds over ${bufferBytes / 1024} KiB`);
    const rows = await runCipherBench({ quick: ctx.quick, bufferBytes });
    const fastest = rows.find((r) => r.ratio === 1);
    return {
      title: 'Bulk cipher, hash and signature throughput',
      columns: ['operation', 'bytes', 'median ms', 'MB/s', 'x slower than fastest'],
      rows: rows.map((r) => ({
        cells: [
          r.operation,
          String(r.bytes),
          r.medianMs.toFixed(r.medianMs < 10 ? 3 : 1),
          r.bytes === 32 ? `${Math.round(1000 / r.medianMs)} ops/s` : r.mbPerSec.toFixed(0),
          r.ratio === null ? '-' : r.ratio.toFixed(1),
        ],
        values: { operation: r.operation, bytes: r.bytes, medianMs: r.medianMs, mbPerSec: r.mbPerSec, ratio: r.ratio },
      })),
      notes: [
        `Median of ${ctx.quick ? 3 : 7} round-robin runs (each run times every operation once, after one uncounted warm-up), MB = 10^6 bytes.`,
        `Baseline: the fastest full-buffer operation in this run (${fastest?.operation ?? 'n/a'}); the envelope uses ChaCha20-Poly1305.`,
      ],
    };
  },
};
