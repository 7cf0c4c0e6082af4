/** Checks one uploaded update end to end: signature, context, decryption, codec, layout, finiteness, metadata. */
import {
  CohortError,
  UpdateMetaSchema,
  checkFinite,
  checkLayout,
  decodeMaskedInput,
  decodeTensors,
  parameterCount,
  tensorLayout,
  type Compression,
  type MaskedFrame,
  type ModelSpec,
  type NamedTensor,
  type UpdateMeta,
} from '../../protocol/index.js';
import { openEnvelope, peekEnvelope, type Identity } from '../../crypto/index.js';
import { decompressUpdate } from './update-decompress.js';

export interface IntakeContext {
  federation: string;
  round: number;
  institution: string;
  baseVersion: number;
  spec: ModelSpec;
  coordinator: Identity;
  institutionSignPublicKey: Uint8Array;
  maxPayloadBytes: number;
  /** The study's update compression (absent or none: plain float32 weights) and the global model its deltas add to. */
  compression?: Compression;
  global?: readonly NamedTensor[];
}

export interface AcceptedUpdate {
  tensors: NamedTensor[];
  meta: UpdateMeta;
  digest: string;
}

const envelopeCodes = {
  MALFORMED: 'CORRUPT_PAYLOAD',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  DECRYPT_FAILED: 'DECRYPT_FAILED',
} as const;

/**
 * Opens and validates an update envelope; throws a CohortError with the precise reason. `finite: 'by-distance'`
 * leaves the NaN/infinity check to a caller that computes the update's distance from a finite model at once (a
 * non-finite value makes that distance non-finite, and the caller then runs checkFinite).
 * @example const { tensors, meta } = intakeUpdate(envelopeBytes, ctx)
 */
export function intakeUpdate(envelope: Uint8Array, ctx: IntakeContext, options: { finite?: 'by-distance' } = {}): AcceptedUpdate {
  const opened = openChecked(envelope, ctx, 'update');
  // openEnvelope checked the payload's SHA-256 against the signed digest: no second hash for the frame's trailer.
  const { compression, global } = ctx;
  const decoded =
    compression && compression.mode !== 'none' && global
      ? decompressUpdate(opened.payload, { compression, spec: ctx.spec, global, maxBytes: ctx.maxPayloadBytes })
      : decodeTensors(opened.payload, { maxBytes: ctx.maxPayloadBytes, authenticated: true });
  const meta = checkMeta(decoded.meta, ctx);
  if (meta.kind !== 'weights')
    throw new CohortError('BAD_REQUEST', 'this round does not run secure aggregation: a masked input cannot be aggregated');
  checkLayout(decoded.tensors, tensorLayout(ctx.spec));
  if (options.finite !== 'by-distance') checkFinite(decoded.tensors);
  return { tensors: decoded.tensors, meta, digest: opened.payloadDigest };
}

/** Which part of an envelope's signed context differs from what this round expects. */
function contextCode(envelope: Uint8Array, ctx: IntakeContext): 'WRONG_FEDERATION' | 'WRONG_ROUND' | 'BAD_REQUEST' {
  const context = peekEnvelope(envelope)?.context;
  if (!context || context.federation !== ctx.federation) return 'WRONG_FEDERATION';
  if (context.round !== ctx.round) return 'WRONG_ROUND';
  return 'BAD_REQUEST';
}

export interface AcceptedMasked {
  frame: MaskedFrame;
  meta: UpdateMeta;
  digest: string;
}

/**
 * Opens a secure-aggregation masked input: the same envelope checks as a plain update, then the masked-input frame,
 * whose vector has one entry per parameter plus the weight. The values are masked: nothing about them can be checked here.
 * @example const { frame, meta } = intakeMasked(envelopeBytes, ctx)
 */
export function intakeMasked(envelope: Uint8Array, ctx: IntakeContext): AcceptedMasked {
  const opened = openChecked(envelope, ctx, 'masked input');
  if (opened.payload.length > ctx.maxPayloadBytes)
    throw new CohortError('PAYLOAD_TOO_LARGE', `masked input of ${opened.payload.length} bytes exceeds ${ctx.maxPayloadBytes}`);
  const frame = decodeMaskedInput(opened.payload, { length: parameterCount(ctx.spec) + 1 });
  const meta = checkMeta(frame.meta, ctx);
  if (meta.kind !== 'masked')
    throw new CohortError('BAD_REQUEST', 'this round runs secure aggregation: send a masked input, not plain weights');
  return { frame, meta, digest: opened.payloadDigest };
}

/** Opens the envelope for this round and site, or throws the precise reason. */
function openChecked(envelope: Uint8Array, ctx: IntakeContext, what: string): { payload: Uint8Array; payloadDigest: string } {
  const opened = openEnvelope(envelope, {
    recipientBoxSecretKey: ctx.coordinator.boxSecretKey,
    recipientBoxPublicKey: ctx.coordinator.boxPublicKey,
    senderSignPublicKey: ctx.institutionSignPublicKey,
    expected: { federation: ctx.federation, round: ctx.round, institution: ctx.institution },
    // The assembled upload is ours and used once: decrypted where it lies, the frame 4-aligned for zero-copy decoding.
    inPlace: true,
  });
  if (!opened.ok) {
    const code = opened.reason === 'WRONG_CONTEXT' ? contextCode(envelope, ctx) : envelopeCodes[opened.reason];
    throw new CohortError(code, `${what} refused: ${opened.message}`);
  }
  return opened;
}

/** Metadata checks shared by plain and masked updates. */
function checkMeta(raw: unknown, ctx: IntakeContext): UpdateMeta {
  const parsed = UpdateMetaSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'meta';
    const code = where === 'samples' ? 'BAD_SAMPLE_COUNT' : 'BAD_REQUEST';
    throw new CohortError(code, `update metadata invalid at ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const meta = parsed.data;
  if (meta.federation !== ctx.federation || meta.institution !== ctx.institution) {
    throw new CohortError('WRONG_FEDERATION', `update metadata names ${meta.federation}/${meta.institution}`);
  }
  if (meta.round !== ctx.round) throw new CohortError('WRONG_ROUND', `update is for round ${meta.round}, current round is ${ctx.round}`);
  if (meta.baseVersion !== ctx.baseVersion) {
    throw new CohortError('WRONG_ROUND', `update was trained from model v${meta.baseVersion}, this round distributed v${ctx.baseVersion}`);
  }
  return meta;
}
