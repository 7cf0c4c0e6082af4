/**
 * Secure aggregation on the wire: the round's public terms in a task, the four steps' messages as runtime schemas
 * (binary fields travel as socket.io binary attachments), and the masked-input frame that goes through the chunked upload.
 */
import { z } from 'zod';
import { CohortError } from './errors.js';

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
const b64 = z
  .string()
  .max(4096)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const round = z.number().int().min(1).max(1_000_000);
/**
 * Binary fields travel as base64 text: socket.io's parser refuses packets with more than 10 binary attachments (a
 * guard against attachment floods), and a share message has several per neighbour. The sizes are checked decoded.
 */
const decodedLength = (text: string) => Math.floor((text.length * 3) / 4) - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
const fixed = (length: number) =>
  b64.refine((t) => t.length % 4 === 0 && decodedLength(t) === length, `expected ${length} bytes in base64`);
const sized = (max: number) => b64.refine((t) => t.length % 4 === 0 && decodedLength(t) <= max, `expected at most ${max} bytes in base64`);

/** The names of every binary field of the secure-aggregation messages. */
const BINARY_FIELDS = new Set([
  'cPublicKey',
  'sPublicKey',
  'signature',
  'nonce',
  'ciphertext',
  'sCommitment',
  'bCommitment',
  'seedCommitment',
  'share',
  'salt',
]);

/** A secure-aggregation message with its binary fields as Uint8Array (what crypto/secagg reads and writes). */
export type Binary<T> = T extends string
  ? T
  : T extends (infer U)[]
    ? Binary<U>[]
    : T extends object
      ? {
          [K in keyof T]: K extends
            | 'signature'
            | 'cPublicKey'
            | 'sPublicKey'
            | 'nonce'
            | 'ciphertext'
            | 'sCommitment'
            | 'bCommitment'
            | 'seedCommitment'
            | 'share'
            | 'salt'
            ? T[K] extends string
              ? Uint8Array
              : Binary<T[K]>
            : Binary<T[K]>;
        }
      : T;

/**
 * For sending: every Uint8Array field becomes base64 text, deeply.
 * @example socket.emit('secagg:advertise', toWire({ round: 3, ...advertise }))
 */
export function toWire<T>(value: T): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map((v) => toWire(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}

/**
 * For receiving, after the schema checked the message: the binary fields become Uint8Array again, deeply.
 * @example const msg = fromWire(SecAggAdvertiseSchema.parse(raw))
 */
export function fromWire<T>(value: T, key = ''): Binary<T> {
  if (typeof value === 'string' && BINARY_FIELDS.has(key)) return new Uint8Array(Buffer.from(value, 'base64')) as Binary<T>;
  if (Array.isArray(value)) return value.map((v) => fromWire(v)) as Binary<T>;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v, k)])) as Binary<T>;
  return value as Binary<T>;
}
/** Every participant list is bounded: share indices live in GF(2^8), so at most 255 holders; SecAgg+ graphs allow more members. */
const MAX_MEMBERS = 10_000;

/** What a training task says about the round's secure aggregation: enough for every participant to derive the same configuration. */
export const SecAggTermsSchema = z.object({
  participants: z
    .array(z.object({ id, signPublicKey: b64 }))
    .min(2)
    .max(MAX_MEMBERS),
  threshold: z.number().int().min(2),
  /** SecAgg+'s Harary graph carries no seed: every participant derives it from round 0's signed advertisements. */
  graph: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('complete') }),
    z.object({ kind: z.literal('harary'), degree: z.number().int().min(1) }),
  ]),
  /** Quantisation bound: updates (their distance from the global model) are clipped to this L2 norm before encoding. */
  clipNorm: z.number().positive().max(1e9),
  /** Largest integer weight (sample count, or 1 under DP). */
  maxWeight: z.number().int().min(1).max(1e9),
  /** Distributed DP: each participant adds Gaussian noise of this standard deviation to its clipped update before masking. */
  noiseStd: z.number().min(0).max(1e6).optional(),
  /** Under DP: the clip norm the sensitivity rests on (clipNorm above is then the wider quantisation range). */
  dpClipNorm: z.number().positive().max(1e6).optional(),
});
export type SecAggTerms = z.infer<typeof SecAggTermsSchema>;

export const SecAggAdvertiseSchema = z.object({
  round,
  type: z.literal('secagg/advertise-keys'),
  from: id,
  cPublicKey: fixed(32),
  sPublicKey: fixed(32),
  signature: fixed(64),
});
export type SecAggAdvertise = z.infer<typeof SecAggAdvertiseSchema>;

export const SecAggKeysSchema = z.object({
  round,
  type: z.literal('secagg/keys'),
  to: id,
  keys: z.array(SecAggAdvertiseSchema.omit({ round: true })).max(MAX_MEMBERS),
});
export type SecAggKeys = z.infer<typeof SecAggKeysSchema>;

const EncryptedShareSchema = z.object({
  to: id,
  x: z.number().int().min(1).max(255),
  nonce: fixed(12),
  ciphertext: sized(1024),
  sCommitment: fixed(32),
  bCommitment: fixed(32),
  signature: fixed(64),
});

export const SecAggShareKeysSchema = z.object({
  round,
  type: z.literal('secagg/share-keys'),
  from: id,
  seedCommitment: fixed(32),
  shares: z.array(EncryptedShareSchema).max(255),
});
export type SecAggShareKeys = z.infer<typeof SecAggShareKeysSchema>;

export const SecAggSharesSchema = z.object({
  round,
  type: z.literal('secagg/shares'),
  to: id,
  shares: z.array(z.object({ from: id, seedCommitment: fixed(32), share: EncryptedShareSchema })).max(255),
});
export type SecAggShares = z.infer<typeof SecAggSharesSchema>;

/** The consistency check, coordinator -> survivor: the survivor set U3 for it to sign. */
export const SecAggConsistencyRequestSchema = z.object({
  round,
  type: z.literal('secagg/consistency-request'),
  to: id,
  survivors: z.array(id).max(MAX_MEMBERS),
});
export type SecAggConsistencyRequest = z.infer<typeof SecAggConsistencyRequestSchema>;

/** The consistency check, survivor -> coordinator: its signature over the sorted survivor set it was told. */
export const SecAggConsistencySchema = z.object({
  round,
  type: z.literal('secagg/consistency'),
  from: id,
  signature: fixed(64),
});
export type SecAggConsistency = z.infer<typeof SecAggConsistencySchema>;

/** The unmask request: survivors and dropped, with the survivors' signatures over that survivor set (at least t valid). */
export const SecAggUnmaskRequestSchema = z.object({
  round,
  type: z.literal('secagg/unmask-request'),
  to: id,
  survivors: z.array(id).max(MAX_MEMBERS),
  dropped: z.array(id).max(MAX_MEMBERS),
  signatures: z.array(z.object({ from: id, signature: fixed(64) })).max(MAX_MEMBERS),
});
export type SecAggUnmaskRequest = z.infer<typeof SecAggUnmaskRequestSchema>;

const RevealedShareSchema = z.object({ of: id, x: z.number().int().min(1).max(255), share: sized(64), salt: fixed(32) });

export const SecAggUnmaskSchema = z.object({
  round,
  type: z.literal('secagg/unmask'),
  from: id,
  seedShares: z.array(RevealedShareSchema).max(255),
  keyShares: z.array(RevealedShareSchema).max(255),
  signature: fixed(64),
});
export type SecAggUnmask = z.infer<typeof SecAggUnmaskSchema>;

/** A complaint a holder raises against a dealer whose share it could not use. */
export const SecAggComplaintSchema = z.object({ against: id, reason: z.enum(['UNDECRYPTABLE_SHARE', 'SHARE_COMMITMENT_MISMATCH']) });

/** The header of a masked-input frame. */
const MaskedHeaderSchema = z.object({
  meta: z.record(z.string(), z.unknown()),
  complaints: z.array(SecAggComplaintSchema).max(255),
  signature: b64,
  length: z
    .number()
    .int()
    .min(1)
    .max(1 << 28),
});

export interface MaskedFrame {
  /** The update's metadata (UpdateMeta with kind 'masked'), checked by the coordinator like a plain update's. */
  meta: Record<string, unknown>;
  complaints: z.infer<typeof SecAggComplaintSchema>[];
  /** Base64 Ed25519 signature of the masked vector (crypto/secagg statements). */
  signature: string;
  masked: Uint32Array;
}

const MAGIC = [0x43, 0x4f, 0x53, 0x4d]; // "COSM"
const VERSION = 1;

/**
 * Encodes a masked input for the chunked upload: "COSM", version u8, 3 zero bytes, header length H u32 LE, H bytes of
 * UTF-8 JSON padded with spaces to a multiple of 4, then the masked vector as u32 LE. Sealed in the update envelope.
 * @example const bytes = encodeMaskedInput({ meta, complaints: [], signature, masked });
 */
export function encodeMaskedInput(frame: MaskedFrame): Uint8Array {
  const json = JSON.stringify({ meta: frame.meta, complaints: frame.complaints, signature: frame.signature, length: frame.masked.length });
  const raw = new TextEncoder().encode(json);
  const headerLength = raw.length + ((4 - ((12 + raw.length) % 4)) % 4);
  const out = new Uint8Array(12 + headerLength + 4 * frame.masked.length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  const view = new DataView(out.buffer);
  view.setUint32(8, headerLength, true);
  out.set(raw, 12);
  out.fill(0x20, 12 + raw.length, 12 + headerLength);
  const body = 12 + headerLength;
  for (let i = 0; i < frame.masked.length; i++) view.setUint32(body + 4 * i, frame.masked[i] as number, true);
  return out;
}

/**
 * Decodes and checks a masked-input frame; throws CORRUPT_PAYLOAD or SHAPE_MISMATCH with the reason.
 * @example const { masked, meta } = decodeMaskedInput(bytes, { length: parameters + 1 });
 */
export function decodeMaskedInput(bytes: Uint8Array, expect: { length: number }): MaskedFrame {
  if (bytes.length < 12 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new CohortError('CORRUPT_PAYLOAD', 'not a masked-input frame (magic "COSM" missing)');
  if (bytes[4] !== VERSION) throw new CohortError('CORRUPT_PAYLOAD', `masked-input frame version ${bytes[4]} is not supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (headerLength > 1 << 20 || 12 + headerLength > bytes.length)
    throw new CohortError('CORRUPT_PAYLOAD', 'masked-input header length out of range');
  let header: z.infer<typeof MaskedHeaderSchema>;
  try {
    header = MaskedHeaderSchema.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLength))));
  } catch (cause) {
    throw new CohortError('CORRUPT_PAYLOAD', `masked-input header invalid: ${(cause as Error).message.slice(0, 200)}`);
  }
  if (header.length !== expect.length)
    throw new CohortError('SHAPE_MISMATCH', `masked vector has ${header.length} entries, this round expects ${expect.length}`);
  const body = 12 + headerLength;
  if (bytes.length !== body + 4 * header.length)
    throw new CohortError('CORRUPT_PAYLOAD', `masked-input frame is ${bytes.length} bytes, its header implies ${body + 4 * header.length}`);
  const masked = new Uint32Array(header.length);
  for (let i = 0; i < masked.length; i++) masked[i] = view.getUint32(body + 4 * i, true);
  return { meta: header.meta, complaints: header.complaints, signature: header.signature, masked };
}
