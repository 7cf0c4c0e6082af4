/** The options of image data (`images:DIR`, `dicom:MANIFEST.csv`): size, channels, bad files, memory cap, augmentation, normalisation. */

/** How a site normalises image pixels after scaling to [0, 1]: ImageNet's fixed per-channel mean and std (RGB only), or not at all. */
export type ImageNormalize = 'imagenet' | 'none';

/** `--normalize`: a site's own choice, or `pooled` (per-channel statistics pooled across sites, carried in the model spec). */
export type NormalizeChoice = ImageNormalize | 'pooled';

/** Options of an image data set; every field has a default (see `resolveImageOptions`). JSON, so it travels in a DataRef. */
export interface ImageOptions {
  /** Height and width every image is resized to; default 28x28 for greyscale, 64x64 for RGB. */
  size?: [number, number];
  /** 1 (greyscale) or 3 (RGB); default: 3 when any image has colour, else 1 (DICOM: 1). */
  channels?: 1 | 3;
  /** An unreadable, truncated or wrongly sized file: `fail` (default) refuses the data set, `skip` leaves it out. */
  onBadFile?: 'skip' | 'fail';
  /** Hold a data set in memory when its pixels as float32 take at most this many MiB (default 2048); stream it from disk otherwise. */
  maxMemoryMb?: number;
  /** Stream the images from disk a batch at a time even when they fit under `maxMemoryMb`. */
  stream?: boolean;
  /** Random augmentation of training batches (default on); evaluation never augments. */
  augment?: boolean;
  /** Default `none`; `pooled` is applied from the model spec (the site itself does not normalise). */
  normalize?: NormalizeChoice;
}

export const DEFAULT_MAX_MEMORY_MB = 2048;
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * Parses `HxW` (or one number for a square), each from 1 to 4096.
 * @example parseImageSize('32x48') // [32, 48]
 */
export function parseImageSize(text: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(text.trim());
  const [h, w] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [Number.NaN, Number.NaN];
  if (!(h >= 1 && h <= 4096 && w >= 1 && w <= 4096))
    throw new Error(`--image-size ${text}: use HxW with each side from 1 to 4096, e.g. 28x28 or 64x64`);
  return [h, w];
}

/**
 * Parses `1` or `3`.
 * @example parseChannels('3') // 3
 */
export function parseChannels(text: string): 1 | 3 {
  if (text === '1' || text === '3') return Number(text) as 1 | 3;
  throw new Error(`--channels ${text}: use 1 (greyscale) or 3 (RGB)`);
}

/**
 * Parses `skip` or `fail`.
 * @example parseOnBadFile('skip') // 'skip'
 */
export function parseOnBadFile(text: string): 'skip' | 'fail' {
  if (text === 'skip' || text === 'fail') return text;
  throw new Error(`--on-bad-file ${text}: use skip or fail`);
}

/**
 * Parses `imagenet`, `pooled` or `none`.
 * @example parseNormalize('pooled') // 'pooled'
 */
export function parseNormalize(text: string): NormalizeChoice {
  if (text === 'imagenet' || text === 'none' || text === 'pooled') return text;
  throw new Error(`--normalize ${text}: use imagenet, pooled or none`);
}

/**
 * Parses a positive number of MiB.
 * @example parseMaxMemory('512') // 512
 */
export function parseMaxMemory(text: string): number {
  const mb = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(mb) && mb > 0)) throw new Error(`--max-memory-mb ${text}: use a positive number of MiB`);
  return mb;
}

/**
 * The image size for these options and channels: the given one, or 28x28 (greyscale) / 64x64 (RGB).
 * @example imageSizeFor({}, 3) // [64, 64]
 */
export function imageSizeFor(opts: ImageOptions, channels: 1 | 3): [number, number] {
  return opts.size ?? (channels === 1 ? [28, 28] : [64, 64]);
}

/**
 * Refuses a data set whose float32 pixels would exceed the memory cap, naming the arithmetic.
 * @example checkImageMemory('images:scans', 1000, [64, 64, 3], 2048) // fine: 47 MiB
 */
export function checkImageMemory(what: string, rows: number, shape: readonly number[], maxMemoryMb = DEFAULT_MAX_MEMORY_MB): void {
  const bytes = rows * shape.reduce((a, b) => a * b, 1) * 4;
  const mb = bytes / 2 ** 20;
  if (mb > maxMemoryMb) {
    throw new Error(
      `${what}: ${rows} images of ${shape.join('x')} take ${Math.ceil(mb)} MiB as float32 (rows x h x w x c x 4 bytes), more than --max-memory-mb ${maxMemoryMb}; use a smaller --image-size, fewer images, or raise --max-memory-mb (an agent streams such a set from disk instead; this loader holds it in memory)`,
    );
  }
}

/**
 * What the site itself applies: ImageNet's values, or nothing (`pooled` values come with the model spec).
 * @example siteNormalize({ normalize: 'pooled' }) // 'none'
 */
export function siteNormalize(opts: ImageOptions = {}): ImageNormalize {
  return opts.normalize === 'imagenet' ? 'imagenet' : 'none';
}
