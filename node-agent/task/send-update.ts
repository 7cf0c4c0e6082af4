/** Seals the trained update to the coordinator and uploads it; a failure anywhere on the way is the task's outcome, not a crash. */
import type { EventEmitter } from 'node:events';
import { encodeTensors, toCohortError, type UpdateMeta } from '../../protocol/index.js';
import { sealEnvelope, type Identity } from '../../crypto/index.js';
import type { AgentEventMap } from '../events.js';
import type { AgentSocket } from '../transport/connection.js';
import { uploadUpdate } from '../transport/upload.js';
import type { Mod } from '../mods/chain.js';

export interface SendUpdateOptions {
  socket: AgentSocket;
  federation: string;
  identity: Identity;
  /** The coordinator's box key: what updates are sealed to. */
  coordinatorBoxPublicKey: Uint8Array;
  /** The chunk size the coordinator asked for at welcome. */
  chunkBytes(): number;
  /** Upload chunks sent ahead of their acknowledgements (default 8; 1 is stop-and-wait). */
  window?: number;
  /** Resolves once the session is authenticated (again, after a reconnect). */
  whenSessionReady(): Promise<void>;
  events: EventEmitter<AgentEventMap>;
}

/**
 * Seals what the mods inside return (as plain weights, or as their encoding says), signs it, uploads it in chunks and
 * audits it as update.sent; an error anywhere inside becomes a `failed` outcome.
 * @example chain([consentGuard(c), oncePerRound(), sendUpdate(options), ...], trainStep(site))
 */
export function sendUpdate(o: SendUpdateOptions): Mod {
  return async (task, ctx, next) => {
    try {
      const outcome = await next(task, ctx);
      if (outcome.kind !== 'trained') return outcome;
      const { update } = outcome;
      const { round } = task;
      const meta: UpdateMeta = {
        kind: update.encoding?.kind ?? 'weights',
        federation: o.federation,
        round,
        institution: o.identity.id,
        baseVersion: task.model.version,
        samples: update.trainSamples,
        metrics: update.metrics,
      };
      const envelope = sealEnvelope({
        // Plain weights are encoded straight into the envelope, which encrypts them where they lie.
        payload: update.encoding
          ? await update.encoding.encode(update, meta)
          : (allocate) => encodeTensors(update.weights, meta, { trailer: false, allocate }),
        context: { federation: o.federation, round, institution: o.identity.id },
        recipientBoxPublicKey: o.coordinatorBoxPublicKey,
        senderSignSecretKey: o.identity.signSecretKey,
      });
      const { digest } = await uploadUpdate(o.socket, envelope, {
        round,
        chunkBytes: o.chunkBytes(),
        window: o.window,
        whenSessionReady: o.whenSessionReady,
      });
      const bytes = envelope.length;
      ctx.audit.append('update.sent', { round, baseVersion: task.model.version, digest, bytes, samples: update.trainSamples });
      ctx.log.info({ round, digest, bytes }, 'update accepted');
      o.events.emit('uploaded', { round, digest, bytes });
      return { kind: 'sent', digest, bytes };
    } catch (cause) {
      return { kind: 'failed', error: toCohortError(cause) };
    }
  };
}
