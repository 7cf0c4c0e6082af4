/** The coordinator serves predictions over its own HTTP port through the injected model runner, and closes that runner when it stops. */
import { describe, expect } from 'vitest';
import { createApiToken } from '../../coordinator/auth/index.js';
import { createModelRunner } from '../../node-agent/train/model-runner.js';
import { e2e } from './helpers.js';

describe('the coordinator and its model runner', () => {
  e2e(
    'predicts with the published model over HTTP, then closes the runner on shutdown; a later prediction starts a new worker',
    async ({ cohort }) => {
      const real = createModelRunner();
      let closes = 0;
      const runner = { predict: real.predict, close: async () => ((closes += 1), real.close()) };
      const fed = await cohort.federation(1, { rounds: 1 }, 'logreg', 50, undefined, { modelRunner: runner });
      await cohort.agent(fed, 0).done;
      const { token } = createApiToken(fed.coordinator.store, { role: 'admin' }, 'test');
      const pixels = Array.from({ length: 784 }, (_, i) => (i % 5) / 5);
      const predictV1 = () =>
        fetch(`${fed.coordinator.url}/api/federations/e2e/models/1/predict`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ rows: [{ pixels }] }),
        });

      const res = await predictV1();
      const body = (await res.json()) as { probabilities: number[][] };
      await fed.coordinator.shutdown('test over');
      const afterwards = await real.predict({
        key: 'again',
        spec: { arch: 'logreg', inputShape: [1], classes: ['a', 'b'] },
        tensors: [
          { name: 'dense_0/kernel', shape: [1, 2], data: new Float32Array(2) },
          { name: 'dense_0/bias', shape: [2], data: new Float32Array(2) },
        ],
        x: new Float32Array(1),
        rows: 1,
      });

      expect(res.status).toBe(200);
      expect(body.probabilities[0]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(closes).toBe(1);
      expect(Array.from(afterwards)).toEqual([0.5, 0.5]);
      await real.close();
    },
  );
});
