/** Resuming a federation after a coordinator restart: interrupted rounds fail cleanly and the latest model is loaded and verified. */
import { toCohortError } from '../../protocol/index.js';
import type { Federation } from '../store/index.js';
import type { RoundContext } from './round-context.js';

/**
 * Fails every round the restart interrupted, marks the federation running and loads its latest model; false (with
 * model.corrupt audited and announced) when that model no longer matches its digest, and no round may open.
 * @example if (resume(ctx, store.getFederation(id))) openNextRound()
 */
export function resume(ctx: RoundContext, federation: Federation | undefined): boolean {
  const { store } = ctx.deps;
  for (const r of store.listRounds(ctx.federationId)) {
    if (r.state === 'published' || r.state === 'failed' || r.state === 'withheld') continue;
    store.transaction(() => {
      store.updateRound(ctx.federationId, r.round, {
        state: 'failed',
        closedAt: Date.now(),
        reason: 'coordinator restarted during the round',
      });
      for (const p of store.listParticipations(ctx.federationId, r.round)) {
        if (p.status === 'selected')
          store.updateParticipation(ctx.federationId, r.round, p.institutionId, {
            status: 'dropped',
            code: 'ROUND_CLOSED',
            message: 'coordinator restarted',
          });
      }
      ctx.audit('round.failed', { round: r.round, reason: 'coordinator restarted during the round' });
    });
  }
  if (federation?.status !== 'running') store.updateFederationStatus(ctx.federationId, 'running');
  try {
    ctx.models.loadLatest(ctx.spec);
  } catch (cause) {
    // The file no longer matches its digest (or is gone): never hand it to agents. Rounds wait until it is restored.
    const latest = store.latestModel(ctx.federationId);
    const reason = toCohortError(cause).message;
    ctx.audit('model.corrupt', { version: latest?.version ?? null, digest: latest?.digest ?? null, reason });
    ctx.deps.log.error({ version: latest?.version }, `no round opens: ${reason}; restore the file from a backup and restart`);
    ctx.events.emit('model:corrupt', { version: latest?.version ?? -1, reason });
    return false;
  }
  if (ctx.models.current) ctx.spec = ctx.models.current.spec;
  return true;
}
