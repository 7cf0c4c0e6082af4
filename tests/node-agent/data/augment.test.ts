/** Image augmentation: each transform on a hand-made image, and the seeded batch augmentation. */
import { describe, expect, it } from 'vitest';
import {
  augmentBatch,
  brightnessContrast,
  flipHorizontal,
  resizedCrop,
  rotate,
  type ImageShape,
} from '../../../node-agent/data/augment.js';

/** A 5 x 5 greyscale image, 1 at (row, col), 0 elsewhere. */
function dot(row: number, col: number): Float32Array {
  const img = new Float32Array(25);
  img[row * 5 + col] = 1;
  return img;
}
const argmax = (img: Float32Array): [number, number] => {
  const i = img.indexOf(Math.max(...img));
  return [Math.floor(i / 5), i % 5];
};
const GREY: ImageShape = [5, 5, 1];

describe('augmentation transforms', () => {
  it('flipHorizontal mirrors columns and keeps channels together', () => {
    expect(argmax(flipHorizontal(dot(1, 0), GREY))).toEqual([1, 4]);
    const rgb = new Float32Array([1, 2, 3, 4, 5, 6]); // one row of two RGB pixels
    expect(Array.from(flipHorizontal(rgb, [1, 2, 3]))).toEqual([4, 5, 6, 1, 2, 3]);
  });

  it('rotate turns counter-clockwise as displayed (90 degrees moves the right edge to the top) and 0 degrees is the identity', () => {
    expect(argmax(rotate(dot(2, 4), GREY, 90))).toEqual([0, 2]);
    expect(argmax(rotate(dot(2, 4), GREY, -90))).toEqual([4, 2]);
    const img = Float32Array.from({ length: 25 }, (_, i) => i / 25);
    Array.from(rotate(img, GREY, 0)).forEach((v, i) => expect(v).toBeCloseTo(img[i] as number, 6));
  });

  it('rotate by 10 degrees moves an off-centre point by about r * 10 degrees, the centre stays', () => {
    const img = new Float32Array(21 * 21);
    img[10 * 21 + 10] = 1;
    expect(rotate(img, [21, 21, 1], 10)[10 * 21 + 10]).toBeCloseTo(1, 6);
  });

  it('resizedCrop of the whole image is the identity; of the top-left quarter enlarges it', () => {
    const img = Float32Array.from({ length: 25 }, (_, i) => i);
    Array.from(resizedCrop(img, GREY, { top: 0, left: 0, height: 5, width: 5 })).forEach((v, i) => expect(v).toBeCloseTo(i, 5));
    const quarter = resizedCrop(dot(0, 0), GREY, { top: 0, left: 0, height: 2.5, width: 2.5 });
    expect(quarter[0]).toBeGreaterThan(0.5); // the dot now covers the top-left 2 x 2 output pixels
    expect(quarter[1]).toBeGreaterThan(0.2);
    expect(quarter[24]).toBe(0);
  });

  it('brightnessContrast adds the brightness and stretches about the mean', () => {
    expect(Array.from(brightnessContrast(new Float32Array([0.25, 0.75]), 0.1, 0))).toEqual([0.35, 0.85].map(Math.fround));
    expect(Array.from(brightnessContrast(new Float32Array([0.25, 0.75]), 0, 0.1)).map((v) => Number(v.toFixed(6)))).toEqual([0.225, 0.775]);
  });
});

describe('augmentBatch', () => {
  const batch = (): Float32Array => Float32Array.from({ length: 3 * 8 * 8 * 3 }, (_, i) => ((i * 37) % 101) / 100);

  it('gives the same pixels for the same seed and different pixels for another', () => {
    const [a, b, c] = [batch(), batch(), batch()];
    augmentBatch(a, 3, [8, 8, 3], 42);
    augmentBatch(b, 3, [8, 8, 3], 42);
    augmentBatch(c, 3, [8, 8, 3], 43);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a)).not.toEqual(Array.from(batch()));
  });

  it('draws each image of a batch separately and stays close to the input range', () => {
    const same = new Float32Array(2 * 36).fill(0.5);
    for (let i = 0; i < 36; i++) same[i] = same[36 + i] = (i % 6) / 5;
    augmentBatch(same, 2, [6, 6, 1], 1);
    expect(Array.from(same.subarray(0, 36))).not.toEqual(Array.from(same.subarray(36)));
    expect(Math.min(...same)).toBeGreaterThan(-0.25);
    expect(Math.max(...same)).toBeLessThan(1.25);
  });

  it('refuses a batch shorter than rows x shape', () => {
    expect(() => augmentBatch(new Float32Array(10), 1, [4, 4, 1], 0)).toThrow(/batch has 10 values, 1 images of 4x4x1 need 16/);
  });
});
