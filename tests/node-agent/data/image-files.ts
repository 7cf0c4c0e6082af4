/** Image test data written by the tests: an ImageFolder tree of PNGs and JPEGs (bright vs dark squares) made with sharp. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export interface TreeOptions {
  /** Images per class (split per `val` when given). */
  perClass: number;
  /** When set, this many images per class go to `val/`, the rest to `train/`. */
  val?: number;
  /** Side of each (square) image before resizing. */
  side?: number;
  /** RGB (bright: red-ish, dark: blue-ish) instead of greyscale. */
  colour?: boolean;
  /** Write one corrupt file (`bright/corrupt.png`, random bytes) into the first split. */
  corrupt?: boolean;
}

/** Pixel value of image `i` of a class: bright images 170-250, dark ones 5-85, with a per-image pattern. */
function pixels(bright: boolean, i: number, side: number, channels: number): Buffer {
  const out = Buffer.alloc(side * side * channels);
  for (let k = 0; k < side * side; k++) {
    const base = (bright ? 170 : 5) + ((i * 13 + k * 7) % 80);
    for (let c = 0; c < channels; c++) out[k * channels + c] = channels === 3 ? Math.max(0, base - (bright ? c : 2 - c) * 40) : base;
  }
  return out;
}

/**
 * Writes `DIR/{bright,dark}/*.{png,jpg}` (or `DIR/train/...` and `DIR/val/...`): even images PNG, odd ones JPEG.
 * @example await writeImageTree(dir, { perClass: 20, corrupt: true })
 */
export async function writeImageTree(dir: string, opts: TreeOptions): Promise<void> {
  const side = opts.side ?? 12;
  const channels = opts.colour ? 3 : 1;
  for (const cls of ['bright', 'dark']) {
    for (let i = 0; i < opts.perClass; i++) {
      const split = opts.val === undefined ? '' : i < opts.perClass - opts.val ? 'train' : 'val';
      const folder = join(dir, split, cls);
      mkdirSync(folder, { recursive: true });
      const raw = sharp(pixels(cls === 'bright', i, side, channels), { raw: { width: side, height: side, channels: channels as 1 | 3 } });
      const img = channels === 1 ? raw.toColourspace('b-w') : raw;
      const name = `img-${String(i).padStart(3, '0')}`;
      if (i % 2 === 0) await img.png().toFile(join(folder, `${name}.png`));
      else await img.jpeg({ quality: 95 }).toFile(join(folder, `${name}.jpg`));
    }
  }
  if (opts.corrupt)
    writeFileSync(
      join(dir, opts.val === undefined ? '' : 'train', 'bright', 'corrupt.png'),
      Buffer.from('\x89PNG\r\n\x1a\n this is not really a png'),
    );
}
