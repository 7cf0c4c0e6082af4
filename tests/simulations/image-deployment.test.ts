/** Real image sites with the cohort CLI alone: a coordinator from a federation file, agents on `images:DIR` (one streaming), a per-class report. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageTree } from '../node-agent/data/image-files.js';
import { freePort, runCli, startCli, type CliProcess } from './cli-helpers.js';

let dir: string;
const running: CliProcess[] = [];
const cohort = (args: string[]): CliProcess => {
  const p = startCli(args, { cwd: dir, timeoutMs: 90_000 });
  running.push(p);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-image-deploy-'));
  await writeImageTree(join(dir, 'site-a'), { perClass: 12 });
  await writeImageTree(join(dir, 'site-b'), { perClass: 16 });
  await writeImageTree(join(dir, 'held-out'), { perClass: 6 });
  const keys = await Promise.all(
    ['coordinator', 'site-a', 'site-b'].map((id) => runCli(['keys', 'generate', '--id', id, '--out', 'keys'], { cwd: dir })),
  );
  expect(keys.map((r) => r.code)).toEqual([0, 0, 0]);
}, 60_000);
afterAll(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

describe('image sites deployed with the cohort CLI', () => {
  it('trains on two image folders (one streamed from disk under --max-memory-mb), pools channel statistics, and cohort predict gives a per-class report', async () => {
    // prepare: a federation file for 12x12 greyscale images with pooled normalisation; consents signed from the API's study
    writeFileSync(
      join(dir, 'federation.json'),
      JSON.stringify({
        id: 'scans',
        name: 'scans',
        spec: { arch: 'logreg', inputShape: [144], classes: ['bright', 'dark'], channelNormalization: { source: 'pooled' } },
        study: { title: 'Scans', purpose: 'Bright against dark images.', dataCategories: ['images'] },
        rules: { rounds: 2, minParticipants: 2, train: { localEpochs: 2, batchSize: 4, learningRate: 0.1 } },
      }),
    );
    const port = await freePort();
    const coordinator = cohort([
      'coordinator',
      'start',
      '--key',
      'keys/coordinator.key.json',
      '--data-dir',
      'data',
      '--config',
      'federation.json',
      '--enroll',
      'keys/site-a.pub.json',
      '--enroll',
      'keys/site-b.pub.json',
      '--port',
      String(port),
    ]);
    await coordinator.waitFor(/coordinator ready/, 30_000);
    const url = `http://127.0.0.1:${port}`;
    const token = await runCli(['tokens', 'create', '--data-dir', 'data', '--key', 'keys/coordinator.key.json', '--role', 'auditor'], {
      cwd: dir,
    });
    const auditor = /^cohort_\S+$/m.exec(token.stdout)?.[0] as string;
    for (const site of ['site-a', 'site-b']) {
      const args = [
        'consent',
        'grant',
        '--key',
        `keys/${site}.key.json`,
        '--study',
        `${url}/api/federations/scans/study`,
        '--token',
        auditor,
      ];
      const granted = await runCli([...args, '--ethics-ref', `IRB-${site}`, '--expires', '2099-12-31', '--out', `${site}.consent.json`], {
        cwd: dir,
      });
      expect(granted.code, granted.stderr).toBe(0);
    }

    // execute: site-b's 32 images take 18 KiB as float32, over its 0.01 MiB cap: it streams them
    const agent = (site: string, extra: string[]) =>
      cohort([
        'agent',
        'start',
        '--coordinator',
        url,
        '--coordinator-key',
        'keys/coordinator.pub.json',
        '--federation',
        'scans',
        '--key',
        `keys/${site}.key.json`,
        '--data',
        `images:${site}`,
        '--image-size',
        '12x12',
        '--consent',
        `${site}.consent.json`,
        ...extra,
      ]);
    const [a, b] = await Promise.all([agent('site-a', []).exited, agent('site-b', ['--max-memory-mb', '0.01']).exited]);
    const predicted = await runCli(
      [
        'predict',
        '--model',
        'data/models/scans/v2.cohort',
        '--key',
        'keys/coordinator.pub.json',
        '--data',
        'images:held-out',
        '--image-size',
        '12x12',
      ],
      { cwd: dir },
    );

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
