/** The coordinator's side of update compression: a compressed update decoded back to weights where updates are decoded. */
import {
  CohortError,
  decodeCompressedFrame,
  decompressTensors,
  tensorLayout,
  type Compression,
  type ModelSpec,
  type NamedTensor,
} from '../../protocol/index.js';

/**
 * The weights a compressed update stands for: the global model it was trained from plus its decoded delta, so the
 * norm bound, the robust strategies and the aggregate see what the site's compressed update says. Throws
 * BAD_COMPRESSION (or SHAPE_MISMATCH, PAYLOAD_TOO_LARGE) naming what is wrong (protocol/compressed-frame.ts).
 * @example const { tensors, meta } = decompressUpdate(payload, { compression, spec, global, maxBytes })
 */
export function decompressUpdate(
  payload: Uint8Array,
  ctx: { compression: Exclude<Compression, { mode: 'none' }>; spec: ModelSpec; global: readonly NamedTensor[]; maxBytes: number },
): { tensors: NamedTensor[]; meta: Record<string, unknown> } {
  const frame = decodeCompressedFrame(payload, { compression: ctx.compression, layout: tensorLayout(ctx.spec), maxBytes: ctx.maxBytes });
  const deltas = decompressTensors(frame.tensors);
  const tensors = deltas.map((d, i) => {
    const g = ctx.global[i];
    if (!g || g.data.length !== d.data.length) throw new CohortError('INTERNAL', `the global model has no tensor '${d.name}' of this size`);
    const data = new Float32Array(d.data.length);
    for (let j = 0; j < data.length; j++) data[j] = (g.data[j] as number) + (d.data[j] as number);
    return { name: d.name, shape: d.shape, data };
  });
  return { tensors, meta: frame.meta };
}
