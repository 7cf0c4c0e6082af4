/**
 * A publication that fails half-way (the model file written, the version row inserted, then the transaction rolls back):
 * the round fails, and the next round builds on the last stored version, not on the one that was never stored.
 */
import { describe, expect } from 'vitest';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import type { Store } from '../../coordinator/index.js';
import type { Identity } from '../../crypto/index.js';
import { e2e } from './helpers.js';
import { joinAs, sealUpdate, until } from './raw-client.js';

/** Makes the real store's next `model.published` audit entry throw, as a full disk would inside the publication's transaction. */
function failNextPublication(store: Store): void {
  const real = store.appendAudit.bind(store);
  let armed = true;
  store.appendAudit = (entry) => {
    if (armed && entry.kind === 'model.published') {
      armed = false;
      throw new Error('disk full (injected)');
    }
    return real(entry);
  };
}

describe('a publication that fails', () => {
  e2e(
    'fails the round, keeps the last stored version current, and the next round trains on it and publishes its child',
    async ({ cohort }) => {
      const f = await cohort.federation(2, { rounds: 2, minParticipants: 2, joinGraceMs: 0 });
      const sites = await Promise.all(f.institutions.map((identity: Identity) => joinAs(f.coordinator.url, 'e2e', identity)));
      sites.forEach((c) => cohort.track(c));
      const box = f.coordinatorIdentity.boxPublicKey;
      const submit = async (round: number) => {
        const tasks = await Promise.all(sites.map((s) => s.nextTask()));
        for (const [i, s] of sites.entries()) {
          const { ack } = await s.upload(
            round,
            sealUpdate({ identity: f.institutions[i] as Identity, coordinatorBoxPublicKey: box, task: tasks[i]! }),
          );
          expect(ack.ok).toBe(true);
        }
        return tasks;
      };
      failNextPublication(f.coordinator.store);

      await submit(1);
      await until(() => f.coordinator.store.getRound('e2e', 1)?.state === 'failed', 10_000, 'round 1 failed');
      const second = await submit(2);
      await until(() => f.coordinator.store.getRound('e2e', 2)?.state === 'published', 10_000, 'round 2 published');

      const { store } = f.coordinator;
      expect(store.getRound('e2e', 1)?.reason).toMatch(/^publication failed: disk full \(injected\)/);
      expect(second.map((t) => t.model.version)).toEqual([0, 0]); // the stored base, not the unstored v1
      expect(store.getRound('e2e', 2)).toMatchObject({ baseVersion: 0, resultVersion: 1 });
      expect(store.listModels('e2e').map((m) => [m.version, m.parentVersion])).toEqual([
        [0, null],
        [1, 0],
      ]);
      expect(f.coordinator.runner.currentModel?.version).toBe(1);
      expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
    },
  );
});
