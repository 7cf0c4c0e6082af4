/** The options of image data (`images:DIR`, `dicom:MANIFEST.csv`): size, channels, bad files, memory cap, augmentation, normalisation. */

/** How image pixels are normalised after scaling to [0, 1]: ImageNet's fixed per-channel mean and std (RGB only), or not at all. */
export type ImageNormalize = 'imagenet' | 'none';

/** Options of an image data set; every field has a default (see `resolveImageOptions`). JSON, so it travels in a DataRef. */
export interface ImageOptions {
  /** Height and width every image is resized to; default 28x28 for greyscale, 64x64 for RGB. */
  size?: [number, number];
  /** 1 (greyscale) or 3 (RGB); default: 3 when any image has colour, else 1 (DICOM: 1). */
  channels?: 1 | 3;
  /** An unreadable, truncated or wrongly sized file: `fail` (default) refuses the data set, `skip` leaves it out. */
  onBadFile?: 'skip' | 'fail';
  /** Refuse a data set whose pixels as float32 take more than this many MiB (default 2048). */
  maxMemoryMb?: number;
  /** Random augmentation of training batches (default on); evaluation never augments. */
  augment?: boolean;
  /** Default `none`. */
  normalize?: ImageNormalize;
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
 * Parses `imagenet` or `none`; `pooled` is refused with the reason.
 * @example parseNormalize('imagenet') // 'imagenet'
 */
export function parseNormalize(text: string): ImageNormalize {
  if (text === 'imagenet' || text === 'none') return text;
  if (text === 'pooled') {
    throw new Error(
      '--normalize pooled is not available yet: per-channel statistics pooled across sites need the model spec to carry per-channel normalisation; use imagenet or none',
    );
  }
  throw new Error(`--normalize ${text}: use imagenet or none`);
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
      `${what}: ${rows} images of ${shape.join('x')} take ${Math.ceil(mb)} MiB as float32 (rows x h x w x c x 4 bytes), more than --max-memory-mb ${maxMemoryMb}; use a smaller --image-size, fewer images, or raise --max-memory-mb (images are held in memory, not streamed from disk)`,
    );
  }
}
