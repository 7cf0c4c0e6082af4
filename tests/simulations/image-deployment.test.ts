/** Real image sites with the cohort CLI alone: a coordinator from a federation file, agents on `images:DIR` (one streaming), a per-class report. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeImageTree } from '../node-agent/data/image-files.js';
import { agentFlags, createToken, enroll, grantConsent, startCoordinator, useDeploymentFolder } from './deployment-fixtures.js';

const deployment = useDeploymentFolder({
  prefix: 'cohort-image-deploy-',
  ids: ['coordinator', 'site-a', 'site-b'],
  timeoutMs: 90_000,
  async prepare(dir) {
    await writeImageTree(join(dir, 'site-a'), { perClass: 12 });
    await writeImageTree(join(dir, 'site-b'), { perClass: 16 });
    await writeImageTree(join(dir, 'held-out'), { perClass: 6 });
  },
});

describe('image sites deployed with the cohort CLI', () => {
  it('trains on two image folders (one streamed from disk under --max-memory-mb), pools channel statistics, and cohort predict gives a per-class report', async () => {
    // prepare: a federation file for 12x12 greyscale images with pooled normalisation; consents signed from the API's study
    writeFileSync(
      join(deployment.dir, 'federation.json'),
      JSON.stringify({
        id: 'scans',
        name: 'scans',
        spec: { arch: 'logreg', inputShape: [144], classes: ['bright', 'dark'], channelNormalization: { source: 'pooled' } },
        study: { title: 'Scans', purpose: 'Bright against dark images.', dataCategories: ['images'] },
        rules: { rounds: 2, minParticipants: 2, train: { localEpochs: 2, batchSize: 4, learningRate: 0.1 } },
      }),
    );
    const { url } = await startCoordinator(deployment, [
      '--data-dir',
      'data',
      '--config',
      'federation.json',
      ...enroll('site-a', 'site-b'),
    ]);
    const auditor = await createToken(deployment, 'data', 'auditor');
    for (const site of ['site-a', 'site-b'])
      await grantConsent(deployment, { url, federation: 'scans', site, out: `${site}.consent.json`, token: auditor });

    // execute: site-b's 32 images take 18 KiB as float32, over its 0.01 MiB cap: it streams them
    const agent = (site: string, extra: string[]) =>
      deployment.cohort([
        ...['agent', 'start', ...agentFlags({ url, federation: 'scans', site, data: `images:${site}`, consent: `${site}.consent.json` })],
        ...['--image-size', '12x12', ...extra],
      ]);
    const [a, b] = await Promise.all([agent('site-a', []).exited, agent('site-b', ['--max-memory-mb', '0.01']).exited]);
    const predicted = await deployment.run([
      'predict',
      '--model',
      'data/models/scans/v2.cohort',
      '--key',
      'keys/coordinator.pub.json',
      '--data',
      'images:held-out',
      '--image-size',
      '12x12',
    ]);

    // assert
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/federation complete; agent exits/);
    expect(b.stderr).toContain('images:site-b: 32 images of 12x12x1 (over --max-memory-mb 0.01): streamed from disk a batch at a time');
    expect(a.stderr).not.toContain('streamed');
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout).toMatch(/^\s+precision\s+recall\s+f1-score\s+support$/m);
    expect(predicted.stdout).toMatch(/^\s*bright\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+6$/m);
    expect(predicted.stdout).toMatch(/^\s*dark\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+6$/m);
    const accuracy = Number(/^accuracy ([\d.]+) \(/m.exec(predicted.stdout)?.[1]);
    expect(accuracy).toBeGreaterThan(0.8);
    const federation = await fetch(`${url}/api/federations/scans`, { headers: { authorization: `Bearer ${auditor}` } });
    const spec = ((await federation.json()) as { spec: { channelNormalization: { mean: number[]; std: number[] } } }).spec;
    expect(spec.channelNormalization.mean).toHaveLength(1);
    expect(spec.channelNormalization.std[0]).toBeGreaterThan(0.1);
  });
});
