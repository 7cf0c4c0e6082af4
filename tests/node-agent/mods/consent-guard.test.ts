import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consentCovers, ConsentRefusal, type ConsentBody, type Use } from '../../../protocol/index.js';
import { consentHash, generateIdentity, signRevocation, verifyConsent, verifyRevocation } from '../../../crypto/index.js';
import { checkTask, readConsentState, revocationPath, type TaskFacts } from '../../../node-agent/mods/consent-guard.js';
import { mnistSpec } from '../../../node-agent/data/index.js';
import { consent, dpTerms, site, study } from '../../coordinator/policy/fixtures.js';

const training = (participants = 3): { use: Use; now: Date; participants: number } => ({
  use: 'training',
  now: new Date('2026-12-01T00:00:00Z'),
  participants,
});

describe('consent records', () => {
  it('are signed by the institution and refuse any edit or another key', () => {
    const signed = consent(study());
    expect(verifyConsent(signed, site.signPublicKey)).toBe(true);
    expect(verifyConsent({ ...signed, body: { ...signed.body, uses: ['training'] } }, site.signPublicKey)).toBe(false);
    expect(verifyConsent(signed, generateIdentity('coordinator').signPublicKey)).toBe(false);
  });

  it('are revoked only by a revocation that names them, signed by the same key', () => {
    const signed = consent(study());
    const revocation = signRevocation(signed, 'withdrawn', site.signSecretKey);
    expect(revocation.body.consentHash).toBe(consentHash(signed));
    expect(verifyRevocation(revocation, signed, site.signPublicKey)).toBe(true);
    expect(verifyRevocation(revocation, consent(study({ rounds: 11 })), site.signPublicKey)).toBe(false);
    expect(verifyRevocation(signRevocation(signed, 'forged', generateIdentity('x').signSecretKey), signed, site.signPublicKey)).toBe(false);
  });
});

describe('consentCovers', () => {
  const manifest = study();

  it('covers the study it names, for an allowed use, before expiry', () => {
    expect(consentCovers(consent(manifest).body, { manifest, ...training() })).toEqual({ ok: true });
  });

  it.each([
    ['another manifest', study({ purpose: 'Something else entirely.' }), {}, training(), ConsentRefusal.MANIFEST],
    ['a use it does not allow', manifest, { uses: ['evaluation'] as Use[] }, training(), ConsentRefusal.USE],
    [
      'an expired ethics approval',
      manifest,
      { ethicsApproval: { reference: 'IRB-1', expires: '2026-11-30' } },
      training(),
      ConsentRefusal.EXPIRED,
    ],
    [
      'data categories the study does not declare',
      manifest,
      { dataCategories: ['images', 'genomes'] },
      training(),
      ConsentRefusal.MANIFEST,
    ],
    [
      'secure aggregation it requires',
      manifest,
      { limits: { requireSecureAggregation: true, minOtherInstitutions: 0 } },
      training(),
      ConsentRefusal.PRIVACY,
    ],
    [
      'an epsilon above its ceiling (no DP at all)',
      manifest,
      { limits: { requireSecureAggregation: false, minOtherInstitutions: 0, maxEpsilon: 8 } },
      training(),
      ConsentRefusal.EPSILON,
    ],
    [
      'too few other institutions',
      manifest,
      { limits: { requireSecureAggregation: false, minOtherInstitutions: 3 } },
      training(3),
      ConsentRefusal.TOO_FEW,
    ],
  ] as const)('refuses %s', (_name, m, overrides, question, code) => {
    const verdict = consentCovers(consent(manifest, overrides as Partial<ConsentBody>).body, { manifest: m, ...question });
    expect(verdict).toMatchObject({ ok: false, code });
  });

  it('refuses a revoked consent', () => {
    expect(consentCovers(consent(manifest).body, { manifest, ...training(), revoked: true })).toMatchObject({
      ok: false,
      code: ConsentRefusal.REVOKED,
    });
  });

  it('accepts an epsilon within its ceiling', () => {
    const dpStudy = study({ privacy: { secureAggregation: false, dp: dpTerms(4) } });
    const body = consent(dpStudy, { limits: { requireSecureAggregation: false, minOtherInstitutions: 0, maxEpsilon: 8 } }).body;
    expect(consentCovers(body, { manifest: dpStudy, ...training() })).toEqual({ ok: true });
  });
});

describe("the agent's consent guard", () => {
  const manifest = study();
  const facts = (overrides: Partial<TaskFacts> = {}): TaskFacts => ({
    manifest,
    use: 'training',
    round: 1,
    modelVersion: 0,
    participants: 3,
    spec: mnistSpec('mlp'),
    privacy: { secureAggregation: false },
    ...overrides,
  });
  const now = new Date('2026-12-01T00:00:00Z');

  it('refuses every task when the institution has not consented', () => {
    expect(checkTask({}, facts(), now)).toMatchObject({ ok: false, code: ConsentRefusal.NO_CONSENT });
  });

  it('runs a task its consent covers', () => {
    expect(checkTask({ consent: consent(manifest) }, facts(), now)).toEqual({ ok: true });
  });

  it('refuses a model other than the study states', () => {
    expect(checkTask({ consent: consent(manifest) }, facts({ spec: mnistSpec('logreg') }), now)).toMatchObject({
      ok: false,
      code: ConsentRefusal.MODEL,
    });
    expect(checkTask({ consent: consent(manifest) }, facts({ spec: { ...mnistSpec('mlp'), hidden: [100] } }), now)).toMatchObject({
      ok: false,
      code: ConsentRefusal.MODEL,
    });
  });

  it('refuses privacy settings other than the study states', () => {
    const verdict = checkTask({ consent: consent(manifest) }, facts({ privacy: { secureAggregation: false, dp: dpTerms(50) } }), now);
    expect(verdict).toMatchObject({ ok: false, code: ConsentRefusal.PRIVACY });
  });

  it('refuses a task whose training differs from the training the study states (a coordinator that changes the terms)', () => {
    const terms = { localEpochs: 1, batchSize: 32, learningRate: 0.1 };
    expect(checkTask({ consent: consent(manifest) }, facts({ training: terms }), now)).toEqual({ ok: true });
    const verdict = checkTask({ consent: consent(manifest) }, facts({ training: { ...terms, learningRate: 5 } }), now);
    expect(verdict).toMatchObject({
      ok: false,
      code: ConsentRefusal.MANIFEST,
      message: expect.stringMatching(/learningRate 5, the study states 0.1/),
    });
    expect(checkTask({ consent: consent(manifest) }, facts({ training: { ...terms, localEpochs: 50 } }), now)).toMatchObject({
      ok: false,
      code: ConsentRefusal.MANIFEST,
    });
  });

  it('refuses to train beyond the rounds the study states, whatever the round number after failed rounds', () => {
    expect(checkTask({ consent: consent(manifest) }, facts({ round: 14, modelVersion: 9 }), now)).toEqual({ ok: true });
    expect(checkTask({ consent: consent(manifest) }, facts({ round: 11, modelVersion: 10 }), now)).toMatchObject({
      ok: false,
      code: ConsentRefusal.MANIFEST,
    });
    expect(checkTask({ consent: consent(manifest) }, facts({ use: 'evaluation', round: 11, modelVersion: 10 }), now)).toEqual({ ok: true });
  });

  it('reads a revocation written next to the consent and refuses from then on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cohort-consent-'));
    const path = join(dir, 'consent.json');
    const signed = consent(manifest);
    writeFileSync(path, JSON.stringify(signed));
    expect(checkTask(readConsentState(path, site.signPublicKey), facts(), now)).toEqual({ ok: true });
    writeFileSync(revocationPath(path), JSON.stringify(signRevocation(signed, 'withdrawn', site.signSecretKey)));
    expect(checkTask(readConsentState(path, site.signPublicKey), facts(), now)).toMatchObject({ ok: false, code: ConsentRefusal.REVOKED });
  });

  it('refuses a consent file signed by another key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cohort-consent-'));
    const path = join(dir, 'consent.json');
    writeFileSync(path, JSON.stringify(consent(manifest)));
    expect(() => readConsentState(path, generateIdentity('other').signPublicKey)).toThrow(/not signed by this institution/);
  });
});
