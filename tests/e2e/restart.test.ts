import { afterEach, describe, expect, it } from 'vitest';
import { verifyAuditTable } from '../../coordinator/audit/index.js';
import type { Agent } from '../../node-agent/index.js';
import { startAgent, startFederation, type Federation } from './helpers.js';

let fed: Federation | undefined;
const agents: Agent[] = [];
afterEach(async () => {
  agents.splice(0).forEach((a) => a.close());
  await fed?.close();
  fed = undefined;
});

describe('a coordinator restarted on the same database', () => {
  it('keeps every published model and the audit chain, fails the interrupted round cleanly, and the agents reconnect by themselves to finish', async () => {
    fed = await startFederation(2, { rounds: 3, minParticipants: 2, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } }, 'logreg', 150);
    const f = fed;
    agents.push(startAgent(f, 0), startAgent(f, 1));
    const firstPublished = new Promise<void>((resolve) => f.coordinator.runner.once('round:published', () => resolve()));
    await firstPublished;
    const before = f.coordinator.store.getModel('e2e', 1)!;

    await f.restart();
    const done = await Promise.all(agents.map((a) => a.done));

    const { store } = f.coordinator;
    expect(done[0]).toMatchObject({ rounds: 3 });
    expect(store.getModel('e2e', 1)).toEqual(before);
    const rounds = store.listRounds('e2e');
    expect(rounds.filter((r) => r.state === 'published')).toHaveLength(3);
    expect(rounds.filter((r) => r.state !== 'published').every((r) => r.state === 'failed' && r.reason === 'coordinator restarted during the round')).toBe(true);
    expect(store.listModels('e2e').map((m) => m.version)).toEqual([0, 1, 2, 3]);
    expect(verifyAuditTable(store, f.coordinatorIdentity.signPublicKey)).toMatchObject({ ok: true });
  });
});
