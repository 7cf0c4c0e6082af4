/** Whether a consent covers a use of a study now: one function, so the agent and the coordinator agree. */
import { ConsentRefusal, manifestHash, type ConsentBody, type ConsentRefusalCode, type StudyManifest, type Use } from './study.js';

export interface CoverageQuestion {
  manifest: StudyManifest;
  use: Use;
  now: Date;
  /** Institutions taking part in the round, when known (the consent's minimum of others). */
  participants?: number;
  revoked?: boolean;
}

export type Coverage = { ok: true } | { ok: false; code: ConsentRefusalCode; message: string };

/**
 * Checks a consent against a study and a use: manifest hash, allowed use, ethics approval expiry,
 * revocation, data categories, privacy limits (for training: analytics checks its epsilon and secure aggregation per
 * query, at the site) and the minimum number of other institutions.
 * @example const c = consentCovers(consent.body, { manifest, use: 'training', now: new Date(), participants: 5 })
 */
export function consentCovers(consent: ConsentBody, q: CoverageQuestion): Coverage {
  const refuse = (code: ConsentRefusalCode, message: string): Coverage => ({ ok: false, code, message });
  if (q.revoked) return refuse(ConsentRefusal.REVOKED, `${consent.institution} revoked its consent`);
  const hash = manifestHash(q.manifest);
  if (consent.manifestHash !== hash) {
    return refuse(
      ConsentRefusal.MANIFEST,
      `the study's manifest hash is ${hash.slice(0, 16)}…, the consent covers ${consent.manifestHash.slice(0, 16)}…`,
    );
  }
  if (consent.federation !== q.manifest.federation) {
    return refuse(ConsentRefusal.MANIFEST, `the consent is for federation ${consent.federation}, the study runs ${q.manifest.federation}`);
  }
  if (!consent.uses.includes(q.use)) return refuse(ConsentRefusal.USE, `the consent allows ${consent.uses.join(', ')}, not ${q.use}`);
  const expires = Date.parse(`${consent.ethicsApproval.expires}T23:59:59.999Z`);
  if (!(q.now.getTime() <= expires)) {
    return refuse(
      ConsentRefusal.EXPIRED,
      `ethics approval ${consent.ethicsApproval.reference} expired on ${consent.ethicsApproval.expires}`,
    );
  }
  const extra = consent.dataCategories.filter((c) => !q.manifest.dataCategories.includes(c));
  if (extra.length > 0)
    return refuse(ConsentRefusal.MANIFEST, `the consent contributes ${extra.join(', ')}, which the study does not declare`);
  const { limits } = consent;
  // Analytics has its own privacy terms per query (the site's ledger and its secure-aggregation demand, node-agent/analytics).
  if (q.use === 'analytics') return participantsCheck(limits, q.participants);
  if (limits.requireSecureAggregation && !q.manifest.privacy.secureAggregation) {
    return refuse(ConsentRefusal.PRIVACY, 'the consent requires secure aggregation; the study runs without it');
  }
  if (limits.maxEpsilon !== undefined) {
    const eps = q.manifest.privacy.dp?.epsilon;
    if (eps === undefined || eps > limits.maxEpsilon) {
      return refuse(
        ConsentRefusal.EPSILON,
        `the study's epsilon is ${eps ?? 'unbounded (no DP)'}, the consent allows at most ${limits.maxEpsilon}`,
      );
    }
  }
  return participantsCheck(limits, q.participants);
}

function participantsCheck(limits: ConsentBody['limits'], participants: number | undefined): Coverage {
  if (participants !== undefined && participants - 1 < limits.minOtherInstitutions) {
    return {
      ok: false,
      code: ConsentRefusal.TOO_FEW,
      message: `${participants - 1} other institutions in the round, the consent requires at least ${limits.minOtherInstitutions} (minOtherInstitutions, --min-others)`,
    };
  }
  return { ok: true };
}
