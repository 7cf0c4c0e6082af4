/** The batched trainer's first-layer conv gradients by im2col equal tfjs's Conv2DBackpropFilter and Sum. */
import { describe, expect, it } from 'vitest';
import { im2colGrads } from '../../../node-agent/train/batched-layers.js';
import { selectBackend } from '../../../node-agent/train/index.js';

describe('im2colGrads', () => {
  it("equals Conv2DBackpropFilter and the bias sum for 'same' convs with few input channels and odd sizes", async () => {
    const { tf } = await selectBackend('wasm');
    for (const [x, filter] of [
      [
        [3, 28, 28, 1],
        [5, 5, 1, 32],
      ],
      [
        [2, 9, 7, 3],
        [3, 3, 3, 8],
      ],
      [
        [1, 4, 6, 2],
        [5, 5, 2, 4],
      ],
    ] as [number[], [number, number, number, number]][]) {
      const input = tf.randomNormal(x, 0, 1, 'float32', 3);
      const dz = tf.randomNormal([...x.slice(0, 3), filter[3]], 0, 1, 'float32', 4);
      const kernel = tf
        .engine()
        .runKernel('Conv2DBackpropFilter', { x: input, dy: dz }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: filter });
      const { dW, db } = im2colGrads(tf, input, dz, filter);
      expect(dW.shape).toEqual(filter);
      const [ours, theirs] = [dW.dataSync(), (kernel as typeof dW).dataSync()];
      ours.forEach((v, i) => expect(Math.abs(v - (theirs[i] as number))).toBeLessThan(1e-4 + 1e-5 * Math.abs(theirs[i] as number)));
      const sum = tf.sum(dz, [0, 1, 2]).dataSync();
      expect(db.shape).toEqual([filter[3]]);
      db.dataSync().forEach((v, i) => expect(v).toBeCloseTo(sum[i] as number, 4));
      tf.dispose([input, dz, kernel as typeof dW, dW, db]);
    }
  });
});
