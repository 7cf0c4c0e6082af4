/** Bench section `imaging`: images decoded and augmented per second, and ResNet (small) training samples per second on the active backend, so a site can size its hardware. */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { augmentBatch } from '../../node-agent/data/augment.js';
import { decodeImages } from '../../node-agent/data/image-decode.js';
import { buildResNet, countParameters, selectBackend, trainLocal, weightNames, type TF } from '../../node-agent/train/index.js';
import { createPrng } from '../../crypto/index.js';
import type { BenchRow, BenchSection } from './section.js';

/** Photo-like source files: `side` x `side` RGB JPEGs (PNGs every fourth) of seeded noise over a gradient. */
async function writeImages(dir: string, count: number, side: number): Promise<string[]> {
  const rng = createPrng(7);
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(side * side * 3);
    for (let k = 0; k < raw.length; k++) raw[k] = Math.floor((((k / 3) % side) / side) * 128 + rng.next() * 127);
    const path = join(dir, `img-${i}.${i % 4 === 0 ? 'png' : 'jpg'}`);
    const img = sharp(raw, { raw: { width: side, height: side, channels: 3 } });
    await (i % 4 === 0 ? img.png() : img.jpeg({ quality: 90 })).toFile(path);
    paths.push(path);
  }
  return paths;
}

/** Seconds `fn` takes, best of `runs`. */
async function best(runs: number, fn: () => unknown): Promise<number> {
  let fastest = Infinity;
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    await fn();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return fastest;
}

/** ResNet samples/s: one epoch of `rows` random images after a warm-up epoch (kernels compiled, memory allocated). */
async function resnetRate(tf: TF, shape: [number, number, number], rows: number): Promise<{ perSec: number; params: number }> {
  const model = buildResNet(tf, { depth: 10, width: 8, inputShape: shape, units: 10, activation: 'softmax', seed: 1 });
  const names = weightNames(model);
  const tensors = model
    .getWeights()
    .map((w, i) => ({ name: names[i] as string, shape: [...w.shape], data: Float32Array.from(w.dataSync() as Float32Array) }));
  const params = countParameters(model).total;
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  model.dispose();
  const spec = {
    arch: 'layers' as const,
    inputShape: shape,
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    layers: { topology, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, role: 'trained' as const })) },
  };
  const width = shape[0] * shape[1] * shape[2];
  const rng = createPrng(3);
  const data = (n: number) => ({
    x: Float32Array.from({ length: n * width }, () => rng.next()),
    y: Int32Array.from({ length: n }, () => Math.floor(rng.next() * 10)),
    n,
    inputShape: [...shape],
    classes: spec.classes,
  });
  const config = { localEpochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam' as const };
  await trainLocal({ tf, spec, weights: tensors, base: [], data: data(32), config, valFraction: 0 });
  const seconds = await best(1, () => trainLocal({ tf, spec, weights: tensors, base: [], data: data(rows), config, valFraction: 0 }));
  return { perSec: rows / seconds, params };
}

/**
 * Decodes `count` 256x256 photo-like JPEG/PNG files to 64x64 RGB and 28x28 greyscale (sharp, in its worker), augments
 * batches of them (random resized crop, flip, rotation, brightness/contrast: one JavaScript thread), and trains
 * ResNet-10 at width 8 (the `resnet:10x8` preset) on 28x28x1 and 32x32x3 batches of 32 on the backend `auto` picks.
 * @example const result = await imagingSection.run({ quick: true, outDir, log: console.error });
 */
export const imagingSection: BenchSection = {
  id: 'imaging',
  title: 'Imaging: decode, augment, ResNet training',
  async run(ctx) {
    const cores = availableParallelism();
    const count = ctx.quick ? 16 : 256;
    const dir = mkdtempSync(join(tmpdir(), 'cohort-bench-imaging-'));
    const rows: BenchRow[] = [];
    const add = (what: string, perSec: number, perCore: number | null, detail: string): void => {
      rows.push({
        cells: [what, perSec.toFixed(perSec < 100 ? 1 : 0), perCore === null ? '-' : perCore.toFixed(perCore < 100 ? 1 : 0), detail],
        values: { what, perSec, ...(perCore === null ? {} : { perCore }) },
      });
    };
    try {
      ctx.log(`imaging: writing ${count} 256x256 source images`);
      const paths = await writeImages(dir, count, 256);
      for (const [h, w, c] of [
        [64, 64, 3],
        [28, 28, 1],
      ] as const) {
        ctx.log(`imaging: decoding to ${h}x${w}x${c}`);
        const seconds = await best(ctx.quick ? 1 : 3, () => decodeImages(paths, h, w, c));
        add(
          `decode 256x256 JPEG/PNG -> ${h}x${w}x${c}`,
          count / seconds,
          count / seconds / cores,
          `sharp (libvips, up to ${cores} threads), ${count} files`,
        );
        const x = Float32Array.from(decodeImages(paths, h, w, c).pixels, (v) => v / 255);
        const aug = await best(ctx.quick ? 1 : 3, () => augmentBatch(x.slice(), count, [h, w, c], 1));
        add(`augment ${h}x${w}x${c}`, count / aug, count / aug, 'crop, flip, rotation, brightness/contrast; one thread');
      }
      const { tf, name: backend } = await selectBackend('auto');
      for (const shape of [
        [28, 28, 1],
        [32, 32, 3],
      ] as [number, number, number][]) {
        ctx.log(`imaging: training resnet:10x8 on ${shape.join('x')} (${backend})`);
        const { perSec, params } = await resnetRate(tf, shape, ctx.quick ? 64 : 512);
        add(
          `train resnet:10x8 on ${shape.join('x')}`,
          perSec,
          null,
          `${backend}, batch 32, AdamW, ${params.toLocaleString('en-US')} parameters`,
        );
      }
      const ms = (row: BenchRow | undefined): string => (1000 / Number(row?.values?.perSec ?? NaN)).toFixed(2);
      return {
        title: 'Imaging: decode, augment, ResNet training',
        columns: ['step', 'per second', 'per second per core', 'how'],
        rows,
        notes: [
          `${cores} cores available; decoding runs in sharp's worker (libvips threads), so its per-core figure is the rate divided by the cores; augmentation and the TF.js ${backend} backend run on one JavaScript thread here.`,
          `Per 28x28x1 image: decode ${ms(rows[2])} ms (once per round: images are re-read from disk), augment ${ms(rows[3])} ms, one resnet:10x8 training step ${ms(rows[4])} ms; a round at a site takes about rows x epochs x (augment + train) + rows x decode.`,
        ],
        summary: { backend, cores },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
