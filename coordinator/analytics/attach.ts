/** Connects runStats to the coordinator: online sessions on socket.io, the consent registry, the enrolled keys and the audit log. */
import type { Logger } from 'pino';
import { fromBase64 } from '../../crypto/index.js';
import type { Store } from '../store/index.js';
import type { RoundRunner } from '../rounds/index.js';
import type { CohortServer } from '../realtime/types.js';
import { runStats, type StatsDeps } from './run.js';
import { runCheck } from './check.js';
import { RecentStats } from './recent.js';
import type { StatsRequest } from './request.js';

export interface StatsHost {
  io: CohortServer;
  store: Store;
  federation: string;
  runner: () => RoundRunner | undefined;
  log: Logger;
  /** Keeps each result for the console's Stats page. */
  recent?: RecentStats;
}

/**
 * The ApiDeps `stats` function: asks the authenticated sessions of the online institutions whose consent covers
 * analytics (the others are listed as skipped with the reason) over their authenticated socket.io session.
 * @example createApi({ ..., stats: statsRunner(host) })
 */
export function statsRunner(host: StatsHost): (federation: string, request: StatsRequest, actor: string) => Promise<unknown> {
  const deps: StatsDeps = {
    federation: host.federation,
    eligible() {
      const runner = host.runner();
      const online = new Set(runner?.onlineInstitutions ?? []);
      const ask: string[] = [];
      const skip: Record<string, { code: string; message: string }> = {};
      for (const inst of host.store.listInstitutions(host.federation)) {
        const covered = runner?.consents.covers(inst.id, 'analytics');
        if (!online.has(inst.id)) skip[inst.id] = { code: 'OFFLINE', message: `${inst.id} is not connected` };
        else if (covered && !covered.ok) skip[inst.id] = { code: covered.code, message: covered.message };
        else ask.push(inst.id);
      }
      return { ask, skip };
    },
    async send(site, query, timeoutMs) {
      const socket = [...host.io.of('/').sockets.values()].find((s) => s.data.authenticated && s.data.institution === site);
      if (!socket) throw new Error(`${site} has no session`);
      return socket.timeout(timeoutMs).emitWithAck('stats:query', query);
    },
    signKey(site) {
      const inst = host.store.getInstitution(host.federation, site);
      return inst ? fromBase64(inst.signPublicKey) : undefined;
    },
    audit(kind, data, subject) {
      try {
        host.store.appendAudit({
          federationId: host.federation,
          kind,
          actor: typeof data.actor === 'string' ? data.actor : 'coordinator',
          subject: subject ?? null,
          data,
        });
      } catch (err) {
        host.log.error({ kind, err: (err as Error).message }, 'audit entry not written');
      }
    },
  };
  return async (_federation, request, actor) => {
    const result = await (request.check ? runCheck(deps, request, actor) : runStats(deps, request, actor));
    host.recent?.push(host.federation, { at: Date.now(), actor, request, result });
    return result;
  };
}

/**
 * The ApiDeps `stats` and `statsRecent` of one coordinator: queries run through statsRunner, their results kept for
 * GET .../stats and the console's Stats page. The host is read at each query (the socket.io server comes later).
 * @example createApi({ ..., ...statsApi(() => ({ io, store, federation, runner: () => runner, log })) })
 */
export function statsApi(host: () => Omit<StatsHost, 'recent'>): {
  stats: ReturnType<typeof statsRunner>;
  statsRecent: (federation: string) => unknown[];
} {
  const recent = new RecentStats();
  return {
    stats: (...args) => statsRunner({ ...host(), recent })(...args),
    statsRecent: (federation) => recent.list(federation),
  };
}
