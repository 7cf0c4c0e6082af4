/** Images streamed from disk a batch at a time: the same training as in memory, memory bounded by the batch, bad files found while streaming. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialWeights } from '../../../coordinator/models/init.js';
import { loadImageFolder } from '../../../node-agent/data/image-folder.js';
import { imageCatalog, streamedImageRows } from '../../../node-agent/data/image-stream.js';
import { isStreamed, type AnyDataset } from '../../../node-agent/data/row-stream.js';
import { dataSourceFor, type DataRef } from '../../../node-agent/index.js';
import { evaluate, selectBackend, trainLocal, type TF } from '../../../node-agent/train/index.js';
import type { ModelSpec, NamedTensor } from '../../../protocol/index.js';
import { dicomFile } from './dicom-files.js';
import { writeImageTree } from './image-files.js';

let dir: string;
let tf: TF;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-image-stream-'));
  await writeImageTree(join(dir, 'rgb'), { perClass: 24, colour: true, side: 16, corrupt: true });
  await writeImageTree(join(dir, 'turns-bad'), { perClass: 10 });
  ({ tf } = await selectBackend('cpu'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flat: ModelSpec = { arch: 'mlp', inputShape: [8 * 8 * 3], hidden: [16], classes: ['bright', 'dark'] };
const config = { localEpochs: 2, batchSize: 5, learningRate: 0.1 };
const close = (a: NamedTensor[], b: NamedTensor[]): number =>
  a.reduce((m, t, i) => t.data.reduce((mm, v, k) => Math.max(mm, Math.abs(v - (b[i]?.data[k] as number))), m), 0);

/** Trains an mlp one round on a source's rows (augmented, with 20% held out and evaluated) from the same start. */
async function round(ref: DataRef, spec = flat) {
  const source = dataSourceFor(ref);
  const data = (source.rows ?? source.load)(spec);
  const result = await trainLocal({
    tf,
    spec,
    weights: initialWeights(spec, 4),
    data,
    config,
    valFraction: 0.2,
    seed: 11,
    ...(source.augment ? { augmentBatch: source.augment } : {}),
  });
  return { data, result };
}

describe('streamed image rows', () => {
  it('train to the same weights and metrics as the same images in memory: same rows, shuffles, augmentation and pixels', async () => {
    const ref = { kind: 'images' as const, dir: join(dir, 'rgb'), image: { size: [8, 8] as [number, number], onBadFile: 'skip' as const } };
    const memory = await round(ref);
    const streamed = await round({ ...ref, image: { ...ref.image, stream: true } });
    expect(isStreamed(memory.data)).toBe(false);
    expect(isStreamed(streamed.data)).toBe(true);
    expect(streamed.data.n).toBe(48); // the corrupt file is left out by both paths
    expect(close(streamed.result.weights, memory.result.weights)).toBeLessThan(1e-6);
    expect(streamed.result.metrics.valLoss).toBeCloseTo(memory.result.metrics.valLoss as number, 6);
    expect(streamed.result.metrics.valAccuracy).toBe(memory.result.metrics.valAccuracy);
    expect(streamed.result.metrics.trainLoss).toBeCloseTo(memory.result.metrics.trainLoss, 6);
    // and evaluation streams too: the same outputs as in memory
    const [a, b] = await Promise.all(
      [memory.data, streamed.data].map((data: AnyDataset) =>
        evaluate({ tf, spec: flat, weights: memory.result.weights, data, batchSize: 7 }),
      ),
    );
    expect(Array.from(b?.outputs ?? [])).toEqual(Array.from(a?.outputs ?? []));
  });

  it('lets a site whose images exceed --max-memory-mb train, holding at most 3 batches of decoded images at once', async () => {
    // 48 images of 8x8x3 take 36 KiB as float32: over a 0.02 MiB (20 KiB) cap, which the in-memory loader refuses.
    const image = { size: [8, 8] as [number, number], onBadFile: 'skip' as const, maxMemoryMb: 0.02 };
    expect(() => loadImageFolder(join(dir, 'rgb'), image, () => {})).toThrow(/take 1 MiB as float32 .*more than --max-memory-mb 0.02/);
    const { data, result } = await round({ kind: 'images', dir: join(dir, 'rgb'), image });
    if (!isStreamed(data)) throw new Error('expected the rows to be streamed');
    expect(result.trainSamples).toBe(39);
    expect(Number.isFinite(result.metrics.trainLoss)).toBe(true);
    expect(data.held.peak).toBeLessThanOrEqual(3 * config.batchSize); // the batch trained on and 2 read ahead
    expect(data.held.peak).toBeGreaterThan(0);
    expect(data.held.now).toBe(0);
  });

  it('streams a DICOM manifest to the same values as decoding it into memory', async () => {
    const folder = join(dir, 'dicom');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(folder, { recursive: true });
    const lines = Array.from({ length: 6 }, (_, i) => {
      const pixels = Array.from({ length: 16 }, (_, k) => (i % 2 ? 900 : 100) + k * 3 + i);
      writeFileSync(join(folder, `${i}.dcm`), dicomFile({ rows: 4, columns: 4, pixels, bitsAllocated: 16, photometric: 'MONOCHROME2' }));
      return `${i}.dcm,${i % 2 ? 'high' : 'low'}`;
    });
    writeFileSync(join(folder, 'manifest.csv'), `file,label\n${lines.join('\n')}\n`);
    const spec: ModelSpec = { arch: 'logreg', inputShape: [16], classes: ['high', 'low'] };
    const ref = { kind: 'dicom' as const, manifest: join(folder, 'manifest.csv'), image: { size: [4, 4] as [number, number] } };
    const memory = dataSourceFor(ref).load(spec);
    const streamed = dataSourceFor({ ...ref, image: { ...ref.image, stream: true } });
    const rows = streamed.rows?.(spec);
    if (!rows || !isStreamed(rows)) throw new Error('expected the rows to be streamed');
    const batch = await rows.read([5, 0, 3]);
    expect(batch.rows).toEqual([5, 0, 3]);
    expect(Array.from(batch.x)).toEqual([5, 0, 3].flatMap((r) => Array.from(memory.x.subarray(r * 16, (r + 1) * 16))));
    expect(Array.from(rows.y)).toEqual(Array.from(memory.y));
  });
});

describe('a file that turns bad while streaming', () => {
  const folder = (): string => join(dir, 'turns-bad');
  const grey: ModelSpec = { arch: 'logreg', inputShape: [36], classes: ['bright', 'dark'] };

  it('is left out of its batch under --on-bad-file skip (one line naming it), and refused naming it under fail', async () => {
    // Both catalogs are made (every file checked) while the files are good; then one file is cut short.
    const skipping = imageCatalog({ kind: 'images', dir: folder() }, { size: [6, 6], onBadFile: 'skip' });
    const failing = imageCatalog({ kind: 'images', dir: folder() }, { size: [6, 6] });
    const victim = join(folder(), 'dark', readdirSync(join(folder(), 'dark')).find((f) => f.endsWith('.jpg')) as string);
    writeFileSync(victim, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const lines: string[] = [];
    const all = Array.from({ length: 20 }, (_, i) => i);
    const skip = streamedImageRows(skipping, all, 'none', 'skip', (l) => lines.push(l));
    const trained = await trainLocal({ tf, spec: grey, weights: initialWeights(grey, 1), data: skip, config, valFraction: 0 });
    expect(trained.trainSamples).toBe(20);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toContain(`images:${folder()} (while streaming): skipped 1 unreadable file: ${victim} (`);
    const fail = streamedImageRows(failing, all, 'none', 'fail', () => {});
    await expect(trainLocal({ tf, spec: grey, weights: initialWeights(grey, 1), data: fail, config, valFraction: 0 })).rejects.toThrow(
      `images:${folder()} (while streaming): 1 unreadable file: ${victim} (`,
    );
  });
});
