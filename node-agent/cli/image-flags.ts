/** The image-data flags `simulate` and `agent` share (`images:DIR`, `dicom:MANIFEST.csv`), parsed into ImageOptions. */
import type { Command } from 'commander';
import type { ImageFlagValues } from '../../protocol/cli/options.js';
import { parseChannels, parseImageSize, parseMaxMemory, parseNormalize, parseOnBadFile, type ImageOptions } from '../data/image-options.js';

export type { ImageFlagValues };

/**
 * Adds `--image-size`, `--channels`, `--on-bad-file`, `--max-memory-mb`, `--stream-images`, `--augment`/`--no-augment` and `--normalize`.
 * @example withImageFlags(new Command('simulate')).parse(['--image-size', '32x32'], { from: 'user' })
 */
export function withImageFlags(cmd: Command): Command {
  return cmd
    .option('--image-size <HxW>', 'image data: resize every image to H x W pixels (default 28x28 greyscale, 64x64 RGB)')
    .option('--channels <n>', 'image data: 1 (greyscale) or 3 (RGB) (default: 3 when any image has colour, else 1; DICOM 1)')
    .option(
      '--on-bad-file <policy>',
      'image data: an unreadable, truncated or wrongly sized file: fail (default) | skip (one summary line)',
    )
    .option(
      '--max-memory-mb <mb>',
      'image data: hold a set in memory up to this many MiB of float32 pixels, stream it from disk above (default 2048)',
    )
    .option('--stream-images', 'image data: stream the images from disk a batch at a time even when they fit in memory')
    .option('--augment', 'image data: augment training batches (crop, flip, rotation, brightness/contrast; the default)')
    .option('--no-augment', 'image data: train on the images as they are')
    .option(
      '--normalize <how>',
      'image data: none (default; pixels in [0, 1]) | imagenet (RGB: ImageNet mean and std) | pooled (per-channel mean and std pooled across sites)',
    );
}

/**
 * The ImageOptions the flags give (undefined when none is set); bad values throw naming the flag.
 * @example imageOptionsFrom({ imageSize: '32x32', channels: '3' }) // { size: [32, 32], channels: 3 }
 */
export function imageOptionsFrom(o: ImageFlagValues): ImageOptions | undefined {
  const opts: ImageOptions = {};
  if (o.imageSize !== undefined) opts.size = parseImageSize(String(o.imageSize));
  if (o.channels !== undefined) opts.channels = parseChannels(String(o.channels));
  if (o.onBadFile !== undefined) opts.onBadFile = parseOnBadFile(String(o.onBadFile));
  if (o.maxMemoryMb !== undefined) opts.maxMemoryMb = parseMaxMemory(String(o.maxMemoryMb));
  if (o.augment !== undefined) opts.augment = o.augment !== false;
  if (o.normalize !== undefined) opts.normalize = parseNormalize(String(o.normalize));
  if (o.streamImages === true) opts.stream = true;
  return Object.keys(opts).length > 0 ? opts : undefined;
}
