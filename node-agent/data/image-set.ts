/** A decoded image data set (image folders, DICOM manifests): its pixels, labels and shape, bad files, and rows as a Dataset. */
import type { Dataset } from './dataset.js';
import type { BadFile } from './image-decode.js';
import { IMAGENET_MEAN, IMAGENET_STD, type ImageNormalize } from './image-options.js';

/** Every image of a data set, in memory, in the order rows are numbered (training rows first when the split is published). */
export interface ImageSet {
  /** rows x h x w x c values: bytes (scaled by 1/255 when read) or floats already in [0, 1]. */
  pixels: Uint8Array | Float32Array;
  labels: Int32Array;
  classes: string[];
  /** [h, w, c]. */
  imageShape: [number, number, 1 | 3];
  /** Rows [0, trainRows) are the published training split, the rest its validation (test) split; absent: no published split. */
  trainRows?: number;
  /** The file of each row. */
  files: string[];
  /** The institution of each row, when the manifest has a `site` column. */
  sites?: string[];
  /** Files left out under `--on-bad-file skip`. */
  skipped: BadFile[];
}

/**
 * Applies the bad-file policy: `fail` throws naming every bad file (the first 10); `skip` returns one summary line
 * (or undefined when nothing was bad).
 * @example badFilePolicy('images:scans', [{ path: 'x.png', reason: 'truncated' }], 'skip') // 'images:scans: skipped 1 unreadable file: x.png (truncated)'
 */
export function badFilePolicy(what: string, bad: readonly BadFile[], policy: 'skip' | 'fail' = 'fail'): string | undefined {
  if (bad.length === 0) return undefined;
  const first = bad.slice(0, policy === 'fail' ? 10 : 3).map((b) => `${b.path} (${b.reason})`);
  const more = bad.length > first.length ? `, and ${bad.length - first.length} more` : '';
  const count = `${bad.length} unreadable file${bad.length === 1 ? '' : 's'}`;
  if (policy === 'fail')
    throw new Error(`${what}: ${count}: ${first.join('; ')}${more}. Fix or remove them, or pass --on-bad-file skip to leave them out`);
  return `${what}: skipped ${count}: ${first.join('; ')}${more}`;
}

/**
 * One image's values as the model reads them: scaled to [0, 1] (bytes by 1/255), then normalised per channel when
 * asked (ImageNet's mean and std), written to `out` at `at`. Both the in-memory and the streamed path use it, so
 * both give the same floats.
 * @example imageValues(bytes, 0, 784, 1, 'none', out, 0)
 */
export function imageValues(
  pixels: Uint8Array | Float32Array,
  from: number,
  width: number,
  c: number,
  normalize: ImageNormalize,
  out: Float32Array,
  at: number,
): void {
  const scale = pixels instanceof Uint8Array ? 1 / 255 : 1;
  for (let k = 0; k < width; k++) {
    const v = (pixels[from + k] as number) * scale;
    const ch = k % c;
    out[at + k] = normalize === 'imagenet' ? (v - (IMAGENET_MEAN[ch] as number)) / (IMAGENET_STD[ch] as number) : v;
  }
}

/**
 * Refuses ImageNet normalisation of greyscale images.
 * @example checkNormalize('imagenet', 3)
 */
export function checkNormalize(normalize: ImageNormalize, channels: number): void {
  if (normalize === 'imagenet' && channels !== 3)
    throw new Error(`--normalize imagenet needs RGB images (--channels 3); these have ${channels} channel`);
}

/**
 * The given rows of an image set as a Dataset with flat rows (inputShape [h * w * c]), pixels in [0, 1], then
 * normalised per channel when asked (ImageNet's mean and std; RGB only).
 * @example imageRows(set, [0, 1], 'none').x.length // 2 * h * w * c
 */
export function imageRows(set: ImageSet, rows: ArrayLike<number>, normalize: ImageNormalize = 'none'): Dataset {
  const [h, w, c] = set.imageShape;
  const width = h * w * c;
  checkNormalize(normalize, c);
  const x = new Float32Array(rows.length * width);
  const y = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as number;
    if (!Number.isInteger(row) || row < 0 || row >= set.labels.length)
      throw new RangeError(`row index ${row} out of range [0, ${set.labels.length})`);
    y[i] = set.labels[row] as number;
    imageValues(set.pixels, row * width, width, c, normalize, x, i * width);
  }
  return { x, y, n: rows.length, inputShape: [width], classes: [...set.classes] };
}
