/** An agent's image rows: an ImageFolder tree (`images:DIR`) or a DICOM manifest (`dicom:MANIFEST.csv`), in memory or streamed, with training-time augmentation. */
import { CohortError, type ModelSpec } from '../protocol/index.js';
import { augmentBatch } from './data/augment.js';
import { loadImageSet, type ImageLocation } from './data/image-data.js';
import { DEFAULT_MAX_MEMORY_MB, siteNormalize, type ImageOptions } from './data/image-options.js';
import { imageRows, type ImageSet } from './data/image-set.js';
import { imageCatalog, imagesFitInMemory, streamedImageRows, type ImageCatalog } from './data/image-stream.js';
import { rowWidth, type Dataset } from './data/index.js';
import type { AnyDataset } from './data/row-stream.js';

/** A reference to image data and its options (JSON, so it travels from a simulator to its agents). */
export type ImageRef = ImageLocation & { image?: ImageOptions };

/** The image source's DataSource shape (structurally a DataSource, plus the augmentation hook the trainer applies). */
export interface ImageDataSource {
  readonly description: string;
  /** Every row decoded into memory (refused above `--max-memory-mb`). */
  load(spec: ModelSpec): Dataset;
  /** The rows the agent trains on: in memory when they fit under `--max-memory-mb`, else streamed from disk. */
  rows(spec: ModelSpec): AnyDataset;
  /** Augments a training batch in place (seeded); absent when augmentation is off. */
  augment?: (x: Float32Array, rows: number, seed: number) => void;
}

/**
 * Image rows (all, or the given indices: training rows first when the split is published) in the layout the spec
 * takes: [h, w, c] for a spec with a three-dimensional input (the cnn), flat rows otherwise. `rows` holds them in
 * memory when the set's float32 pixels fit under `--max-memory-mb` (and `--stream-images` is not given), else streams
 * them from disk a batch at a time: the same rows and values either way.
 * @example imageSource({ kind: 'images', dir: 'scans', image: { size: [64, 64] } }).load(spec).inputShape // [64, 64, 3]
 */
export function imageSource(ref: ImageRef, rows?: readonly number[]): ImageDataSource {
  const name = ref.kind === 'images' ? `images:${ref.dir}` : `dicom:${ref.manifest}`;
  const opts = ref.image ?? {};
  let shape: [number, number, number] | undefined;
  /** The set (decoded, or a catalog to stream) checked against the spec. */
  const open = <S extends ImageSet | ImageCatalog>(spec: ModelSpec, set: S): S => {
    if (spec.channelNormalization && opts.normalize === 'imagenet')
      throw new Error('the federation normalises images with pooled per-channel statistics; start the agent without --normalize imagenet');
    shape = [...set.imageShape];
    if (spec.classes.join() !== set.classes.join()) {
      throw new CohortError(
        'SHAPE_MISMATCH',
        `the federation's classes (${spec.classes.join(', ')}) are not the classes of ${name} (${set.classes.join(', ')})`,
      );
    }
    if (rowWidth(spec) !== shape[0] * shape[1] * shape[2]) {
      throw new CohortError(
        'SHAPE_MISMATCH',
        `the federation's model takes ${spec.inputShape.join('x')} inputs, the images of ${name} are ${shape.join('x')} (set --image-size and --channels to match)`,
      );
    }
    return set;
  };
  /** The rows' layout for the spec, with the image shape they came from. */
  const shaped = <D extends AnyDataset>(spec: ModelSpec, ds: D, imageShape: [number, number, number]): D => ({
    ...ds,
    imageShape: [...imageShape],
    ...(spec.inputShape.length === 3 ? { inputShape: [...imageShape] } : {}),
  });
  const load = (spec: ModelSpec): Dataset => {
    const set = open(spec, loadImageSet(ref, opts));
    return shaped(spec, imageRows(set, rows ?? Array.from(set.labels.keys()), siteNormalize(opts)), set.imageShape);
  };
  const source: ImageDataSource = {
    description: rows ? `${name} (${rows.length} rows)` : `${name} (all rows)`,
    load,
    rows(spec) {
      const fits = imagesFitInMemory(ref, opts);
      if (opts.stream !== true && fits) return load(spec);
      const set = open(spec, imageCatalog(ref, opts));
      const why = fits ? '--stream-images' : `over --max-memory-mb ${opts.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB}`;
      process.stderr.write(
        `${name}: ${set.labels.length} images of ${set.imageShape.join('x')} (${why}): streamed from disk a batch at a time\n`,
      );
      const all = rows ?? Array.from(set.labels.keys());
      return shaped(spec, streamedImageRows(set, all, siteNormalize(opts), opts.onBadFile), set.imageShape);
    },
  };
  if (opts.augment !== false) {
    source.augment = (x, n, seed) => {
      if (shape) augmentBatch(x, n, shape, seed);
    };
  }
  return source;
}
