/** Bench section `ingest`: the coordinator's whole path for one update (chunks, signature, decryption, codec, checks, FedAvg) against the bulk cipher alone. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fedAvg } from '../../coordinator/strategies/index.js';
import { intakeUpdate, type IntakeContext } from '../../coordinator/rounds/index.js';
import { UploadTable } from '../../coordinator/realtime/uploads.js';
import { createPrng, generateIdentity, sealEnvelope } from '../../crypto/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  UploadChunkSchema,
  encodeTensors,
  splitIntoChunks,
  tensorLayout,
  uploadTail,
  type ModelSpec,
  type UpdateMeta,
} from '../../protocol/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import type { BenchRow, BenchSection } from './section.js';
import { fmtSpread, spread, spreadValues, yieldLoop } from './stats.js';

const TARGET_RATIO = 0.5;
const STAGES = [
  'receive chunks (parse + assemble)',
  'finish upload (tail check; protocol 1 hashed the whole upload here)',
  'open envelope + decode + checks (intakeUpdate)',
  'FedAvg add',
] as const;

/** A sealed update of `spec`'s shape from a random model, as the agent sends it, and what the coordinator needs to open it. */
function prepare(spec: ModelSpec, seed: number) {
  const coordinator = generateIdentity('coordinator');
  const site = generateIdentity('site-1');
  const rng = createPrng(seed);
  const layout = tensorLayout(spec);
  const tensors = layout.map(({ name, shape }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (rng.next() - 0.5) * 0.1;
    return { name, shape, data };
  });
  const meta: UpdateMeta = {
    kind: 'weights',
    federation: 'bench',
    round: 1,
    institution: site.id,
    baseVersion: 0,
    samples: 600,
    metrics: { trainLoss: 0.3, trainAccuracy: 0.9, epochs: 1, durationMs: 1 },
  };
  const payload = encodeTensors(tensors, meta);
  const envelope = sealEnvelope({
    payload,
    context: { federation: 'bench', round: 1, institution: site.id },
    recipientBoxPublicKey: coordinator.boxPublicKey,
    senderSignSecretKey: site.signSecretKey,
  });
  const ctx: IntakeContext = {
    federation: 'bench',
    round: 1,
    institution: site.id,
    baseVersion: 0,
    spec,
    coordinator,
    institutionSignPublicKey: site.signPublicKey,
    maxPayloadBytes: payload.length + 1024,
  };
  // As socket.io hands them over: one separate Buffer per chunk.
  const chunks = splitIntoChunks(envelope, DEFAULT_CHUNK_BYTES).map((c) => Buffer.from(c));
  const tail = uploadTail(envelope);
  const shapes = layout.map((l) => l.shape);
  return { envelope, chunks, tail, ctx, shapes, previous: tensors.map((t) => new Float32Array(t.data.length)) };
}

/**
 * Times the real intake path and ChaCha20-Poly1305 decryption of as many bytes, round-robin.
 * @example const result = await ingestSection.run({ quick: true, outDir, log: console.error });
 */
export const ingestSection: BenchSection = {
  id: 'ingest',
  title: "Ingest: the coordinator's whole path for one update",
  async run(ctx) {
    const arch = ctx.quick ? 'mlp' : 'cnn';
    const spec = mnistSpec(arch);
    const runs = ctx.quick ? 5 : 25;
    const p = prepare(spec, 1);
    const bytes = p.envelope.length;
    ctx.log(`${arch}: ${(bytes / 1e6).toFixed(2)} MB envelope in ${p.chunks.length} chunks, ${runs} runs`);
    const accumulator = fedAvg.begin(p.shapes, p.previous);
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const plain = randomBytes(bytes);
    const sealer = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    const sealed = sealer.update(plain);
    sealer.final();
    const tag = sealer.getAuthTag();

    const raw = (): number => {
      const start = performance.now();
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      d.setAuthTag(tag);
      d.update(sealed);
      d.final();
      return performance.now() - start;
    };
    const path = (n: number): number[] => {
      const uploadId = `bench-upload-${n}`;
      const t0 = performance.now();
      const table = new UploadTable(bytes + 1024);
      table.begin(p.ctx.institution, { round: 1, uploadId, totalBytes: bytes, chunkBytes: DEFAULT_CHUNK_BYTES, tail: p.tail });
      p.chunks.forEach((data, index) => {
        const msg = UploadChunkSchema.parse({ uploadId, index, data });
        table.chunk(p.ctx.institution, msg);
      });
      const t1 = performance.now();
      const frame = table.finish(p.ctx.institution, uploadId).bytes;
      const t2 = performance.now();
      const accepted = intakeUpdate(frame, p.ctx);
      const t3 = performance.now();
      accumulator.add(
        accepted.tensors.map((t) => t.data),
        accepted.meta.samples,
      );
      const t4 = performance.now();
      return [t1 - t0, t2 - t1, t3 - t2, t4 - t3];
    };

    const rawMs: number[] = [];
    const pathMs: number[] = [];
    const stageMs: number[][] = STAGES.map(() => []);
    for (let r = -2; r < runs; r++) {
      const rawTime = raw();
      const stages = path(r);
      if (r < 0) continue; // warm-up
      rawMs.push(rawTime);
      pathMs.push(stages.reduce((a, b) => a + b, 0));
      stages.forEach((ms, i) => stageMs[i]!.push(ms));
      await yieldLoop();
    }
    const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
    const rawS = spread(rawMs.map(mbps));
    const pathS = spread(pathMs.map(mbps));
    const ratio = spread(pathMs.map((ms, i) => (rawMs[i] as number) / ms));
    const rows: BenchRow[] = [
      {
        cells: ['ChaCha20-Poly1305 decrypt alone (baseline)', fmtSpread(spread(rawMs), 2), fmtSpread(rawS, 0), '1.00'],
        values: { stage: 'raw-cipher', ...spreadValues('ms', spread(rawMs)), ...spreadValues('mbps', rawS), ratio: 1 },
      },
      {
        cells: ['whole ingest path', fmtSpread(spread(pathMs), 2), fmtSpread(pathS, 0), fmtSpread(ratio, 2)],
        values: { stage: 'ingest', ...spreadValues('ms', spread(pathMs)), ...spreadValues('mbps', pathS), ...spreadValues('ratio', ratio) },
      },
      ...STAGES.map((stage, i) => {
        const ms = spread(stageMs[i]!);
        const share = spread(stageMs[i]!.map((v, j) => v / (pathMs[j] as number)));
        return {
          cells: [
            `  of which: ${stage}`,
            fmtSpread(ms, 2),
            fmtSpread(spread(stageMs[i]!.map(mbps)), 0),
            `${(share.median * 100).toFixed(0)}% of the path`,
          ],
          values: { stage, ...spreadValues('ms', ms), ...spreadValues('share', share) },
        };
      }),
    ];
    const met = ratio.median >= TARGET_RATIO;
    return {
      title: "Ingest: the coordinator's whole path for one update",
      columns: ['stage', 'ms', 'MB/s', 'speed / raw cipher'],
      rows,
      notes: [
        `One ${arch} update (${tensorLayout(spec).length} tensors, ${(bytes / 1e6).toFixed(2)} MB sealed envelope, ${p.chunks.length} chunks of ${DEFAULT_CHUNK_BYTES / 1024} KiB) through the real functions: UploadChunkSchema + UploadTable (coordinator/realtime/uploads.ts), intakeUpdate (coordinator/rounds/update-intake.ts: openEnvelope, decodeTensors, meta schema, checkLayout, checkFinite) and fedAvg's add; no socket (the round section measures the network).`,
        `Baseline: node's ChaCha20-Poly1305 decryption of as many bytes, timed in the same loop (round-robin, ${runs} runs after 2 warm-ups); MB/s over the envelope's bytes (10^6); median (min–max); the ratio is paired per run.`,
        `Target >= ${TARGET_RATIO} of the raw cipher's speed: ${ratio.median.toFixed(2)}, ${met ? 'met' : `missed (${((1 - ratio.median / TARGET_RATIO) * 100).toFixed(0)}% short)`}.`,
      ],
    };
  },
};
