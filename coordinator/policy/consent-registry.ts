/** The coordinator's record of consents: it verifies and keeps what institutions signed, and answers who may take part. */
import {
  CohortError,
  consentCovers,
  type Coverage,
  type SignedConsent,
  type SignedRevocation,
  type StudyManifest,
  type Use,
} from '../../protocol/index.js';
import { consentHash, fromBase64, verifyConsent, verifyRevocation } from '../../crypto/index.js';
import type { Store } from '../store/index.js';
import type { Policy } from './policy.js';
import { enrolmentRules } from './rules.js';

/** Whether an institution may take part: a consent refusal code, or the policy's residency rule. */
export type Eligibility = Coverage | { ok: false; code: 'POLICY_RESIDENCY'; message: string };

export interface ConsentRegistryDeps {
  store: Store;
  federation: string;
  manifest: StudyManifest;
  policy: Policy;
  audit: (kind: string, data: Record<string, unknown>, actor: string) => void;
}

/**
 * Consent is the institution's: the coordinator cannot make one (it has no institution key), only
 * check a signature, keep the record, and exclude an institution whose consent does not cover a use.
 */
export class ConsentRegistry {
  private readonly expiredSeen = new Set<string>();

  constructor(private readonly deps: ConsentRegistryDeps) {}

  private signKey(institution: string): Uint8Array {
    const inst = this.deps.store.getInstitution(this.deps.federation, institution);
    if (!inst) throw new CohortError('UNKNOWN_INSTITUTION', `${institution} is not enrolled`);
    return fromBase64(inst.signPublicKey);
  }

  /**
   * Records a consent an agent presents (new ones are audited; a re-presented one is a no-op).
   * Throws BAD_SIGNATURE when the institution's key did not sign it, BAD_REQUEST when it names someone else.
   */
  present(institution: string, consent: SignedConsent): void {
    const { store, federation } = this.deps;
    if (consent.body.institution !== institution || consent.body.federation !== federation) {
      throw new CohortError(
        'BAD_REQUEST',
        `consent names ${consent.body.institution} in ${consent.body.federation}, the session is ${institution} in ${federation}`,
      );
    }
    if (!verifyConsent(consent, this.signKey(institution))) {
      throw new CohortError('BAD_SIGNATURE', `consent is not signed by the key enrolled for ${institution}`);
    }
    const hash = consentHash(consent);
    if (store.getConsentByHash(hash)) return;
    store.transaction(() => {
      store.addConsent({
        federationId: federation,
        institutionId: institution,
        consentHash: hash,
        body: consent.body,
        signature: consent.signature,
        status: 'active',
        expiresAt: Date.parse(`${consent.body.ethicsApproval.expires}T23:59:59.999Z`),
        presentedAt: Date.now(),
      });
      const { manifestHash, uses, ethicsApproval, dataCategories, dataResidency, limits } = consent.body;
      this.deps.audit(
        'consent.granted',
        { consentHash: hash, manifestHash, uses, ethicsApproval, dataCategories, dataResidency, limits },
        institution,
      );
      const decisions = enrolmentRules(this.deps.policy, dataResidency);
      if (decisions.length > 0) this.deps.audit('policy.enrolment', { consentHash: hash, decisions }, institution);
    });
  }

  /**
   * Records a revocation signed by the institution; it applies from `fromRound` on. Idempotent.
   * @example registry.revoke('site-b', revocation, 4)
   */
  revoke(institution: string, revocation: SignedRevocation, fromRound: number): { alreadyRevoked: boolean } {
    const { store } = this.deps;
    const held = store.getConsentByHash(revocation.body.consentHash);
    if (!held || held.institutionId !== institution) {
      throw new CohortError(
        'NOT_FOUND',
        `${institution} revoked a consent this coordinator does not hold (${revocation.body.consentHash.slice(0, 12)}…)`,
      );
    }
    const consent: SignedConsent = { body: held.body, signature: held.signature };
    if (!verifyRevocation(revocation, consent, this.signKey(institution))) {
      throw new CohortError('BAD_SIGNATURE', `revocation is not signed by the key enrolled for ${institution}`);
    }
    if (held.status === 'revoked') return { alreadyRevoked: true };
    store.transaction(() => {
      store.revokeConsent(held.consentHash, { revokedAt: Date.parse(revocation.body.revokedAt), revokedFromRound: fromRound, revocation });
      this.deps.audit(
        'consent.revoked',
        { consentHash: held.consentHash, reason: revocation.body.reason, revokedAt: revocation.body.revokedAt, fromRound },
        institution,
      );
    });
    return { alreadyRevoked: false };
  }

  /** The study was amended: consents are checked against this manifest from now on. */
  amend(manifest: StudyManifest): void {
    this.deps.manifest = manifest;
  }

  /**
   * Whether an institution may take part in a use now: a consent in force covering this study and use,
   * its own limits (given the number of participants), and the policy's residency rule.
   */
  covers(institution: string, use: Use, participants?: number, now = new Date()): Eligibility {
    const held = this.deps.store.latestConsent(this.deps.federation, institution);
    if (!held) return { ok: false, code: 'CONSENT_MISSING', message: `${institution} has presented no consent` };
    const verdict = consentCovers(held.body, { manifest: this.deps.manifest, use, now, participants, revoked: held.status === 'revoked' });
    if (!verdict.ok && verdict.code === 'CONSENT_EXPIRED' && !this.expiredSeen.has(held.consentHash)) {
      this.expiredSeen.add(held.consentHash);
      this.deps.audit('consent.expired', { consentHash: held.consentHash, expires: held.body.ethicsApproval.expires }, institution);
    }
    if (!verdict.ok) return verdict;
    const residency = enrolmentRules(this.deps.policy, held.body.dataResidency).find((d) => !d.passed);
    if (residency) return { ok: false, code: 'POLICY_RESIDENCY', message: residency.message };
    return verdict;
  }

  /**
   * The fewest other institutions an institution's newest consent accepts in an aggregate (null: no consent on record).
   * A consent revoked after the institution contributed still sets the terms its contribution was made under.
   */
  minOtherInstitutions(institution: string): number | null {
    return this.deps.store.latestConsent(this.deps.federation, institution)?.body.limits.minOtherInstitutions ?? null;
  }

  /** Whether the institution's newest consent is revoked (the coordinator has recorded its signed revocation). */
  isRevoked(institution: string): boolean {
    return this.deps.store.latestConsent(this.deps.federation, institution)?.status === 'revoked';
  }

  /** The revocation of an institution's newest consent, if any. */
  revokedFrom(institution: string): number | null {
    const held = this.deps.store.latestConsent(this.deps.federation, institution);
    return held?.status === 'revoked' ? (held.revokedFromRound ?? null) : null;
  }
}
