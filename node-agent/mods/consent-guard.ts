/** The agent's own consent, enforced on every task: no task runs unless the institution's signed consent covers it. */
import { existsSync, readFileSync } from 'node:fs';
import {
  ConsentRefusal,
  SignedConsentSchema,
  SignedRevocationSchema,
  architectureHash,
  consentCovers,
  type Coverage,
  type ModelSpec,
  type PrivacySettings,
  type SignedConsent,
  type SignedRevocation,
  type StudyManifest,
  type StudyTraining,
  type Use,
} from '../../protocol/index.js';
import { canonicalJson } from '../../protocol/index.js';
import { verifyConsent, verifyRevocation } from '../../crypto/index.js';

/** What a task asks of the institution's data. */
export interface TaskFacts {
  manifest: StudyManifest;
  use: Use;
  round: number;
  /** The version of the model the task carries: the number of rounds published before it. */
  modelVersion: number;
  participants: number;
  spec: ModelSpec;
  /** The privacy settings the round actually runs with. */
  privacy: PrivacySettings;
  /** The local training a training task asks for (its epochs, batch size, learning rate, proximal term). */
  training?: Pick<StudyTraining, (typeof TRAINING_KEYS)[number]>;
}

export interface ConsentState {
  consent?: SignedConsent;
  revocation?: SignedRevocation;
}

/** Where a consent's revocation is kept: next to it, `<name>.revocation.json`. */
export function revocationPath(consentPath: string): string {
  return consentPath.replace(/(\.json)?$/, '.revocation.json');
}

/**
 * Reads the consent and any revocation from disk (on every call: a revocation takes effect at the next task).
 * Both must be signed by this institution's key, or they count as absent.
 */
export function readConsentState(consentPath: string | undefined, signPublicKey: Uint8Array): ConsentState {
  if (!consentPath || !existsSync(consentPath)) return {};
  const text = readFileSync(consentPath, 'utf8');
  const consent = verifiedConsent(consentPath, text, signPublicKey);
  const rPath = revocationPath(consentPath);
  if (!existsSync(rPath)) return { consent };
  const revocation = SignedRevocationSchema.parse(JSON.parse(readFileSync(rPath, 'utf8')));
  if (!verifyRevocation(revocation, consent, signPublicKey)) throw new Error(`revocation ${rPath} does not match the consent or its key`);
  return { consent, revocation };
}

/** The last consent verified per file: its exact text and key, and what parsing and verifying them gave. */
const verified = new Map<string, { text: string; key: string; consent: SignedConsent }>();

/**
 * The consent in `text`, parsed and its signature verified; a file read again with exactly the same text, checked
 * against the same key, gives the consent verified from that text (the agent reads its consent at every task, and
 * verifying the same bytes again cannot change the answer). Any other text is parsed and verified afresh.
 */
function verifiedConsent(consentPath: string, text: string, signPublicKey: Uint8Array): SignedConsent {
  const key = Buffer.from(signPublicKey.buffer, signPublicKey.byteOffset, signPublicKey.byteLength).toString('hex');
  const held = verified.get(consentPath);
  if (held && held.text === text && held.key === key) return structuredClone(held.consent);
  const consent = SignedConsentSchema.parse(JSON.parse(text));
  if (!verifyConsent(consent, signPublicKey)) throw new Error(`consent ${consentPath} is not signed by this institution's key`);
  if (verified.size >= 1024) verified.clear(); // one file per agent; many only in simulations
  verified.set(consentPath, { text, key, consent: structuredClone(consent) });
  return consent;
}

/**
 * Decides whether the institution's consent covers a task; on by default and not optional.
 * @example const verdict = checkTask(readConsentState(path, key), facts); if (!verdict.ok) decline(verdict.code, verdict.message)
 */
export function checkTask(state: ConsentState, facts: TaskFacts, now = new Date()): Coverage {
  if (!state.consent) return { ok: false, code: ConsentRefusal.NO_CONSENT, message: 'this institution has not consented to any study' };
  const covered = consentCovers(state.consent.body, {
    manifest: facts.manifest,
    use: facts.use,
    now,
    participants: facts.participants,
    revoked: state.revocation !== undefined,
  });
  if (!covered.ok) return covered;
  const { manifest, spec } = facts;
  if (spec.arch !== manifest.model.arch || architectureHash(spec) !== manifest.model.specHash) {
    return {
      ok: false,
      code: ConsentRefusal.MODEL,
      message: `the task's model (${spec.arch}, ${architectureHash(spec).slice(0, 16)}…) is not the study's (${manifest.model.arch}, ${manifest.model.specHash.slice(0, 16)}…)`,
    };
  }
  if (canonicalJson(facts.privacy) !== canonicalJson(manifest.privacy)) {
    return {
      ok: false,
      code: ConsentRefusal.PRIVACY,
      message: `the round runs with privacy ${canonicalJson(facts.privacy)}, the study states ${canonicalJson(manifest.privacy)}`,
    };
  }
  const drift = facts.training ? trainingDrift(facts.training, manifest.training) : null;
  if (drift)
    return { ok: false, code: ConsentRefusal.MANIFEST, message: `the task trains with ${drift}: not the training the consent covers` };
  // Training on version v makes version v+1; evaluating a candidate looks at version v itself.
  const produces = facts.use === 'training' ? facts.modelVersion + 1 : facts.modelVersion;
  if (produces > manifest.rounds) {
    return {
      ok: false,
      code: ConsentRefusal.MANIFEST,
      message: `model v${produces} would be beyond the study's ${manifest.rounds} rounds`,
    };
  }
  return { ok: true };
}

/** The training settings a consent covers: a task that differs in any is refused. */
const TRAINING_KEYS = [
  'localEpochs',
  'batchSize',
  'learningRate',
  'proximalMu',
  'optimizer',
  'momentum',
  'weightDecay',
  'classWeight',
  'compress',
] as const;

/** The first training setting in which a task differs from the manifest, in words; null when none does. */
function trainingDrift(task: NonNullable<TaskFacts['training']>, study: StudyTraining): string | null {
  for (const key of TRAINING_KEYS) {
    // 'none' is what an absent compression means.
    const stated = (terms: { [k in (typeof TRAINING_KEYS)[number]]?: unknown }) =>
      key === 'compress' && terms[key] === 'none' ? 0 : (terms[key] ?? 0);
    if (stated(task) !== stated(study)) return `${key} ${stated(task)}, the study states ${stated(study)}`;
  }
  return null;
}
