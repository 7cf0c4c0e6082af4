/** Wires socket.io to a round runner: authentication at connect, validated and audited agent events, and the outbox. */
import { storageUnavailable } from '../store/index.js';
import type { Outbox, RoundRunner } from '../rounds/round-runner.js';
import { UploadTable } from './uploads.js';
import { RealtimeLimiter } from './rate-limit.js';
import { guarded } from './guard.js';
import { AddressAudit } from './address-audit.js';
import { admit, challenge } from './authenticate.js';
import { attachHandlers } from './handlers.js';
import { outbox } from './outbox.js';
import type { RealtimeContext, RealtimeDeps } from './context.js';
import type { CohortSocket } from './types.js';

export type { RealtimeDeps } from './context.js';

/**
 * Wires the socket.io server to a round runner. Returns the Outbox the runner sends through.
 * @example const outbox = attachRealtime(deps, () => runner)
 */
export function attachRealtime(deps: RealtimeDeps, runner: () => RoundRunner): Outbox & { close(): void } {
  const { io, store, log } = deps;
  const sessions = new Map<string, CohortSocket>();
  const uploads = new UploadTable(deps.maxUploadBytes);
  // Best effort: with the database locked or the disk full the entry is lost (and logged), not the process.
  const audit = (kind: string, actor: string, data: Record<string, unknown>): void => {
    try {
      store.appendAudit({ federationId: deps.federation, kind, actor, subject: null, data });
    } catch (cause) {
      log.error({ kind, actor, err: storageUnavailable(cause)?.message ?? String(cause) }, 'audit entry not written');
    }
  };
  // Refusals for rate are written once per institution, limit and window, with their count: a flood cannot flood the audit log.
  const limiter = new RealtimeLimiter(
    deps.limits,
    (actor, summary) => audit('rate.limited', actor, { ...summary }),
    (actor, error) => log.warn({ actor, code: error.code }, error.message),
  );
  // Before authentication nobody has proved an identity: entries go under the address, one (and a summary) per window.
  const byAddress = new AddressAudit(limiter.limits.auditWindowMs, audit);
  const ctx: RealtimeContext = {
    deps,
    runner,
    sessions,
    uploads,
    limiter,
    audit,
    unauthenticated: (kind, address, event) => byAddress.record(kind, address, event),
  };

  // guarded: a throw in here would otherwise be an uncaught exception, and end the process.
  io.use(
    guarded(
      (socket: CohortSocket, next) => admit(ctx, socket, next),
      (cause) => log.error({ err: cause }, 'connect middleware failed'),
    ),
  );
  io.on('connection', (socket) => attachHandlers(ctx, socket, challenge(ctx, socket)));

  return outbox(ctx, () => {
    limiter.close();
    byAddress.flushAll();
  });
}
