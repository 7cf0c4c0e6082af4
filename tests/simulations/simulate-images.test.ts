/** `cohort simulate --dataset images:DIR`: real coordinator and agents on a tiny ImageFolder tree of PNGs and JPEGs. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageTree } from '../node-agent/image-files.js';
import { runCli, type CliResult } from './cli-helpers.js';

let root: string;
let result: CliResult;
let summary: { final: { accuracy: number; report: Record<string, unknown> }; config: Record<string, unknown> };
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cohort-simulate-images-'));
  await writeImageTree(join(root, 'tree'), { perClass: 20, val: 5, corrupt: true });
  const out = join(root, 'run');
  const args = ['simulate', '--out', out, '--dataset', `images:${join(root, 'tree')}`, '--image-size', '12x12', '--on-bad-file', 'skip'];
  result = await runCli([...args, '--model', 'cnn', '--institutions', '2', '--rounds', '2', '--local-epochs', '2', '--batch-size', '5', '--lr', '0.05'], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`simulate exited ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as typeof summary;
}, 90_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('simulate on an image folder', () => {
  it('skips the corrupt file with one summary line and keeps the published split (train/ shared out, val/ held out)', () => {
    const output = result.stdout + result.stderr;
    expect(output.match(/skipped 1 unreadable file: .*corrupt\.png/g)?.length).toBeGreaterThanOrEqual(1);
    expect(result.stdout).toMatch(/Data: 40 rows, 30 shared out among the institutions, 10 held out as a test set/);
  });

  it('trains the cnn on [12, 12, 1] images and separates bright from dark better than chance in 2 rounds', () => {
    expect(summary.final.accuracy).toBeGreaterThan(0.7);
    expect(Object.keys(summary.final.report)).toEqual(expect.arrayContaining(['bright', 'dark']));
  });
});
