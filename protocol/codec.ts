/**
 * The binary weight codec: named Float32 tensors plus JSON meta in one self-checking frame.
 *
 * Frame layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "COHT"
 *   4       1     format version u8 = 1
 *   5       3     reserved, zero
 *   8       4     header length H, u32 (includes padding)
 *   12      H     header: UTF-8 JSON {"tensors":[{"name","dtype":"float32","shape":[...]}],"meta":{...}},
 *                 padded with spaces so the data starts at a multiple of 4 (12 + H ≡ 0 mod 4)
 *   12+H    D     raw little-endian float32 data of each tensor in header order, D = 4 × Σ product(shape)
 *   12+H+D  32    SHA-256 of bytes [0, 12+H+D); 32 zero bytes in a frame sealed in an update envelope (`trailer: false`),
 *                 whose signed SHA-256 already covers every byte (decode those with `authenticated: true`)
 *
 * Decoding returns Float32Array views on the input's buffer (zero-copy) when the host is
 * little-endian and the data is 4-byte aligned in that buffer; otherwise it copies.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CohortError } from './errors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface DecodedFrame {
  tensors: NamedTensor[];
  meta: Record<string, unknown>;
  /** Hex of the frame's trailer: its SHA-256, verified (as read, unverified, when decoded with `authenticated`). */
  digest: string;
}

export const CODEC_MAGIC = 'COHT';
export const CODEC_VERSION = 1;
export const MAX_TENSOR_RANK = 8;
/** Largest header accepted on decode (the JSON is names, shapes and a small meta). */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;
const PREFIX_BYTES = 12;
const DIGEST_BYTES = 32;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const MAGIC = new TextEncoder().encode(CODEC_MAGIC);
const utf8 = new TextDecoder('utf-8', { fatal: true });

const HeaderSchema = z.strictObject({
  tensors: z.array(
    z.strictObject({
      name: z.string().min(1),
      dtype: z.literal('float32'),
      shape: z.array(z.number().int().nonnegative()).max(MAX_TENSOR_RANK),
    }),
  ),
  meta: z.record(z.string(), z.unknown()),
});
type Header = z.infer<typeof HeaderSchema>;

/**
 * Number of elements of a tensor with this shape (1 for a scalar `[]`).
 * @example flatSize([3, 1, 7]) // 21
 */
export function flatSize(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Encodes tensors and meta into one frame; throws SHAPE_MISMATCH when a tensor's data length
 * differs from its shape, BAD_REQUEST on a bad name, shape or non-JSON meta. `trailer: false` leaves the
 * trailer zero (one SHA-256 pass less), only for a frame that goes into an update envelope: the envelope's
 * signature covers the SHA-256 of the whole frame, and the coordinator decodes it with `authenticated: true`.
 * `allocate` supplies the frame's bytes (exactly the length asked; their prior content does not matter), e.g. the
 * payload region of an envelope being sealed, so the frame is written once where it is sent from.
 * @example const frame = encodeTensors([{ name: 'w', shape: [2], data: new Float32Array([1, 2]) }], { round: 1 })
 */
export function encodeTensors(
  tensors: NamedTensor[],
  meta: Record<string, unknown> = {},
  options: { trailer?: boolean; allocate?: (byteLength: number) => Uint8Array<ArrayBuffer> } = {},
): Uint8Array<ArrayBuffer> {
  const header: Header = { tensors: tensors.map((t) => ({ name: t.name, dtype: 'float32', shape: [...t.shape] })), meta };
  const parsed = HeaderSchema.safeParse(header);
  if (!parsed.success) throw new CohortError('BAD_REQUEST', `cannot encode: ${describeIssue(parsed.error)}`);
  checkUniqueNames(header, 'BAD_REQUEST');
  let floats = 0;
  for (const t of tensors) {
    if (!(t.data instanceof Float32Array)) throw new CohortError('BAD_REQUEST', `tensor '${t.name}': data must be a Float32Array`);
    const size = flatSize(t.shape);
    if (t.data.length !== size) {
      throw new CohortError(
        'SHAPE_MISMATCH',
        `tensor '${t.name}': shape [${t.shape.join(',')}] needs ${size} values, data has ${t.data.length}`,
      );
    }
    floats += size;
  }
  let json: string;
  try {
    json = JSON.stringify(header);
  } catch (cause) {
    throw new CohortError('BAD_REQUEST', `cannot encode meta as JSON: ${(cause as Error).message}`, { cause });
  }
  const headerBytes = new TextEncoder().encode(json);
  const headerLength = headerBytes.length + ((4 - ((PREFIX_BYTES + headerBytes.length) % 4)) % 4);
  const dataOffset = PREFIX_BYTES + headerLength;
  const length = dataOffset + floats * 4 + DIGEST_BYTES;
  const out = options.allocate ? options.allocate(length) : new Uint8Array(length);
  if (!(out instanceof Uint8Array) || out.length !== length) throw new TypeError(`allocate must return ${length} bytes`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC, 0);
  view.setUint8(4, CODEC_VERSION);
  out.fill(0, 5, PREFIX_BYTES - 4); // reserved (allocated bytes need not be zero)
  view.setUint32(8, headerLength, true);
  out.set(headerBytes, PREFIX_BYTES);
  out.fill(0x20, PREFIX_BYTES + headerBytes.length, dataOffset);
  let offset = dataOffset;
  for (const { data } of tensors) {
    if (HOST_LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    else for (let i = 0; i < data.length; i++) view.setFloat32(offset + 4 * i, data[i] as number, true);
    offset += data.byteLength;
  }
  if (options.trailer !== false) out.set(sha256(out.subarray(0, offset)), offset);
  else out.fill(0, offset);
  return out;
}

/**
 * Decodes and fully validates a frame; throws CORRUPT_PAYLOAD naming what is wrong, or
 * PAYLOAD_TOO_LARGE above `maxBytes`. Returned tensors may be views on `bytes` (do not mutate it).
 * `authenticated: true` skips hashing the frame against its trailer, for bytes whose SHA-256 the caller
 * has already checked against a signed digest (an opened envelope): the trailer is then returned as read.
 * @example const { tensors, meta, digest } = decodeTensors(frame, { maxBytes: 8 << 20 })
 */
export function decodeTensors(bytes: Uint8Array, options: { maxBytes?: number; authenticated?: boolean } = {}): DecodedFrame {
  const { dataOffset, header } = readHeader(bytes, options.maxBytes);
  const dataBytes = bytes.length - DIGEST_BYTES - dataOffset;
  const floats = header.tensors.reduce((n, t) => n + flatSize(t.shape), 0);
  if (floats * 4 !== dataBytes) {
    throw corrupt(`header shapes need ${floats * 4} data bytes (${floats} float32), frame carries ${dataBytes}`);
  }
  const digest = options.authenticated === true ? hex(bytes.subarray(bytes.length - DIGEST_BYTES)) : verifyDigest(bytes);
  const start = bytes.byteOffset + dataOffset;
  const zeroCopy = HOST_LITTLE_ENDIAN && start % 4 === 0;
  const source = zeroCopy ? bytes.buffer : HOST_LITTLE_ENDIAN ? copyBytes(bytes.subarray(dataOffset, dataOffset + dataBytes)) : null;
  let at = 0;
  const tensors = header.tensors.map(({ name, shape }) => {
    const size = flatSize(shape);
    const data = source
      ? new Float32Array(source, (zeroCopy ? start : 0) + at * 4, size)
      : readFloat32LE(bytes.subarray(dataOffset + at * 4, dataOffset + (at + size) * 4));
    at += size;
    return { name, shape, data };
  });
  return { tensors, meta: header.meta, digest };
}

/**
 * The hex SHA-256 stored in a frame's trailer, after checking the prefix and verifying it.
 * @example frameDigest(encodeTensors([])) // 64 hex characters
 */
export function frameDigest(bytes: Uint8Array): string {
  readPrefix(bytes);
  return verifyDigest(bytes);
}

/**
 * Throws SHAPE_MISMATCH naming the first tensor that is missing, extra, out of order or of the
 * wrong shape compared with `expected` (e.g. `tensorLayout(spec)`).
 * @example checkLayout(decoded.tensors, tensorLayout(spec))
 */
export function checkLayout(tensors: readonly NamedTensor[], expected: readonly { name: string; shape: number[] }[]): void {
  const expectedNames = new Set(expected.map((e) => e.name));
  const actualNames = new Set(tensors.map((t) => t.name));
  for (let i = 0; i < Math.max(tensors.length, expected.length); i++) {
    const t = tensors[i];
    const e = expected[i];
    if (!t)
      throw new CohortError(
        'SHAPE_MISMATCH',
        `tensor '${e?.name}' (#${i}) is missing: got ${tensors.length} tensors, expected ${expected.length}`,
      );
    if (!e) throw new CohortError('SHAPE_MISMATCH', `unexpected extra tensor '${t.name}' (#${i}): expected ${expected.length} tensors`);
    if (t.name !== e.name) {
      const why = !expectedNames.has(t.name)
        ? `unexpected tensor '${t.name}'`
        : !actualNames.has(e.name)
          ? `tensor '${e.name}' is missing ('${t.name}' found instead)`
          : `tensor '${t.name}' is out of order ('${e.name}' expected)`;
      throw new CohortError('SHAPE_MISMATCH', `${why} at position ${i}`);
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, j) => d !== e.shape[j])) {
      throw new CohortError('SHAPE_MISMATCH', `tensor '${t.name}' has shape [${t.shape.join(',')}], expected [${e.shape.join(',')}]`);
    }
    if (t.data.length !== flatSize(e.shape)) {
      throw new CohortError(
        'SHAPE_MISMATCH',
        `tensor '${t.name}' holds ${t.data.length} values, shape [${e.shape.join(',')}] needs ${flatSize(e.shape)}`,
      );
    }
  }
}

/**
 * Throws NON_FINITE naming the tensor and flat index of the first NaN or ±Infinity.
 * @example checkFinite(decoded.tensors) // before aggregating an update
 */
export function checkFinite(tensors: readonly NamedTensor[]): void {
  for (const { name, data } of tensors) {
    // v * 0 is ±0 for every finite v and NaN for NaN and ±Infinity, and a NaN stays in a sum: four branch-free
    // sums per block of 1024 values (about 6x faster than a test per value), and a scan of a block only when it fails.
    const n = data.length;
    let at = 0;
    for (; at + FINITE_BLOCK <= n; at += FINITE_BLOCK) {
      let a = 0;
      let b = 0;
      let c = 0;
      let d = 0;
      for (let i = at; i < at + FINITE_BLOCK; i += 4) {
        a += (data[i] as number) * 0;
        b += (data[i + 1] as number) * 0;
        c += (data[i + 2] as number) * 0;
        d += (data[i + 3] as number) * 0;
      }
      if (a + b + c + d !== 0) scanFinite(name, data, at, at + FINITE_BLOCK);
    }
    scanFinite(name, data, at, n);
  }
}

const FINITE_BLOCK = 1024;

/** Throws NON_FINITE at the first NaN or ±Infinity in data[from, to). */
function scanFinite(name: string, data: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const v = data[i] as number;
    // v - v is 0 for every finite v, NaN for NaN and ±Infinity.
    if (v - v !== 0) throw new CohortError('NON_FINITE', `tensor '${name}' has ${v} at index ${i}`);
  }
}

/**
 * Reads little-endian float32 values from bytes into a new array, whatever the host's byte order.
 * @example readFloat32LE(new Uint8Array([0, 0, 0x80, 0x3f])) // Float32Array [1]
 */
export function readFloat32LE(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw corrupt(`float32 data of ${bytes.length} bytes is not a multiple of 4`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

function readPrefix(bytes: Uint8Array, maxBytes?: number): number {
  if (!(bytes instanceof Uint8Array)) throw corrupt('frame must be a Uint8Array');
  if (maxBytes !== undefined && bytes.length > maxBytes) {
    throw new CohortError('PAYLOAD_TOO_LARGE', `frame of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  }
  if (bytes.length < PREFIX_BYTES + DIGEST_BYTES)
    throw corrupt(`frame of ${bytes.length} bytes is shorter than the minimum ${PREFIX_BYTES + DIGEST_BYTES}`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw corrupt(`bad magic: expected "${CODEC_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  if (version !== CODEC_VERSION) throw corrupt(`unsupported codec version ${version}, expected ${CODEC_VERSION}`);
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw corrupt('reserved bytes 5..7 must be zero');
  const headerLength = view.getUint32(8, true);
  const room = bytes.length - PREFIX_BYTES - DIGEST_BYTES;
  if (headerLength < 2 || headerLength > room || headerLength > MAX_HEADER_BYTES) {
    throw corrupt(`header length ${headerLength} out of bounds (2..${Math.min(room, MAX_HEADER_BYTES)})`);
  }
  if ((PREFIX_BYTES + headerLength) % 4 !== 0) throw corrupt(`header length ${headerLength} leaves the data unaligned`);
  return headerLength;
}

function readHeader(bytes: Uint8Array, maxBytes?: number): { dataOffset: number; header: Header } {
  const headerLength = readPrefix(bytes, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (cause) {
    throw corrupt(`header is not UTF-8 JSON: ${(cause as Error).message}`, cause);
  }
  const parsed = HeaderSchema.safeParse(json);
  if (!parsed.success) throw corrupt(`bad header: ${describeIssue(parsed.error)}`);
  checkUniqueNames(parsed.data, 'CORRUPT_PAYLOAD');
  return { dataOffset: PREFIX_BYTES + headerLength, header: parsed.data };
}

function verifyDigest(bytes: Uint8Array): string {
  const end = bytes.length - DIGEST_BYTES;
  const stored = bytes.subarray(end);
  const actual = sha256(bytes.subarray(0, end));
  if (!actual.every((b, i) => stored[i] === b)) {
    throw corrupt(`digest mismatch: trailer says ${hex(stored)}, content hashes to ${hex(actual)}`);
  }
  return hex(stored);
}

function checkUniqueNames(header: Header, code: 'BAD_REQUEST' | 'CORRUPT_PAYLOAD'): void {
  const seen = new Set<string>();
  for (const { name } of header.tensors) {
    if (seen.has(name)) throw new CohortError(code, `duplicate tensor name '${name}'`);
    seen.add(name);
  }
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : error.message;
}

function corrupt(message: string, cause?: unknown): CohortError {
  return new CohortError('CORRUPT_PAYLOAD', message, cause === undefined ? undefined : { cause });
}

function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
