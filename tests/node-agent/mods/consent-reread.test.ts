import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../crypto/index.js';
import { readConsentState } from '../../../node-agent/mods/consent-guard.js';
import { consent, site, study } from '../../coordinator/policy/fixtures.js';

describe('readConsentState read at every task', () => {
  it('verifies a consent file again once its text changes, and the same text against another key', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cohort-consent-')), 'consent.json');
    const signed = consent(study());
    writeFileSync(path, JSON.stringify(signed));

    const first = readConsentState(path, site.signPublicKey);
    const again = readConsentState(path, site.signPublicKey);
    writeFileSync(path, JSON.stringify({ ...signed, body: { ...signed.body, uses: ['training'] } })); // an edit, still valid JSON

    expect(again).toEqual(first);
    expect(again.consent).not.toBe(first.consent); // a fresh copy each time: no caller can change what the next one reads
    expect(() => readConsentState(path, site.signPublicKey)).toThrow(/not signed by this institution/);
    writeFileSync(path, JSON.stringify(signed));
    expect(readConsentState(path, site.signPublicKey)).toEqual(first);
    expect(() => readConsentState(path, generateIdentity('other').signPublicKey)).toThrow(/not signed by this institution/);
  });
});
