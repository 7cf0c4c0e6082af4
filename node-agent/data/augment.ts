/** Image augmentation as pure functions over Float32Array images (h x w x c, interleaved): crop, flip, rotate, brightness/contrast, seeded. */
import { createPrng, type Prng } from '../../crypto/prng.js';

/** [height, width, channels]. */
export type ImageShape = readonly [number, number, number];

/** A crop box in pixels: top-left corner and size (may be fractional). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Bilinear sample of channel `ch` at fractional pixel coordinates (centres at integers), clamped at the borders. */
function sample(img: Float32Array, [h, w, c]: ImageShape, y: number, x: number, ch: number): number {
  const yy = Math.min(h - 1, Math.max(0, y));
  const xx = Math.min(w - 1, Math.max(0, x));
  const y0 = Math.floor(yy);
  const x0 = Math.floor(xx);
  const y1 = Math.min(h - 1, y0 + 1);
  const x1 = Math.min(w - 1, x0 + 1);
  const fy = yy - y0;
  const fx = xx - x0;
  const [a, b] = [(y0 * w + x0) * c + ch, (y0 * w + x1) * c + ch];
  const [d, e] = [(y1 * w + x0) * c + ch, (y1 * w + x1) * c + ch];
  return (
    ((img[a] as number) * (1 - fx) + (img[b] as number) * fx) * (1 - fy) + ((img[d] as number) * (1 - fx) + (img[e] as number) * fx) * fy
  );
}

/** A new image whose pixel (i, j) is the source sampled where `where(i, j)` says (source y, x). */
function remap(img: Float32Array, shape: ImageShape, where: (i: number, j: number) => [number, number]): Float32Array {
  const [h, w, c] = shape;
  const out = new Float32Array(img.length);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const [y, x] = where(i, j);
      for (let ch = 0; ch < c; ch++) out[(i * w + j) * c + ch] = sample(img, shape, y, x, ch);
    }
  }
  return out;
}

/**
 * The image mirrored left to right.
 * @example flipHorizontal(new Float32Array([1, 2]), [1, 2, 1]) // Float32Array [2, 1]
 */
export function flipHorizontal(img: Float32Array, [h, w, c]: ImageShape): Float32Array {
  const out = new Float32Array(img.length);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) for (let ch = 0; ch < c; ch++) out[(i * w + j) * c + ch] = img[(i * w + (w - 1 - j)) * c + ch] as number;
  return out;
}

/** Where an output pixel of a resized crop comes from. */
const cropSource =
  ([h, w]: ImageShape, box: CropBox) =>
  (i: number, j: number): [number, number] => [box.top + ((i + 0.5) * box.height) / h - 0.5, box.left + ((j + 0.5) * box.width) / w - 0.5];

/** Where an output pixel of a rotation by `degrees` about the centre comes from (y grows downwards). */
function rotationSource([h, w]: ImageShape, degrees: number): (i: number, j: number) => [number, number] {
  const t = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(t), Math.sin(t)];
  const [cy, cx] = [(h - 1) / 2, (w - 1) / 2];
  return (i, j) => [cy + (i - cy) * cos + (j - cx) * sin, cx - (i - cy) * sin + (j - cx) * cos];
}

/**
 * The box cut out and resized (bilinear) back to the image's size.
 * @example resizedCrop(img, [28, 28, 1], { top: 2, left: 2, height: 24, width: 24 })
 */
export function resizedCrop(img: Float32Array, shape: ImageShape, box: CropBox): Float32Array {
  return remap(img, shape, cropSource(shape, box));
}

/**
 * The image rotated by `degrees` (counter-clockwise as displayed) about its centre; corners take the nearest border pixel.
 * @example rotate(img, [28, 28, 1], 10)
 */
export function rotate(img: Float32Array, shape: ImageShape, degrees: number): Float32Array {
  return remap(img, shape, rotationSource(shape, degrees));
}

/**
 * Brightness and contrast: each channel value v becomes (v - m) * (1 + contrast) + m + brightness, m the image's mean
 * over all its values. Values are not clipped (they may be normalised).
 * @example brightnessContrast(new Float32Array([0, 1]), 0.1, 0) // Float32Array [0.1, 1.1]
 */
export function brightnessContrast(img: Float32Array, brightness: number, contrast: number): Float32Array {
  const mean = img.reduce((a, b) => a + b, 0) / Math.max(1, img.length);
  return img.map((v) => (v - mean) * (1 + contrast) + mean + brightness);
}

/**
 * One random draw of each transform's parameters (crop area 0.8-1.0 at aspect 3/4-4/3, flip 1/2, ±10°, ±0.1), applied as
 * flip(rotate(crop(img))) in one resampling: the three inverse mappings composed, one bilinear interpolation.
 */
function augmentOne(img: Float32Array, shape: ImageShape, rng: Prng): Float32Array {
  const [h, w] = shape;
  const area = 0.8 + 0.2 * rng.next();
  const aspect = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * rng.next());
  const height = Math.min(h, h * Math.sqrt(area / aspect));
  const width = Math.min(w, w * Math.sqrt(area * aspect));
  const box = { top: (h - height) * rng.next(), left: (w - width) * rng.next(), height, width };
  const flip = rng.next() < 0.5;
  const degrees = 20 * rng.next() - 10;
  const [brightness, contrast] = [0.2 * rng.next() - 0.1, 0.2 * rng.next() - 0.1];
  const [crop, turn] = [cropSource(shape, box), rotationSource(shape, degrees)];
  const moved = remap(img, shape, (i, j) => crop(...turn(i, flip ? w - 1 - j : j)));
  return brightnessContrast(moved, brightness, contrast);
}

/**
 * Augments `rows` images of `shape` held back to back in `x`, in place: random resized crop (scale 0.8-1.0), horizontal
 * flip, rotation up to ±10° and brightness/contrast up to ±0.1, each image with its own draw from `seed` (the same seed
 * gives the same pixels).
 * @example augmentBatch(batch, 32, [28, 28, 1], round * 1_000 + site)
 */
export function augmentBatch(x: Float32Array, rows: number, shape: ImageShape, seed: number): void {
  const size = shape[0] * shape[1] * shape[2];
  if (x.length < rows * size)
    throw new RangeError(`batch has ${x.length} values, ${rows} images of ${shape.join('x')} need ${rows * size}`);
  const rng = createPrng(seed);
  for (let r = 0; r < rows; r++) x.set(augmentOne(x.subarray(r * size, (r + 1) * size), shape, rng), r * size);
}
