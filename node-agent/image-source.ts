/** An agent's image rows: an ImageFolder tree (`images:DIR`) or a DICOM manifest (`dicom:MANIFEST.csv`), with training-time augmentation. */
import { CohortError, type ModelSpec } from '../protocol/index.js';
import { augmentBatch } from './data/augment.js';
import { loadImageSet, type ImageLocation } from './data/image-data.js';
import type { ImageOptions } from './data/image-options.js';
import { imageRows } from './data/image-set.js';
import { rowWidth, type Dataset } from './data/index.js';

/** A reference to image data and its options (JSON, so it travels from a simulator to its agents). */
export type ImageRef = ImageLocation & { image?: ImageOptions };

/** The image source's DataSource shape (structurally a DataSource, plus the augmentation hook the trainer applies). */
export interface ImageDataSource {
  readonly description: string;
  load(spec: ModelSpec): Dataset;
  /** Augments a training batch in place (seeded); absent when augmentation is off. */
  augment?: (x: Float32Array, rows: number, seed: number) => void;
}

/**
 * Image rows (all, or the given indices: training rows first when the split is published) in the layout the spec
 * takes: [h, w, c] for a spec with a three-dimensional input (the cnn), flat rows otherwise.
 * @example imageSource({ kind: 'images', dir: 'scans', image: { size: [64, 64] } }).load(spec).inputShape // [64, 64, 3]
 */
export function imageSource(ref: ImageRef, rows?: readonly number[]): ImageDataSource {
  const name = ref.kind === 'images' ? `images:${ref.dir}` : `dicom:${ref.manifest}`;
  let shape: [number, number, number] | undefined;
  const source: ImageDataSource = {
    description: rows ? `${name} (${rows.length} rows)` : `${name} (all rows)`,
    load(spec) {
      const set = loadImageSet(ref, ref.image);
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
      const ds = imageRows(set, rows ?? Array.from(set.labels.keys()), ref.image?.normalize);
      return spec.inputShape.length === 3 ? { ...ds, inputShape: [...shape] } : ds;
    },
  };
  if (ref.image?.augment !== false) {
    source.augment = (x, n, seed) => {
      if (shape) augmentBatch(x, n, shape, seed);
    };
  }
  return source;
}
