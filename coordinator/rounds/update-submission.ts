/** A round's update intake at the runner: plain updates checked and folded into the aggregate, and the records every update (plain or masked) leaves. */
import {
  CohortError,
  checkFinite,
  compressionOf,
  parameterCount,
  toCohortError,
  type ErrorCode,
  type NamedTensor,
  type UpdateMeta,
} from '../../protocol/index.js';
import { knownError, storing } from '../store/index.js';
import { updateRules } from '../policy/index.js';
import { updateNorm } from '../privacy.js';
import { intakeUpdate, type IntakeContext } from './update-intake.js';
import type { BoundSource } from './update-bound.js';
import { addMetrics } from './metrics.js';
import type { RoundContext, TrainingRound } from './round-context.js';

/**
 * What became of an update that passed its checks: counted (its digest), or taken but not into a state the round can
 * publish from, so the runner fails the round with `reason` and the site gets `error`.
 */
export type Submitted = { ok: true; digest: string } | { ok: false; reason: string; error: CohortError };

/**
 * What an update of this round from `institution` must match; UNKNOWN_INSTITUTION when it is not enrolled.
 * @example const intake = intakeFor(ctx, training, 'site-a')
 */
export function intakeFor(ctx: RoundContext, training: TrainingRound, institution: string): IntakeContext {
  const enrolled = ctx.deps.store.getInstitution(ctx.federationId, institution);
  if (!enrolled) throw new CohortError('UNKNOWN_INSTITUTION', `${institution} is not enrolled`);
  return {
    federation: ctx.federationId,
    round: training.round,
    institution,
    baseVersion: training.base.version,
    spec: ctx.spec,
    coordinator: ctx.deps.identity,
    institutionSignPublicKey: Buffer.from(enrolled.signPublicKey, 'base64'),
    maxPayloadBytes: ctx.deps.maxPayloadBytes,
    compression: compressionOf(ctx.deps.rules.train),
    global: ctx.models.current?.tensors,
  };
}

/**
 * Verifies, decrypts and folds one plain update into the running aggregate; a refused update is recorded, then thrown.
 * @example const submitted = submitPlain(ctx, training, 'site-a', envelope, intakeFor(ctx, training, 'site-a'))
 */
export function submitPlain(
  ctx: RoundContext,
  training: TrainingRound,
  institution: string,
  envelope: Uint8Array,
  intake: IntakeContext,
): Submitted {
  const { round } = training;
  let accepted;
  let norm: number;
  try {
    accepted = intakeUpdate(envelope, intake, { finite: 'by-distance' });
    // One pass over the update instead of two: float32 values squared and summed in float64 cannot overflow, so the
    // distance is finite exactly when every value is; only when it is not does checkFinite run, to name the first.
    const distance = updateNorm(accepted.tensors, training.base.tensors);
    if (!Number.isFinite(distance)) checkFinite(accepted.tensors);
    checkSamples(ctx, training, institution, accepted.meta.samples);
    norm = checkNorm(ctx, training, accepted.tensors, distance);
  } catch (cause) {
    const err = toCohortError(cause);
    refuse(ctx, training, institution, err.code, err.message, envelope.length, err instanceof NormExceeded ? err.facts : {});
    throw err;
  }
  const { meta, digest } = accepted;
  // Stored first, folded once stored: a locked database or a full disk (which may fail the commit itself) refuses
  // the update with UNAVAILABLE before it counts, and the site may send it again.
  storeAccepted(ctx, round, institution, meta, digest, envelope.length, { norm });
  ctx.clip.observe(meta.metrics.withinClip);
  ctx.bound.observe(norm);
  try {
    // Under DP every update weighs the same, so no site's sample count changes the mechanism's sensitivity.
    training.accumulator.add(
      accepted.tensors.map((t) => t.data),
      ctx.deps.rules.dp ? 1 : meta.samples,
    );
  } catch (cause) {
    // Stored as accepted but not in the aggregate: the round cannot publish a model that matches its record.
    const error = knownError(cause);
    return { ok: false, reason: `the aggregate could not take ${institution}'s accepted update: ${error.message}`, error };
  }
  return counted(ctx, training, institution, meta, digest);
}

/** UPDATE_NORM_EXCEEDED, with the norm and the bound for the audit entry. */
class NormExceeded extends CohortError {
  constructor(
    message: string,
    readonly facts: { norm: number; bound: number; boundSource: BoundSource },
  ) {
    super('UPDATE_NORM_EXCEEDED', message);
  }
}

/**
 * The update's L2 distance from the model it was trained from, or UPDATE_NORM_EXCEEDED when it is above the round's
 * bound (update-bound.ts): under DP the clip norm, which the guarantee's sensitivity rests on.
 * @example const norm = checkNorm(ctx, training, accepted.tensors)
 */
export function checkNorm(
  ctx: RoundContext,
  training: TrainingRound,
  tensors: readonly NamedTensor[],
  norm = updateNorm(tensors, training.base.tensors),
): number {
  const { bound, source } = ctx.bound.current(parameterCount(ctx.spec), ctx.deps.rules.dp ? ctx.clip.current : undefined);
  if (!(norm <= bound)) {
    const why =
      source === 'dp-clip'
        ? `the DP clip norm ${ctx.clip.current}: differential privacy needs the site to clip it`
        : `the round's bound ${bound.toPrecision(6)} (${source})`;
    throw new NormExceeded(`update is ${norm.toPrecision(6)} from the global model in L2 norm, above ${why}`, {
      norm,
      bound,
      boundSource: source,
    });
  }
  return norm;
}

/**
 * FedAvg weights by the claimed count: no more rows than the site declared when it was selected, and the policy's minimum.
 * @example checkSamples(ctx, training, 'site-a', meta.samples) // throws BAD_SAMPLE_COUNT
 */
export function checkSamples(ctx: RoundContext, training: TrainingRound, institution: string, samples: number): void {
  const declared = training.declared.get(institution) ?? 0;
  if (samples > declared) {
    throw new CohortError(
      'BAD_SAMPLE_COUNT',
      `update claims ${samples} training samples, but ${institution} declared ${declared} when the round started`,
    );
  }
  const failed = updateRules(ctx.deps.federation.policy, samples).find((d) => !d.passed);
  if (failed) throw new CohortError('BAD_SAMPLE_COUNT', `policy rule ${failed.rule}: ${failed.message}`);
}

/**
 * Records an update as accepted, with its audit entry, in one transaction; UNAVAILABLE when storage fails.
 * @example storeAccepted(ctx, 3, 'site-a', meta, digest, envelope.length, { masked: true })
 */
export function storeAccepted(
  ctx: RoundContext,
  round: number,
  institution: string,
  meta: UpdateMeta,
  digest: string,
  bytes: number,
  extra: Record<string, unknown>,
): void {
  storing(() =>
    ctx.deps.store.transaction(() => {
      ctx.deps.store.updateParticipation(ctx.federationId, round, institution, {
        status: 'accepted',
        samples: meta.samples,
        digest,
        bytes,
        metrics: meta.metrics,
      });
      ctx.audit('update.accepted', { round, digest, bytes, samples: meta.samples, ...extra }, institution);
    }),
  );
}

/**
 * An accepted update, stored and in the aggregate: count it, announce it, and close training once nobody is pending.
 * @example return counted(ctx, training, 'site-a', meta, digest)
 */
export function counted(ctx: RoundContext, training: TrainingRound, institution: string, meta: UpdateMeta, digest: string): Submitted {
  addMetrics(training.metrics, meta.samples, meta.metrics);
  training.accepted.push({ institution, samples: meta.samples });
  training.pending.delete(institution);
  ctx.events.emit('update:accepted', { round: training.round, institution, samples: meta.samples, digest, metrics: meta.metrics });
  ctx.maybeClose();
  return { ok: true, digest };
}

/**
 * Records a refused update (the site is out of the round) and announces it; training may close once the refusal settles.
 * @example refuse(ctx, training, 'site-a', 'BAD_SIGNATURE', err.message, envelope.length)
 */
export function refuse(
  ctx: RoundContext,
  training: TrainingRound,
  institution: string,
  code: ErrorCode,
  message: string,
  bytes: number,
  extra: Record<string, unknown> = {},
): void {
  const { round } = training;
  ctx.deps.store.transaction(() => {
    ctx.deps.store.updateParticipation(ctx.federationId, round, institution, { status: 'refused', code, message, bytes });
    ctx.audit('update.refused', { round, code, message, bytes, ...extra }, institution);
  });
  training.pending.delete(institution);
  ctx.events.emit('update:refused', { round, institution, code, message });
  ctx.deps.log.warn({ round, institution, code }, `update refused: ${message}`);
  queueMicrotask(() => ctx.maybeClose());
}
