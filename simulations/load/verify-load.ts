/** After a load run: every acknowledged update is in the database once, and each published model moved by exactly their weighted mean. */
import { decodeTensors } from '../../protocol/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import type { Store } from '../../coordinator/index.js';

/** An update the coordinator acknowledged to a site (what the site sent, as the site saw it). */
export interface Acknowledged {
  institution: string;
  round: number;
  digest: string;
  samples: number;
  shift: number;
}

export interface RoundCheck {
  round: number;
  state: string;
  acknowledged: number;
  accepted: number;
  /** Acknowledged to the site but not stored as accepted. */
  lost: string[];
  /** Stored as accepted but never acknowledged (or with another digest). */
  unexplained: string[];
  /** Sites with more than one `update.accepted` audit entry for the round. */
  doubleCounted: string[];
  /** The round's recorded sample total equals the sum over its accepted participations. */
  samplesMatch: boolean;
  /** Mean change of every weight from the parent model: expected (from the acknowledged shifts) and measured. */
  expectedShift?: number;
  measuredShift?: number;
}

/**
 * Compares what the sites were told with what the coordinator stored and published, round by round.
 * @example const checks = verifyLoad(store, dataDir, 'load', acks); checks.every((c) => c.lost.length === 0)
 */
export function verifyLoad(store: Store, dataDir: string, federation: string, acks: Acknowledged[]): RoundCheck[] {
  const audits = store.listAudit({ federationId: federation }).filter((e) => e.kind === 'update.accepted');
  return store.listRounds(federation).map((r) => {
    const sent = acks.filter((a) => a.round === r.round);
    const accepted = store.listParticipations(federation, r.round).filter((p) => p.status === 'accepted');
    const stored = new Set(accepted.map((p) => `${p.institutionId}:${p.digest}`));
    const told = new Set(sent.map((a) => `${a.institution}:${a.digest}`));
    const perSite = new Map<string, number>();
    for (const e of audits) if (e.subject === `round:${r.round}`) perSite.set(e.actor, (perSite.get(e.actor) ?? 0) + 1);
    const check: RoundCheck = {
      round: r.round,
      state: r.state,
      acknowledged: sent.length,
      accepted: accepted.length,
      lost: sent.filter((a) => !stored.has(`${a.institution}:${a.digest}`)).map((a) => a.institution),
      unexplained: accepted.filter((p) => !told.has(`${p.institutionId}:${p.digest}`)).map((p) => p.institutionId),
      doubleCounted: [...perSite].filter(([, n]) => n > 1).map(([site]) => site),
      samplesMatch: r.state !== 'published' || r.metrics?.samples === accepted.reduce((n, p) => n + (p.samples ?? 0), 0),
    };
    if (r.state === 'published' && r.resultVersion !== null && r.resultVersion > 0) {
      const weight = sent.reduce((n, a) => n + a.samples, 0);
      check.expectedShift = sent.reduce((s, a) => s + a.shift * a.samples, 0) / weight;
      check.measuredShift = meanShift(store, dataDir, federation, r.resultVersion);
    }
    return check;
  });
}

/** True when a round lost nothing, counted nothing twice, and its model moved as its updates say. */
export function roundOk(c: RoundCheck): boolean {
  const shiftOk = c.expectedShift === undefined || Math.abs((c.measuredShift ?? Number.NaN) - c.expectedShift) < 1e-6;
  return c.lost.length === 0 && c.unexplained.length === 0 && c.doubleCounted.length === 0 && c.samplesMatch && shiftOk;
}

/** The mean over every weight of model `version` minus its parent (version - 1). */
function meanShift(store: Store, dataDir: string, federation: string, version: number): number {
  const read = (v: number) => {
    const m = store.getModel(federation, v);
    if (!m) throw new Error(`model v${v} is missing`);
    return decodeTensors(loadModelFile(dataDir, m.path, m.digest)).tensors;
  };
  const [before, after] = [read(version - 1), read(version)];
  let sum = 0;
  let n = 0;
  before.forEach((t, i) => {
    const u = after[i]?.data as Float32Array;
    for (let j = 0; j < t.data.length; j++) sum += (u[j] as number) - (t.data[j] as number);
    n += t.data.length;
  });
  return sum / n;
}
