/** Fault: a published model's file is corrupted on disk; its digest gives it away, it is served to nobody, and it is audited. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { createApiToken } from '../../coordinator/auth/index.js';
import { e2e, startAgent } from './helpers.js';
import { auditsOf, latch, shiftTrainer, waitFor } from './faults-helpers.js';

describe('a published model whose file is corrupted on disk', () => {
  e2e(
    'is refused by the REST download and never sent to agents after a restart, both audited; restored from a backup, the federation resumes',
    async ({ cohort }) => {
      const f = await cohort.federation(
        2,
        { rounds: 2, minParticipants: 2, joinGraceMs: 20_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } },
        'logreg',
        60,
      );
      const hold = latch();
      cohort.agents.push(
        startAgent(f, 0, { valFraction: 0, trainer: shiftTrainer(0.01) }),
        startAgent(f, 1, { valFraction: 0, trainer: shiftTrainer(-0.03, (round) => (round === 2 ? hold.promise : Promise.resolve())) }),
      );
      const tasks: { round: number; version: number }[] = [];
      cohort.agents.forEach((a) => a.events.on('task', (t) => tasks.push(t)));
      await new Promise<void>((resolve) => f.coordinator.runner.on('round:started', ({ round }) => round === 2 && resolve()));
      const record = f.coordinator.store.getModel('e2e', 1)!;
      const file = join(f.dir, record.path);
      const original = readFileSync(file);
      const corrupt = Buffer.from(original);
      corrupt[200] = (corrupt[200] as number) ^ 0x01; // one bit of one weight
      const { token } = createApiToken(f.coordinator.store, { role: 'admin' }, 'test');
      const download = (version: number) =>
        fetch(`${f.coordinator.url}/api/federations/e2e/models/${version}/weights`, { headers: { authorization: `Bearer ${token}` } });

      writeFileSync(file, corrupt);
      const refused = await download(1);
      const intact = await download(0);
      await f.restart();
      const online = await waitFor(
        () => f.coordinator.runner.onlineInstitutions.length === 2 && f.coordinator.runner.onlineInstitutions,
        30_000,
        'both agents back',
      );
      const tasksWhileCorrupt = tasks.length;
      const roundsWhileCorrupt = f.coordinator.store.listRounds('e2e').map((r) => [r.round, r.state]);
      const activeWhileCorrupt = f.coordinator.runner.activeRound;
      writeFileSync(file, original);
      hold.open();
      await f.restart();
      const done = await Promise.all(cohort.agents.map((a) => a.done));

      expect(refused.status).toBe(500);
      expect(await refused.json()).toMatchObject({
        error: { code: 'CORRUPT_PAYLOAD', message: expect.stringMatching(/model v1 is not served: .*corrupt/) },
      });
      expect(intact.status).toBe(200);
      expect(online).toEqual(['site-1', 'site-2']);
      expect(tasksWhileCorrupt).toBe(4); // rounds 1 and 2, before the corruption; none carrying the corrupt file
      expect(activeWhileCorrupt).toBeUndefined();
      expect(roundsWhileCorrupt).toEqual([
        [1, 'published'],
        [2, 'failed'],
      ]);
      const { store } = f.coordinator;
      expect(auditsOf(store, 'e2e', 'model.corrupt').map((e) => [e.actor, e.data.version, e.data.digest])).toEqual([
        ['http', 1, record.digest],
        ['coordinator', 1, record.digest],
      ]);
      expect(done).toEqual([
        { rounds: 2, finalVersion: 2 },
        { rounds: 2, finalVersion: 2 },
      ]);
      expect(store.listRounds('e2e').map((r) => [r.round, r.state, r.baseVersion])).toEqual([
        [1, 'published', 0],
        [2, 'failed', 1],
        [3, 'published', 1],
      ]);
      expect(tasks.filter((t) => t.round === 3).map((t) => t.version)).toEqual([1, 1]);
    },
  );
});
