/**
 * The frame of a compressed update (compression.ts): its tensors in the study's compression plus the update's meta.
 *
 * Frame layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "COHZ"
 *   4       1     format version u8 = 1
 *   5       3     reserved, zero
 *   8       4     header length H, u32 (includes padding)
 *   12      H     header: UTF-8 JSON {"mode":"fp16"|"int8"|"topk","tensors":[{"name","shape"[,"k"]}],"meta":{...}},
 *                 padded with spaces so the data starts at a multiple of 4
 *   12+H    D     each tensor's section in header order, each a multiple of 4 bytes:
 *                   fp16: n binary16 values (u16), zero-padded to 4 bytes
 *                   int8: the scale (f32), then n int8 codes in [-127, 127], zero-padded to 4 bytes
 *                   topk: k indices (u32, strictly increasing, < n), then k values (f32)
 *
 * No digest trailer: the frame travels only inside a sealed envelope, whose signature covers its SHA-256.
 */
import { z } from 'zod';
import { CohortError } from './errors.js';
import { flatSize } from './codec.js';
import { topkCount, type Compression, type CompressedTensor } from './compression.js';

export const COMPRESSED_MAGIC = 'COHZ';
const VERSION = 1;
const PREFIX = 12;
const MAGIC = new TextEncoder().encode(COMPRESSED_MAGIC);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const HeaderSchema = z.strictObject({
  mode: z.enum(['fp16', 'int8', 'topk']),
  tensors: z.array(
    z.strictObject({
      name: z.string().min(1),
      shape: z.array(z.number().int().nonnegative()).max(8),
      k: z.number().int().nonnegative().optional(),
    }),
  ),
  meta: z.record(z.string(), z.unknown()),
});

const pad4 = (n: number): number => (n + 3) & ~3;

/** Bytes of one tensor's data section. */
function sectionBytes(mode: 'fp16' | 'int8' | 'topk', n: number, k: number): number {
  return mode === 'fp16' ? pad4(2 * n) : mode === 'int8' ? 4 + pad4(n) : 8 * k;
}

/**
 * True when `bytes` starts like a compressed frame (its magic), before any other check.
 * @example isCompressedFrame(payload) // route it to decodeCompressedFrame
 */
export function isCompressedFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Encodes compressed tensors and meta into one frame.
 * @example const payload = encodeCompressedFrame(compressTensors(deltas, { mode: 'int8' }, rng.next), meta)
 */
export function encodeCompressedFrame(tensors: readonly CompressedTensor[], meta: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const first = tensors[0];
  const mode = !first || 'fp16' in first ? 'fp16' : 'int8' in first ? 'int8' : 'topk';
  const header = {
    mode,
    tensors: tensors.map((t) => ({ name: t.name, shape: [...t.shape], ...('indices' in t ? { k: t.indices.length } : {}) })),
    meta,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = pad4(PREFIX + json.length) - PREFIX;
  const sizes = tensors.map((t) => sectionBytes(mode, flatSize(t.shape), 'indices' in t ? t.indices.length : 0));
  const out = new Uint8Array(PREFIX + headerLength + sizes.reduce((a, b) => a + b, 0));
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint8(4, VERSION);
  view.setUint32(8, headerLength, true);
  out.set(json, PREFIX);
  out.fill(0x20, PREFIX + json.length, PREFIX + headerLength);
  let at = PREFIX + headerLength;
  tensors.forEach((t, i) => {
    if ('fp16' in t) t.fp16.forEach((h, j) => view.setUint16(at + 2 * j, h, true));
    else if ('int8' in t) {
      if (t.int8.length !== flatSize(t.shape)) throw new CohortError('SHAPE_MISMATCH', `tensor '${t.name}': codes do not fit its shape`);
      view.setFloat32(at, t.scale, true);
      out.set(new Uint8Array(t.int8.buffer, t.int8.byteOffset, t.int8.length), at + 4);
    } else {
      const k = t.indices.length;
      t.indices.forEach((idx, j) => view.setUint32(at + 4 * j, idx, true));
      t.values.forEach((v, j) => view.setFloat32(at + 4 * (k + j), v, true));
    }
    at += sizes[i] as number;
  });
  return out;
}

/**
 * Decodes a compressed frame for a round whose study compresses with `compression`, checking every field: BAD_COMPRESSION
 * names a frame in another mode, a bad header, a wrong length, a top-k count other than ceil(F·n), an index out of
 * range or out of order, a NaN, infinite or negative scale, a code of -128, a non-finite value; SHAPE_MISMATCH a tensor
 * that is not the model's; PAYLOAD_TOO_LARGE a frame above `maxBytes`.
 * @example const { tensors, meta } = decodeCompressedFrame(payload, { compression, layout: tensorLayout(spec) })
 */
export function decodeCompressedFrame(
  bytes: Uint8Array,
  opts: { compression: Compression; layout: readonly { name: string; shape: number[] }[]; maxBytes?: number },
): { tensors: CompressedTensor[]; meta: Record<string, unknown> } {
  const { compression, layout } = opts;
  if (opts.maxBytes !== undefined && bytes.length > opts.maxBytes)
    throw new CohortError('PAYLOAD_TOO_LARGE', `compressed update of ${bytes.length} bytes exceeds the limit of ${opts.maxBytes}`);
  if (!isCompressedFrame(bytes))
    throw bad(
      `the study compresses updates (${describe(compression)}): the payload is not a compressed frame (magic "${COMPRESSED_MAGIC}")`,
    );
  if (bytes.length < PREFIX) throw bad(`compressed frame of ${bytes.length} bytes is shorter than its ${PREFIX}-byte prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(4) !== VERSION) throw bad(`compressed frame version ${view.getUint8(4)}, expected ${VERSION}`);
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw bad('reserved bytes 5..7 must be zero');
  const headerLength = view.getUint32(8, true);
  if (headerLength > bytes.length - PREFIX || (PREFIX + headerLength) % 4 !== 0)
    throw bad(`header length ${headerLength} out of bounds or unaligned in a frame of ${bytes.length} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(bytes.subarray(PREFIX, PREFIX + headerLength)));
  } catch (cause) {
    throw bad(`header is not UTF-8 JSON: ${(cause as Error).message}`);
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) throw bad(`bad header: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}`);
  const header = parsed.data;
  if (header.mode !== compression.mode) throw bad(`the update is compressed as ${header.mode}, the study states ${describe(compression)}`);
  checkTensors(header.tensors, layout);
  const sizes = header.tensors.map((t) => {
    const n = flatSize(t.shape);
    if (compression.mode === 'topk' && t.k !== topkCount(compression.fraction, n))
      throw bad(
        `tensor '${t.name}' carries ${t.k ?? 'no'} entries, ${describe(compression)} of ${n} values keeps ${topkCount(compression.fraction, n)}`,
      );
    if (compression.mode !== 'topk' && t.k !== undefined) throw bad(`tensor '${t.name}' states k in a ${compression.mode} frame`);
    return sectionBytes(header.mode, n, t.k ?? 0);
  });
  const dataBytes = bytes.length - PREFIX - headerLength;
  const needed = sizes.reduce((a, b) => a + b, 0);
  if (needed !== dataBytes) throw bad(`the header's tensors need ${needed} data bytes, the frame carries ${dataBytes}`);
  let at = PREFIX + headerLength;
  const tensors = header.tensors.map((t, i) => {
    const out = readTensor(view, at, t.name, t.shape, header.mode, t.k ?? 0);
    at += sizes[i] as number;
    return out;
  });
  return { tensors, meta: header.meta };
}

function readTensor(
  view: DataView,
  at: number,
  name: string,
  shape: number[],
  mode: 'fp16' | 'int8' | 'topk',
  k: number,
): CompressedTensor {
  const n = flatSize(shape);
  if (mode === 'fp16') {
    const fp16 = new Uint16Array(n);
    for (let j = 0; j < n; j++) {
      const h = view.getUint16(at + 2 * j, true);
      if ((h & 0x7c00) === 0x7c00) throw bad(`tensor '${name}' has a non-finite half at index ${j}`);
      fp16[j] = h;
    }
    return { name, shape, fp16 };
  }
  if (mode === 'int8') {
    const scale = view.getFloat32(at, true);
    if (!(Number.isFinite(scale) && scale >= 0)) throw bad(`tensor '${name}' has scale ${scale}: a scale is finite and >= 0`);
    const int8 = new Int8Array(view.buffer.slice(view.byteOffset + at + 4, view.byteOffset + at + 4 + n));
    const low = int8.indexOf(-128);
    if (low >= 0) throw bad(`tensor '${name}' has code -128 at index ${low}: codes are in [-127, 127]`);
    return { name, shape, int8, scale };
  }
  const indices = new Uint32Array(k);
  const values = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    const idx = view.getUint32(at + 4 * j, true);
    if (idx >= n) throw bad(`tensor '${name}': index ${idx} (entry ${j}) is out of range for ${n} values`);
    if (j > 0 && idx <= (indices[j - 1] as number))
      throw bad(
        `tensor '${name}': index ${idx} (entry ${j}) is not above the previous one (${indices[j - 1]}): indices are strictly increasing`,
      );
    const v = view.getFloat32(at + 4 * (k + j), true);
    if (!Number.isFinite(v)) throw bad(`tensor '${name}': value ${v} at entry ${j} (index ${idx}) is not finite`);
    indices[j] = idx;
    values[j] = v;
  }
  return { name, shape, indices, values };
}

function checkTensors(tensors: readonly { name: string; shape: number[] }[], layout: readonly { name: string; shape: number[] }[]): void {
  if (tensors.length !== layout.length)
    throw new CohortError('SHAPE_MISMATCH', `compressed update has ${tensors.length} tensors, the model has ${layout.length}`);
  tensors.forEach((t, i) => {
    const e = layout[i] as { name: string; shape: number[] };
    if (t.name !== e.name || t.shape.length !== e.shape.length || t.shape.some((d, j) => d !== e.shape[j]))
      throw new CohortError(
        'SHAPE_MISMATCH',
        `compressed tensor #${i} is '${t.name}' [${t.shape.join(',')}], the model's is '${e.name}' [${e.shape.join(',')}]`,
      );
  });
}

const describe = (c: Compression): string => (c.mode === 'topk' ? `topk:${c.fraction}` : c.mode);

function bad(message: string): CohortError {
  return new CohortError('BAD_COMPRESSION', message);
}
