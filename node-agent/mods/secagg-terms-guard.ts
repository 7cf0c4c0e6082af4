/** The site's own check of a secure round's terms against the study it consented to: whom it aggregates with, and how high the threshold is. */
import { ErrorCode, type SecAggTerms, type StudyManifest } from '../../protocol/index.js';
import { fingerprint, fromBase64, secagg } from '../../crypto/index.js';

export type TermsVerdict = { ok: true } | { ok: false; code: ErrorCode; message: string };

/**
 * Refuses terms that (1) name a participant, or a participant's key, not listed in the manifest (the coordinator could
 * otherwise surround the site with sybils it controls, so that the "sum" is the site's update plus known values), or
 * (2) set a threshold below the study's threat model (manifest.privacy.secAggThreatModel, 'malicious' when absent).
 * The manifest is the one the site's consent covers (checked before), so both rest on what the site agreed to.
 * @example const verdict = checkSecAggTerms(task.secagg, task.study, { federation, round, vectorLength }); if (!verdict.ok) decline(verdict.code, verdict.message)
 */
export function checkSecAggTerms(
  terms: SecAggTerms,
  manifest: StudyManifest,
  ctx: { federation: string; round: number; vectorLength: number },
): TermsVerdict {
  const listed = new Map(manifest.institutions.map((i) => [i.id, i.fingerprint]));
  const unknown = terms.participants.filter((p) => {
    const key = fromBase64(p.signPublicKey);
    return key.length !== 32 || listed.get(p.id) !== fingerprint(key);
  });
  if (unknown.length) {
    const names = unknown
      .map((p) => p.id)
      .slice(0, 10)
      .join(', ');
    return {
      ok: false,
      code: ErrorCode.SECAGG_PARTICIPANT_UNKNOWN,
      message: `the round's participants ${names} are not enrolled under these keys in study version ${manifest.version} (the manifest this site consented to)`,
    };
  }
  let holders: number;
  try {
    holders = secagg.openSession(secagg.configFromTerms(terms, ctx)).maxHolders;
  } catch (err) {
    return {
      ok: false,
      code: ErrorCode.SECAGG_FAILED,
      message: `the round's secure-aggregation terms are invalid: ${(err as Error).message}`,
    };
  }
  const model = manifest.privacy.secAggThreatModel ?? 'malicious';
  const least = secagg.minimumThreshold(holders, model);
  if (terms.threshold < least) {
    return {
      ok: false,
      code: ErrorCode.SECAGG_THRESHOLD_TOO_LOW,
      message: `threshold ${terms.threshold} of ${holders} share holders is below the ${model} model's ${least} that the study states`,
    };
  }
  return { ok: true };
}
