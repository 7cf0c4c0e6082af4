/** Image folders (torchvision's ImageFolder layout) decoded with sharp: sizes, channels, the split, bad files, memory, the data source. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeImages } from '../../../node-agent/data/image-decode.js';
import { listImageFolder, loadImageFolder } from '../../../node-agent/data/image-folder.js';
import { imageRows } from '../../../node-agent/data/image-set.js';
import { dataSourceFor, parseDataSource } from '../../../node-agent/index.js';
import type { ModelSpec } from '../../../protocol/index.js';
import { writeImageTree } from './image-files.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-images-'));
  await writeImageTree(join(dir, 'flat'), { perClass: 20, corrupt: true });
  await writeImageTree(join(dir, 'split'), { perClass: 10, val: 3 });
  await writeImageTree(join(dir, 'colour'), { perClass: 4, colour: true, side: 20 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mean = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

describe('loadImageFolder', () => {
  it('refuses the corrupt file by default, naming it and the flag that skips it', () => {
    expect(() => loadImageFolder(join(dir, 'flat'))).toThrow(
      /images:.*flat: 1 unreadable file: .*bright\/corrupt\.png \(.*\)\. .*--on-bad-file skip/,
    );
  });

  it('with --on-bad-file skip decodes the rest (PNG and JPEG) to 28x28 greyscale in [0, 1] and reports the skip in one line', () => {
    const lines: string[] = [];
    const set = loadImageFolder(join(dir, 'flat'), { onBadFile: 'skip' }, (l) => lines.push(l));
    expect(lines).toEqual([expect.stringMatching(/skipped 1 unreadable file: .*corrupt\.png/)]);
    expect(set.classes).toEqual(['bright', 'dark']);
    expect(set.imageShape).toEqual([28, 28, 1]);
    expect(set.labels.length).toBe(40);
    expect(set.files.some((f) => f.endsWith('.jpg')) && set.files.some((f) => f.endsWith('.png'))).toBe(true);
    expect(set.trainRows).toBeUndefined();
    const ds = imageRows(set, Array.from(set.labels.keys()));
    const size = 28 * 28;
    const brightness = Array.from({ length: ds.n }, (_, i) => mean(ds.x.subarray(i * size, (i + 1) * size)));
    brightness.forEach((b, i) => expect(ds.y[i] === 0 ? b > 0.6 : b < 0.4).toBe(true));
    expect(Math.min(...ds.x) >= 0 && Math.max(...ds.x) <= 1).toBe(true);
  });

  it('keeps the published split: train/ rows first, then val/ rows', () => {
    const layout = listImageFolder(join(dir, 'split'));
    expect(layout.trainRows).toBe(14);
    expect(layout.files.slice(0, 14).every((f) => f.includes('/train/'))).toBe(true);
    expect(layout.files.slice(14).every((f) => f.includes('/val/'))).toBe(true);
    expect(loadImageFolder(join(dir, 'split'), { size: [8, 6] }).imageShape).toEqual([8, 6, 1]);
  });

  it('detects colour (3 channels, 64x64 by default) and converts on request', () => {
    const set = loadImageFolder(join(dir, 'colour'));
    expect(set.imageShape).toEqual([64, 64, 3]);
    const first = imageRows(set, [0]).x;
    expect(first[0]).toBeGreaterThan(first[2] as number); // bright images are red-ish: R > B
    expect(loadImageFolder(join(dir, 'colour'), { channels: 1, size: [10, 10] }).imageShape).toEqual([10, 10, 1]);
    expect(loadImageFolder(join(dir, 'flat'), { channels: 3, size: [4, 4], onBadFile: 'skip' }, () => {}).imageShape).toEqual([4, 4, 3]);
  });

  it('normalises RGB with ImageNet statistics and refuses that for greyscale', () => {
    const set = loadImageFolder(join(dir, 'colour'));
    const plain = imageRows(set, [0]).x;
    const norm = imageRows(set, [0], 'imagenet').x;
    expect(norm[0]).toBeCloseTo(((plain[0] as number) - 0.485) / 0.229, 5);
    expect(norm[2]).toBeCloseTo(((plain[2] as number) - 0.406) / 0.225, 5);
    expect(() => imageRows(loadImageFolder(join(dir, 'split')), [0], 'imagenet')).toThrow(/--normalize imagenet needs RGB/);
  });

  it('refuses a set over --max-memory-mb before decoding, with the arithmetic', () => {
    expect(() => loadImageFolder(join(dir, 'split'), { size: [512, 512], maxMemoryMb: 10 })).toThrow(
      /20 images of 512x512x1 take 20 MiB as float32 .*--max-memory-mb 10/,
    );
  });

  it('gives up on a decoder that does not answer in time, with an error instead of a hang', () => {
    const files = listImageFolder(join(dir, 'split')).files;
    expect(() => probeImages(files, 1)).toThrow(/image decoding did not finish within 0 s \(20 files\)/);
  });

  it('names a missing folder and a folder without class folders', () => {
    expect(() => listImageFolder(join(dir, 'nope'))).toThrow(/no such folder/);
    expect(() => listImageFolder(join(dir, 'flat', 'bright'))).toThrow(/found 0 class folder/);
  });
});

describe('image data sources', () => {
  const cnn: ModelSpec = { arch: 'cnn', inputShape: [8, 6, 1], classes: ['bright', 'dark'] };

  it('gives [h, w, c] rows to a cnn and flat rows to an mlp; only the given rows', () => {
    const ref = { kind: 'images' as const, dir: join(dir, 'split'), image: { size: [8, 6] as [number, number] } };
    expect(dataSourceFor(ref, [0, 15]).load(cnn).inputShape).toEqual([8, 6, 1]);
    const flat = dataSourceFor(ref, [0, 15]).load({ arch: 'logreg', inputShape: [48], classes: ['bright', 'dark'] });
    expect([flat.n, ...flat.inputShape, ...flat.y]).toEqual([2, 48, 0, 0]);
  });

  it('refuses a model of another size naming both shapes, and other classes', () => {
    const source = parseDataSource(`images:${join(dir, 'split')}`, undefined, undefined, { size: [8, 8] });
    expect(() => source.load(cnn)).toThrow(/takes 8x6x1 inputs, the images of .* are 8x8x1/);
    expect(() => source.load({ ...cnn, inputShape: [8, 8, 1], classes: ['a', 'b'] })).toThrow(/classes \(a, b\)/);
    expect(() => parseDataSource(`images:${join(dir, 'missing')}`)).toThrow(/no folder/);
  });

  it('augments only when asked (on by default), in place and seeded', () => {
    const on = dataSourceFor({ kind: 'images', dir: join(dir, 'split'), image: { size: [8, 6] } });
    const off = dataSourceFor({ kind: 'images', dir: join(dir, 'split'), image: { size: [8, 6], augment: false } });
    expect(off.augment).toBeUndefined();
    const rows = on.load(cnn);
    const [a, b] = [rows.x.slice(0, 96), rows.x.slice(0, 96)];
    on.augment?.(a, 2, 7);
    on.augment?.(b, 2, 7);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(rows.x.slice(0, 96)));
  });
});
