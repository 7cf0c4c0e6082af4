/** A model version's lineage: the versions it descends from, who contributed to each round, and whose consent was later withdrawn. */
import { CohortError } from '../../protocol/index.js';
import type { Store } from '../store/index.js';

export interface LineageStep {
  version: number;
  round: number | null;
  parentVersion: number | null;
  digest: string;
  contributors: { institution: string; samples: number }[];
}

export interface LineageInstitution {
  institution: string;
  rounds: number[];
  samples: number;
  revoked: { at: string; fromRound: number | null; reason: string } | null;
}

export interface Lineage {
  federation: string;
  version: number;
  steps: LineageStep[];
  institutions: LineageInstitution[];
  /** True when any institution whose data fed this model has since revoked its consent. */
  flagged: boolean;
  flags: string[];
}

/**
 * Walks parent versions back to version 0 and collects each round's accepted contributions.
 * @example const l = lineage(store, 'demo', 7); if (l.flagged) console.log(l.flags.join('\n'))
 */
export function lineage(store: Store, federation: string, version: number): Lineage {
  const steps: LineageStep[] = [];
  for (let v: number | null = version; v !== null;) {
    const model = store.getModel(federation, v);
    if (!model) throw new CohortError('NOT_FOUND', `federation ${federation} has no model v${v}`);
    const contributors =
      model.round === null
        ? []
        : store
            .listParticipations(federation, model.round)
            .filter((p) => p.status === 'accepted')
            .map((p) => ({ institution: p.institutionId, samples: p.samples ?? 0 }));
    steps.push({ version: model.version, round: model.round, parentVersion: model.parentVersion, digest: model.digest, contributors });
    v = model.parentVersion;
  }
  steps.reverse();
  const byInstitution = new Map<string, LineageInstitution>();
  for (const step of steps) {
    for (const c of step.contributors) {
      const entry = byInstitution.get(c.institution) ?? { institution: c.institution, rounds: [], samples: 0, revoked: null };
      entry.rounds.push(step.round as number);
      entry.samples += c.samples;
      byInstitution.set(c.institution, entry);
    }
  }
  const flags: string[] = [];
  // One read of the consents, not one per institution: with 1,000 contributors that was 10^6 rows per publication.
  const revocations = new Map<string, ReturnType<Store['listConsents']>[number]>();
  for (const c of store.listConsents(federation))
    if (c.status === 'revoked' && !revocations.has(c.institutionId)) revocations.set(c.institutionId, c);
  for (const entry of byInstitution.values()) {
    const revoked = revocations.get(entry.institution);
    if (revoked?.revocation) {
      entry.revoked = {
        at: revoked.revocation.body.revokedAt,
        fromRound: revoked.revokedFromRound,
        reason: revoked.revocation.body.reason,
      };
      flags.push(
        `${entry.institution} revoked its consent at ${entry.revoked.at} (effective from round ${entry.revoked.fromRound ?? '?'}); its data fed rounds ${entry.rounds.join(', ')} of this model`,
      );
    }
  }
  const institutions = [...byInstitution.values()].sort((a, b) => a.institution.localeCompare(b.institution));
  return { federation, version, steps, institutions, flagged: flags.length > 0, flags };
}

/** A terminal rendering: one line per round with its contributors, then the institutions and the flags. */
export function formatLineage(l: Lineage): string {
  const lines = [
    `Lineage of ${l.federation} model v${l.version}${l.flagged ? '  [FLAGGED: fed by data whose consent was withdrawn]' : ''}`,
    '',
  ];
  for (const s of l.steps) {
    const who = s.contributors.map((c) => `${c.institution}(${c.samples})`).join(' ');
    lines.push(
      `  v${s.version}  ${s.round === null ? 'initial weights' : `round ${s.round}: ${who || 'no contributors'}`}  digest ${s.digest.slice(0, 12)}…`,
    );
  }
  lines.push('', '  institution        rounds  samples  consent');
  for (const i of l.institutions) {
    lines.push(
      `  ${i.institution.padEnd(18)} ${String(i.rounds.length).padStart(6)} ${String(i.samples).padStart(8)}  ${i.revoked ? `REVOKED ${i.revoked.at}` : 'in force'}`,
    );
  }
  if (l.flags.length > 0) lines.push('', ...l.flags.map((f) => `  ! ${f}`));
  return lines.join('\n');
}
