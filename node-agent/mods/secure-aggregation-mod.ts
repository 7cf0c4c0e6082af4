/** Secure aggregation as a mod: the site checks the round's terms, joins its key exchange beside training, and sends its update masked. */
import type { Logger } from 'pino';
import {
  CohortError,
  SecAggConsistencyRequestSchema,
  SecAggKeysSchema,
  SecAggSharesSchema,
  SecAggUnmaskRequestSchema,
  parameterCount,
  toCohortError,
  type UpdateMeta,
} from '../../protocol/index.js';
import type { Identity } from '../../crypto/index.js';
import { ACK_TIMEOUT_MS, type AgentSocket } from '../transport/connection.js';
import { siteNoiseStd } from './dp-terms.js';
import { checkSecAggTerms } from './secagg-terms-guard.js';
import { SiteSecAgg } from './secure-aggregation.js';
import type { LocalUpdate, Mod } from './chain.js';

export interface SecureAggregationOptions {
  federation: string;
  identity: Identity;
  /** The agent's connection: the mod listens to the coordinator's secure-aggregation messages on it and answers them. */
  socket: AgentSocket;
  log: Logger;
}

/**
 * Declines a task whose study promises secure aggregation but which does not run it, or whose terms the site's
 * consented manifest does not back; otherwise starts the round's key exchange before training and has the update
 * sealed as a masked input. The key exchange's messages are handled as they come, not queued behind training.
 * @example chain([..., secureAggregation({ federation, identity, socket, log }), ...], train)
 */
export function secureAggregation(o: SecureAggregationOptions): Mod {
  let session: SiteSecAgg | undefined;
  listen(o, (round) => (session && session.round === round ? session : undefined));
  return async (task, ctx, next) => {
    if (task.privacy.secureAggregation && !task.secagg) {
      const message =
        'the study promises secure aggregation but this task does not run it: the update would reach the coordinator unmasked';
      return { kind: 'declined', code: 'PRIVACY_MISMATCH', message };
    }
    session = undefined;
    if (!task.secagg) return next(task, ctx);
    const vectorLength = parameterCount(task.model.spec);
    const terms = checkSecAggTerms(task.secagg, task.study, { federation: o.federation, round: task.round, vectorLength });
    if (!terms.ok) return { kind: 'declined', code: terms.code, message: terms.message };
    let secure: SiteSecAgg;
    try {
      secure = session = new SiteSecAgg({
        federation: o.federation,
        round: task.round,
        terms: task.secagg,
        // Derived from the signed study terms (privacyBudget checked the task's noiseStd against it), never taken from the task.
        noiseStd: task.study.privacy.dp ? siteNoiseStd(task.study.privacy.dp, task.secagg.threshold) : 0,
        vectorLength,
        identity: o.identity,
        send: (event, msg) => send(o.socket, event, msg),
        log: (level, m) => o.log[level](m),
      });
      await secure.start();
    } catch (cause) {
      const message = `cannot join the round's secure aggregation: ${toCohortError(cause).message}`;
      return { kind: 'declined', code: 'SECAGG_FAILED', message };
    }
    const outcome = await next(task, ctx);
    if (outcome.kind !== 'trained') return outcome;
    const weight = task.config.dpClipNorm !== undefined ? 1 : outcome.update.trainSamples;
    const encode = (update: LocalUpdate, meta: UpdateMeta) =>
      secure.maskedPayload({ global: update.global, trained: update.weights, weight, meta, deadline: task.deadline });
    return { kind: 'trained', update: { ...outcome.update, encoding: { kind: 'masked', encode } } };
  };
}

/** Hands the coordinator's secure-aggregation messages to the session of their round (others are dropped). */
function listen(o: SecureAggregationOptions, forRound: (round: number) => SiteSecAgg | undefined): void {
  const inbound =
    <T extends { round: number }>(
      schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
      handle: (s: SiteSecAgg, msg: T) => Promise<void> | void,
    ) =>
    (raw: unknown) => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) return o.log.warn('malformed secure-aggregation message ignored');
      const session = forRound(parsed.data.round);
      if (session)
        void Promise.resolve(handle(session, parsed.data)).catch((err: Error) =>
          o.log.warn(`secure aggregation step failed: ${err.message}`),
        );
    };
  o.socket.on(
    'secagg:keys',
    inbound(SecAggKeysSchema, (session, msg) => session.onKeys(msg)),
  );
  o.socket.on(
    'secagg:shares',
    inbound(SecAggSharesSchema, (session, msg) => session.onShares(msg)),
  );
  o.socket.on(
    'secagg:consistency-request',
    inbound(SecAggConsistencyRequestSchema, (session, msg) => session.onConsistency(msg)),
  );
  o.socket.on(
    'secagg:unmask-request',
    inbound(SecAggUnmaskRequestSchema, (session, msg) => session.onUnmask(msg)),
  );
}

/** Sends one of the site's secure-aggregation messages; a refusal by the coordinator is thrown as its error. */
async function send(
  socket: AgentSocket,
  event: 'secagg:advertise' | 'secagg:share-keys' | 'secagg:consistency' | 'secagg:unmask',
  msg: object,
): Promise<void> {
  const res = await (
    socket.timeout(ACK_TIMEOUT_MS).emitWithAck as (
      e: string,
      m: object,
    ) => Promise<{ ok: boolean; error?: { code: string; message: string } }>
  )(event, msg);
  if (!res.ok) throw new CohortError((res.error?.code ?? 'INTERNAL') as CohortError['code'], res.error?.message ?? 'refused');
}
