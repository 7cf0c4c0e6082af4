/**
 * Update compression at the site (the study's `compress` term): the update's delta from the global model, compressed,
 * with top-k's error feedback (the part not sent is added to the next round's delta) kept in memory for the agent's
 * lifetime; an agent that restarts starts again from a zero residual (what it had not sent yet is lost, once).
 */
import {
  compressionOf,
  compressTensors,
  decompressTensors,
  encodeCompressedFrame,
  encodeTensors,
  scaleCompressed,
  type CompressedTensor,
  type NamedTensor,
  type TrainConfig,
  type UpdateMeta,
} from '../../protocol/index.js';
import { createPrng } from '../../crypto/index.js';
import { updateMod, type Mod } from './chain.js';

/** What a site keeps between rounds: top-k's residual, for the compression and layout it was made under. */
export interface CompressionMemory {
  /** The agent's seed: int8's rounding in round r draws from seed and r, so a simulation reproduces. */
  seed: number;
  key?: string;
  residual?: Float32Array[];
}

/**
 * The payload of a plain (not masked) update: the weights' frame when the task does not compress, else the compressed
 * frame of trained − global (+ the residual, for top-k). int8's stochastic rounding is seeded by the memory's seed and
 * the round, so a simulation reproduces. Under DP (`config.dpClipNorm`) the update is clipped again after compression, as decoded, so what the
 * coordinator decodes is within the clip norm (top-k's residual and int8's rounding could otherwise take it over).
 * @example const payload = compressedPayload({ config: task.config, global, trained: weights, meta }, memory)
 */
export function compressedPayload(
  args: { config: TrainConfig; global: readonly NamedTensor[]; trained: readonly NamedTensor[]; meta: UpdateMeta },
  memory: CompressionMemory,
): Uint8Array {
  const compression = compressionOf(args.config);
  // No trailer: the envelope's signed SHA-256 covers the frame (docs/reference/wire-protocol.md, "Update envelopes").
  if (compression.mode === 'none') return encodeTensors([...args.trained], args.meta, { trailer: false });
  const key = `${args.config.compress}|${args.global.map((t) => `${t.name}:${t.data.length}`).join(',')}`;
  if (memory.key !== key) Object.assign(memory, { key, residual: undefined });
  const deltas = args.trained.map((t, i) => {
    const g = (args.global[i] as NamedTensor).data;
    const r = memory.residual?.[i];
    const data = new Float32Array(t.data.length);
    for (let j = 0; j < data.length; j++) data[j] = (t.data[j] as number) - (g[j] as number) + (r ? (r[j] as number) : 0);
    return { name: t.name, shape: t.shape, data };
  });
  let sent: CompressedTensor[] = compressTensors(
    deltas,
    compression,
    createPrng((memory.seed * 100_003 + args.meta.round) ^ 0x5eedc0de).next,
  );
  const decoded = decompressTensors(sent);
  if (compression.mode === 'topk') memory.residual = deltas.map((d, i) => d.data.map((v, j) => v - (decoded[i]?.data[j] as number)));
  const clip = args.config.dpClipNorm;
  if (clip !== undefined) {
    const norm = Math.hypot(...decoded.map((d) => Math.sqrt(d.data.reduce((s, v) => s + v * v, 0))));
    // fp16 re-rounds each value (up to 2^-11 relative): a margin of 2^-10 keeps the result under the bound.
    if (norm > clip) sent = scaleCompressed(sent, (clip * (1 - (compression.mode === 'fp16' ? 2 ** -10 : 1e-6))) / norm);
  }
  return encodeCompressedFrame(sent, args.meta);
}

/**
 * The study's update compression as a mod: a plain update is encoded as the compressed frame of its delta, with
 * top-k's error feedback kept in `memory` (this closure) for the agent's lifetime. Without compression, or when the
 * update already has an encoding, it passes unchanged (the coordinator refuses compression with secure aggregation).
 * @example chain([..., compression({ seed: 7 }), ...], train)
 */
export function compression(memory: CompressionMemory): Mod {
  return updateMod((update, task) =>
    update.encoding || compressionOf(task.config).mode === 'none'
      ? update
      : {
          ...update,
          encoding: {
            kind: 'weights',
            encode: async (u, meta) => compressedPayload({ config: task.config, global: u.global, trained: u.weights, meta }, memory),
          },
        },
  );
}
