/** `cohort consent grant|show` against a real coordinator's REST API: informed consent (what the site agrees to), the enrolment warning, and no consent under an expired approval. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignedConsentSchema, manifestHash, parameterCount } from '../../protocol/index.js';
import { writeIdentityFile } from '../../crypto/index.js';
import { createApiToken } from '../../coordinator/auth/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { startFederation, type Federation } from '../e2e/helpers.js';
import { runCli } from './cli-helpers.js';

let fed: Federation;
let admin: string;
let studyUrl: string;
const cohort = (...args: string[]) => runCli(args, { cwd: fed.dir });

beforeAll(async () => {
  fed = await startFederation(2, { rounds: 3, train: { localEpochs: 2, batchSize: 20, learningRate: 0.05 } });
  writeIdentityFile(join(fed.dir, 'site-1.key.json'), fed.institutions[0]!);
  admin = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test').token;
  studyUrl = `${fed.coordinator.url}/api/federations/e2e/study`;
});
afterAll(async () => {
  await fed.close();
});

const grant = (minOthers: number, expires = '2099-12-31', token = admin) =>
  cohort(
    'consent',
    'grant',
    '--key',
    'site-1.key.json',
    '--study',
    studyUrl,
    '--token',
    token,
    '--ethics-ref',
    'IRB-1',
    '--expires',
    expires,
    '--min-others',
    String(minOthers),
    '--out',
    `consent-${minOthers}-${expires}.json`,
  );

describe('cohort consent grant', () => {
  it('prints what the site agrees to before signing: data, model and its parameter count, training, strategy, privacy, institutions', async () => {
    const res = await grant(1);

    expect(res.code, res.stderr).toBe(0);
    const spec = mnistSpec('logreg');
    expect(res.stdout).toContain('site-1 consents to this study:');
    expect(res.stdout).toMatch(/data used: +inputs of shape 784; classes 0, 1, 2/);
    expect(res.stdout).toContain(`logreg, ${parameterCount(spec).toLocaleString('en-US')} parameters`);
    expect(res.stdout).toMatch(/training: +per round 2 local epochs, batch size 20, learning rate 0.05/);
    expect(res.stdout).toMatch(/strategy: +fedavg/);
    expect(res.stdout).toMatch(/secure aggregation: no/);
    expect(res.stdout).toMatch(/institutions: +site-1, site-2 \(2 enrolled\)/);
    expect(res.stdout).toContain(`manifest hash:    ${fed.coordinator.store.getFederation('e2e')!.manifestHash}`);
    expect(res.stderr).not.toMatch(/warning/);
  });

  it("warns when the enrolled institutions can never meet the consent's --min-others (the README's two sites with --min-others 2)", async () => {
    const res = await grant(2);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(
      /warning: only 2 institutions are enrolled \(site-1, site-2\): a round can include at most 1 other institutions, so this consent \(--min-others 2\) can never be met/,
    );
  });

  it("warns from the manifest's own list of institutions, also for an institution token that sees only its own institution in the API", async () => {
    const token = createApiToken(fed.coordinator.store, { role: 'institution', institution: 'site-1' }, 'test').token;

    const res = await grant(2, '2099-12-31', token);

    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/warning: only 2 institutions are enrolled \(site-1, site-2\)/);
    expect(res.stderr).not.toMatch(/note: the coordinator listed only this institution/);
  });

  it('refuses to sign under an ethics approval that has already expired, with exit 1 and no consent written', async () => {
    const res = await grant(1, '2020-01-31');

    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/--expires 2020-01-31 is already past/);
    expect(existsSync(join(fed.dir, 'consent-1-2020-01-31.json'))).toBe(false);
  });
});

describe('cohort consent show --study', () => {
  it('shows the study the consent was given to, and says when a manifest is not the one it covers', async () => {
    const manifest = fed.coordinator.store.getFederation('e2e')!.manifest;
    writeFileSync(join(fed.dir, 'study.json'), JSON.stringify({ manifest, manifestHash: manifestHash(manifest) }));
    writeFileSync(join(fed.dir, 'other.json'), JSON.stringify({ ...manifest, rounds: 99 }));
    expect((await grant(1)).code).toBe(0);
    const consent = SignedConsentSchema.parse(JSON.parse(readFileSync(join(fed.dir, 'consent-1-2099-12-31.json'), 'utf8')));

    const same = await cohort('consent', 'show', 'consent-1-2099-12-31.json', '--study', 'study.json');
    const other = await cohort('consent', 'show', 'consent-1-2099-12-31.json', '--study', 'other.json');

    expect(consent.body.manifestHash).toBe(manifestHash(manifest));
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/the study \(the manifest this consent covers\):/);
    expect(same.stdout).toMatch(/training: +per round 2 local epochs/);
    expect(other.stdout).toMatch(/NOT the manifest this consent covers/);
  });
});
