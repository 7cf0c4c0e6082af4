/** Checks one uploaded update end to end: signature, context, decryption, codec, layout, finiteness, metadata. */
import {
  CohortError,
  UpdateMetaSchema,
  checkFinite,
  checkLayout,
  decodeTensors,
  tensorLayout,
  type ModelSpec,
  type NamedTensor,
  type UpdateMeta,
} from '../../protocol/index.js';
import { openEnvelope, peekEnvelope, type Identity } from '../../crypto/index.js';

export interface IntakeContext {
  federation: string;
  round: number;
  institution: string;
  baseVersion: number;
  spec: ModelSpec;
  coordinator: Identity;
  institutionSignPublicKey: Uint8Array;
  maxPayloadBytes: number;
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
 * Opens and validates an update envelope; throws a CohortError with the precise reason.
 * @example const { tensors, meta } = intakeUpdate(envelopeBytes, ctx)
 */
export function intakeUpdate(envelope: Uint8Array, ctx: IntakeContext): AcceptedUpdate {
  const opened = openEnvelope(envelope, {
    recipientBoxSecretKey: ctx.coordinator.boxSecretKey,
    senderSignPublicKey: ctx.institutionSignPublicKey,
    expected: { federation: ctx.federation, round: ctx.round, institution: ctx.institution },
  });
  if (!opened.ok) {
    const code = opened.reason === 'WRONG_CONTEXT' ? contextCode(envelope, ctx) : envelopeCodes[opened.reason];
    throw new CohortError(code, `update refused: ${opened.message}`);
  }
  const decoded = decodeTensors(opened.payload, { maxBytes: ctx.maxPayloadBytes });
  const parsed = UpdateMetaSchema.safeParse(decoded.meta);
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
  checkLayout(decoded.tensors, tensorLayout(ctx.spec));
  checkFinite(decoded.tensors);
  return { tensors: decoded.tensors, meta, digest: opened.payloadDigest };
}

/** Which part of an envelope's signed context differs from what this round expects. */
function contextCode(envelope: Uint8Array, ctx: IntakeContext): 'WRONG_FEDERATION' | 'WRONG_ROUND' | 'BAD_REQUEST' {
  const context = peekEnvelope(envelope)?.context;
  if (!context || context.federation !== ctx.federation) return 'WRONG_FEDERATION';
  if (context.round !== ctx.round) return 'WRONG_ROUND';
  return 'BAD_REQUEST';
}
