/** A round as the console shows it live (state, deadline, who has reported), and that view cut down to one institution's own part. */
import type { RoundMetrics, Store } from '../store/index.js';
import type { ConsolePrincipal } from './principal.js';

export interface RoundSnapshot {
  round: number;
  state: string;
  startedAt: number;
  /** When the round closes (epoch ms): the training deadline, or the wait deadline before it starts. */
  deadline: number;
  /** How many institutions were selected, and how many have an update accepted, refused, declined or dropped. */
  selected: number;
  reported: number;
  accepted: number;
  participations: { institution: string; status: string }[];
  resultVersion: number | null;
  metrics: RoundMetrics | null;
  reason: string | null;
}

/**
 * The federation's newest round as persisted (the store is written before anything is announced).
 * @example const snap = latestRoundSnapshot(store, 'demo')
 */
export function latestRoundSnapshot(store: Store, federation: string): RoundSnapshot | null {
  const r = store.latestRound(federation);
  if (!r) return null;
  const participations = store.listParticipations(federation, r.round).map((p) => ({ institution: p.institutionId, status: p.status }));
  return {
    round: r.round,
    state: r.state,
    startedAt: r.startedAt,
    deadline: r.deadline,
    selected: r.selected.length,
    reported: participations.filter((p) => p.status !== 'selected').length,
    accepted: participations.filter((p) => p.status === 'accepted').length,
    participations,
    resultVersion: r.resultVersion,
    metrics: r.metrics,
    reason: r.reason,
  };
}

/**
 * The snapshot an institution's console may see: counts stay, other institutions' names and statuses go.
 * @example redactSnapshot(snap, { role: 'institution', institution: 'site-1' })
 */
export function redactSnapshot(snap: RoundSnapshot, p: ConsolePrincipal): RoundSnapshot {
  if (p.role !== 'institution') return snap;
  // A withheld round's reason quotes the failed rules, and a waiting round's the excluded sites: both may name another site.
  const reason =
    snap.state === 'withheld'
      ? 'withheld by policy'
      : snap.state === 'waiting' && snap.reason
        ? 'waiting: too few eligible institutions'
        : snap.reason;
  return { ...snap, reason, participations: snap.participations.filter((x) => x.institution === p.institution) };
}
