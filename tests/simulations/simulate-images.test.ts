/** `cohort simulate --dataset images:DIR`: real coordinator and agents on a tiny ImageFolder tree of PNGs and JPEGs. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dicomFile } from '../node-agent/data/dicom-files.js';
import { writeImageTree } from '../node-agent/data/image-files.js';
import { runCli, type CliResult } from './cli-helpers.js';

let root: string;
let result: CliResult;
let summary: { final: { accuracy: number; report: Record<string, unknown> }; config: Record<string, unknown> };
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cohort-simulate-images-'));
  await writeImageTree(join(root, 'tree'), { perClass: 20, val: 5, corrupt: true });
  const out = join(root, 'run');
  const args = ['simulate', '--out', out, '--dataset', `images:${join(root, 'tree')}`, '--image-size', '12x12', '--on-bad-file', 'skip'];
  result = await runCli(
    [...args, '--model', 'cnn', '--institutions', '2', '--rounds', '2', '--local-epochs', '2', '--batch-size', '5', '--lr', '0.05'],
    { timeoutMs: 60_000 },
  );
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

describe('simulate --model resnet on an image folder', () => {
  it('federates the small ResNet (BatchNorm, residual blocks) on the PNG/JPEG tree and reports each class', async () => {
    const out = join(root, 'resnet');
    const args = ['simulate', '--out', out, '--dataset', `images:${join(root, 'tree')}`, '--image-size', '12x12', '--on-bad-file', 'skip'];
    const run = await runCli(
      [...args, '--model', 'resnet:10x4', '--institutions', '2', '--rounds', '1', '--local-epochs', '1', '--batch-size', '10'],
      { timeoutMs: 60_000 },
    );
    if (run.code !== 0) throw new Error(`simulate exited ${run.code ?? run.signal}\n${run.stdout}\n${run.stderr}`);
    const resnet = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as typeof summary & { model: { parameters: number } };
    expect(Object.keys(resnet.final.report)).toEqual(expect.arrayContaining(['bright', 'dark']));
    expect(resnet.final.accuracy).toBeGreaterThanOrEqual(0);
    // A ResNet-10 at width 4 over 12x12x1 images: BatchNorm and projection shortcuts make it thousands of parameters, not the cnn's.
    expect(resnet.model.parameters).toBeGreaterThan(1_000);
    expect(run.stdout).toMatch(/precision/);
  }, 90_000);
});

describe('simulate on a DICOM manifest', () => {
  it('reads the manifest (MONOCHROME1 and 2, rescaled, windowed) and the mlp learns bright from dark in 2 rounds', async () => {
    // 40 CT-like 16-bit images (stored = HU + 1024, Rescale Intercept -1024): 'lesion' ones have a bright 4 x 4 square
    // in HU, 'clear' ones do not. Half are MONOCHROME1, stored mirrored about the window centre (50 HU): decoded and
    // inverted, both kinds show the same picture (the inversion itself is checked in tests/node-agent/data/dicom.test.ts).
    const dir = join(root, 'dicom');
    mkdirSync(join(dir, 'files'), { recursive: true });
    const rows = Array.from({ length: 40 }, (_, i) => {
      const lesion = i % 2 === 0;
      const mono1 = i % 4 < 2;
      const hu = Array.from(
        { length: 64 },
        (_, k) => (lesion && Math.floor(k / 8) >= 2 && Math.floor(k / 8) < 6 && k % 8 >= 2 && k % 8 < 6 ? 200 : -100) + ((i * 7 + k) % 20),
      );
      const stored = hu.map((v) => (mono1 ? 100 - v : v) + 1024);
      const name = `files/${String(i).padStart(3, '0')}.dcm`;
      writeFileSync(
        join(dir, name),
        dicomFile({
          rows: 8,
          columns: 8,
          pixels: stored,
          intercept: -1024,
          windowCenter: 50,
          windowWidth: 400,
          photometric: mono1 ? 'MONOCHROME1' : 'MONOCHROME2',
        }),
      );
      return `${name},${lesion ? 'lesion' : 'clear'},site-${i % 2}`;
    });
    writeFileSync(join(dir, 'manifest.csv'), `file,label,site\n${rows.join('\n')}\n`);
    const out = join(root, 'dicom-run');
    const run = await runCli(
      [
        'simulate',
        '--out',
        out,
        '--dataset',
        `dicom:${join(dir, 'manifest.csv')}`,
        '--image-size',
        '8x8',
        '--model',
        'mlp',
        '--institutions',
        '2',
        '--rounds',
        '2',
        '--local-epochs',
        '2',
        '--batch-size',
        '4',
        '--lr',
        '0.1',
      ],
      { timeoutMs: 60_000 },
    );
    if (run.code !== 0) throw new Error(`simulate exited ${run.code ?? run.signal}\n${run.stdout}\n${run.stderr}`);
    const dicomSummary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as typeof summary;
    expect(run.stdout).toMatch(/Data: 40 rows, 32 shared out among the institutions, 8 held out/);
    expect(dicomSummary.final.accuracy).toBeGreaterThan(0.7);

    // The manifest's site column as the natural partition: one institution per site, each with its own test rows.
    const bySite = await runCli(
      [
        'simulate',
        '--out',
        join(root, 'dicom-sites'),
        '--dataset',
        `dicom:${join(dir, 'manifest.csv')}`,
        '--partition',
        'column:site',
        '--image-size',
        '8x8',
        '--model',
        'mlp',
        '--institutions',
        '5',
        '--rounds',
        '1',
        '--batch-size',
        '4',
        '--lr',
        '0.1',
      ],
      { timeoutMs: 60_000 },
    );
    if (bySite.code !== 0) throw new Error(`simulate exited ${bySite.code ?? bySite.signal}\n${bySite.stdout}\n${bySite.stderr}`);
    expect(bySite.stdout).toMatch(/Institutions: 2, one per value of column "site".*institution-1 = site-0, institution-2 = site-1/);
  }, 120_000);
});
