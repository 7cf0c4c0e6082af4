/** Shared pieces of the fault-injection tests: a stand-in trainer that can be held, model reading, audit queries, polling. */
import { decodeTensors, type NamedTensor } from '../../protocol/index.js';
import { loadModelFile } from '../../coordinator/models/index.js';
import type { Store } from '../../coordinator/index.js';
import type { CustomTrainer } from '../../node-agent/index.js';
import { expect } from 'vitest';
import type { Federation } from './helpers.js';

/** A trainer that adds `delta` to every weight, after `gate` (if any) resolves: a site whose update is known in advance. */
export function shiftTrainer(delta: number | ((round: number) => number), gate?: (round: number) => Promise<void>): CustomTrainer {
  return async ({ round, weights, samples }) => {
    await gate?.(round);
    const d = typeof delta === 'number' ? delta : delta(round);
    return {
      weights: weights.map((t) => ({ ...t, data: t.data.map((v) => v + d) })),
      trainSamples: samples,
      metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 1 },
    };
  };
}

/** A promise with its resolve function, to hold a trainer until the test lets it go. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The tensors of a published model version, read from its file (digest checked). */
export function modelTensors(store: Store, dataDir: string, federation: string, version: number): NamedTensor[] {
  const record = store.getModel(federation, version);
  if (!record) throw new Error(`no model v${version}`);
  return decodeTensors(loadModelFile(dataDir, record.path, record.digest)).tensors;
}

/** The mean shift of every weight between two models (FedAvg of shifted sites: their sample-weighted mean shift). */
export function meanShift(from: NamedTensor[], to: NamedTensor[]): number {
  let sum = 0;
  let n = 0;
  from.forEach((t, i) => {
    const u = (to[i] as NamedTensor).data;
    for (let j = 0; j < t.data.length; j++) sum += (u[j] as number) - (t.data[j] as number);
    n += t.data.length;
  });
  return sum / n;
}

/** Audit entries of one kind (and actor), oldest first. */
export function auditsOf(store: Store, federation: string, kind: string, actor?: string) {
  return store.listAudit({ federationId: federation }).filter((e) => e.kind === kind && (actor === undefined || e.actor === actor));
}

/** Polls `check` every 50 ms until it returns a truthy value; rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Round 1 of a two-site federation whose sites shift every weight by 0.01 and −0.03: both updates accepted and counted once,
 * the published model moved by the sample-weighted mean of the shifts.
 */
export function expectCountedOnce(f: Federation): void {
  const { store } = f.coordinator;
  const parts = store.listParticipations('e2e', 1);
  expect(parts.map((p) => [p.institutionId, p.status])).toEqual([
    ['site-1', 'accepted'],
    ['site-2', 'accepted'],
  ]);
  const [n1, n2] = parts.map((p) => p.samples as number) as [number, number];
  expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 2, samples: n1 + n2 } });
  expect(auditsOf(store, 'e2e', 'update.accepted').map((e) => e.actor)).toEqual(['site-1', 'site-2']);
  const shift = meanShift(modelTensors(store, f.dir, 'e2e', 0), modelTensors(store, f.dir, 'e2e', 1));
  expect(shift).toBeCloseTo((0.01 * n1 - 0.03 * n2) / (n1 + n2), 5);
}
