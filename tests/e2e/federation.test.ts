import { describe, expect } from 'vitest';
import { decodeTensors } from '../../protocol/index.js';
import { evaluate, selectBackend } from '../../node-agent/train/index.js';
import { loadMnist, mnistSpec, selectRows } from '../../node-agent/data/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import { e2e } from './helpers.js';

describe('a federation end to end', () => {
  e2e('trains 3 real agents over real sockets for 2 rounds, improving on the initial model, and records it all', async ({ cohort }) => {
    const fed = await cohort.federation(3);
    const agents = [0, 1, 2].map((i) => cohort.agent(fed, i));
    const done = await Promise.all(agents.map((a) => a.done));
    agents.forEach((a) => a.close());

    expect(done[0]).toEqual({ rounds: 2, finalVersion: 2 });
    const { store, federation } = fed.coordinator;
    const rounds = store.listRounds(federation);
    expect(rounds.map((r) => [r.round, r.state, r.resultVersion])).toEqual([
      [1, 'published', 1],
      [2, 'published', 2],
    ]);
    const parts = store.listParticipations(federation);
    expect(parts).toHaveLength(6);
    expect(parts.map((p) => p.status)).toEqual(Array(6).fill('accepted'));
    // Each site trains on its 300 rows less the ~10% it keeps aside (stratified per class) for validation.
    expect(parts.every((p) => p.samples! >= 260 && p.samples! <= 280 && /^[0-9a-f]{64}$/.test(p.digest ?? ''))).toBe(true);

    const { tf } = await selectBackend('wasm');
    const mnist = loadMnist();
    const test = selectRows(mnist, fed.test);
    const accuracyOf = async (version: number) => {
      const model = store.getModel(federation, version)!;
      const weights = decodeTensors(loadModelFile(fed.dir, model.path, model.digest)).tensors;
      return (await evaluate({ tf, spec: mnistSpec('logreg'), weights, data: test })).accuracy;
    };
    const initial = await accuracyOf(0);
    const final = await accuracyOf(2);
    expect(final).toBeGreaterThan(0.8);
    expect(final).toBeGreaterThan(initial + 0.4);
  });
});
