/** Fuzzed model updates in a live round: each hostile site's update is refused with its code and audited, and the published model is exactly the honest sites' FedAvg. */
import fc from 'fast-check';
import { afterAll, describe, expect } from 'vitest';
import { UpdateMetaSchema, encodeTensors, type NamedTensor, type RoundTask } from '../../protocol/index.js';
import { generateIdentity, sealEnvelope, type Identity } from '../../crypto/index.js';
import { startCustomFederation } from '../e2e/custom-federation.js';
import { e2e } from '../e2e/helpers.js';
import { joinAs, sealUpdate, taskWeights, until, type AckResult, type RawClient } from '../e2e/raw-client.js';
import { FUZZ_SEED, KNOWN_CODES, mutated, reportFuzz, runs } from './fuzz-report.js';

const counts: Record<string, number> = {};
const count = (name: string): void => void (counts[name] = (counts[name] ?? 0) + 1);

afterAll(() => reportFuzz('updates', counts));

const DECLARED = 300;
type Attack =
  | { kind: 'meta'; meta: unknown }
  | { kind: 'samples'; samples: number }
  | { kind: 'non-finite'; tensor: number; at: number; value: number }
  | { kind: 'shape'; shape: number[] }
  | { kind: 'context'; what: 'round' | 'federation' | 'signer' | 'recipient' | 'base' }
  | { kind: 'bytes'; at: number; flip: number; truncate: boolean };

const baseMeta = {
  kind: 'weights',
  federation: 'e2e',
  round: 1,
  institution: 'site-x',
  baseVersion: 0,
  samples: 100,
  metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 3 },
};
/** A meta edit that must be refused: the schema fails, or a bound field (federation, round, institution, base, samples) is wrong. */
const harmful = (m: unknown): boolean => {
  const parsed = UpdateMetaSchema.safeParse(m);
  if (!parsed.success) return true;
  const d = parsed.data;
  return d.federation !== 'e2e' || d.round !== 1 || d.institution !== 'site-x' || d.baseVersion !== 0 || d.samples > DECLARED;
};
const attackArb: fc.Arbitrary<Attack> = fc.oneof(
  mutated(baseMeta)
    .filter((m) => m !== null && typeof m === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(m)) && harmful(m))
    .map((meta) => ({ kind: 'meta' as const, meta })),
  fc
    .oneof(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: DECLARED + 1, max: 2 ** 40 }), fc.constantFrom(2.5, 1e13, -0.5))
    .map((samples) => ({ kind: 'samples' as const, samples })),
  fc
    .record({ tensor: fc.constantFrom(0, 1), at: fc.nat({ max: 9 }), value: fc.constantFrom(Number.NaN, Infinity, -Infinity) })
    .map((a) => ({ kind: 'non-finite' as const, ...a })),
  fc
    .array(fc.integer({ min: 0, max: 12 }), { minLength: 0, maxLength: 3 })
    .filter((s) => s.join() !== '10')
    .map((shape) => ({ kind: 'shape' as const, shape })),
  fc.constantFrom('round', 'federation', 'signer', 'recipient', 'base').map((what) => ({ kind: 'context' as const, what }) as Attack),
  fc
    .record({ at: fc.nat({ max: 30_000 }), flip: fc.integer({ min: 1, max: 255 }), truncate: fc.boolean() })
    .map((a) => ({ kind: 'bytes' as const, ...a })),
);
const EXPECTED: Record<Attack['kind'], string[]> = {
  meta: ['BAD_REQUEST', 'BAD_SAMPLE_COUNT', 'WRONG_FEDERATION', 'WRONG_ROUND'],
  samples: ['BAD_SAMPLE_COUNT'],
  'non-finite': ['NON_FINITE'],
  shape: ['SHAPE_MISMATCH'],
  context: ['WRONG_ROUND', 'WRONG_FEDERATION', 'BAD_SIGNATURE', 'DECRYPT_FAILED'],
  bytes: ['CORRUPT_PAYLOAD', 'BAD_SIGNATURE', 'DECRYPT_FAILED', 'WRONG_FEDERATION', 'WRONG_ROUND', 'BAD_REQUEST'],
};

const shifted = (tensors: NamedTensor[], by: number): NamedTensor[] => tensors.map((t) => ({ ...t, data: t.data.map((v) => v + by) }));

/** The envelope a hostile site sends for `attack`. */
function build(attack: Attack, me: Identity, task: RoundTask, box: Uint8Array, stranger: Identity): Uint8Array {
  const parts = { identity: me, coordinatorBoxPublicKey: box, task, meta: { samples: 100 } as Record<string, unknown> };
  switch (attack.kind) {
    case 'meta': {
      // The whole meta as generated (sealUpdate would fill deleted fields back in from its defaults).
      const m = attack.meta as Record<string, unknown>;
      const meta = m.institution === 'site-x' ? { ...m, institution: me.id } : m;
      return sealEnvelope({
        payload: encodeTensors(taskWeights(task), meta),
        context: { federation: 'e2e', round: 1, institution: me.id },
        recipientBoxPublicKey: box,
        senderSignSecretKey: me.signSecretKey,
      });
    }
    case 'samples':
      return sealUpdate({ ...parts, meta: { samples: attack.samples } });
    case 'non-finite': {
      const t = taskWeights(task);
      (t[attack.tensor] as NamedTensor).data[attack.at] = attack.value;
      return sealUpdate({ ...parts, tensors: t });
    }
    case 'shape': {
      const t = taskWeights(task);
      t[1] = { name: (t[1] as NamedTensor).name, shape: attack.shape, data: new Float32Array(attack.shape.reduce((a, b) => a * b, 1)) };
      return sealUpdate({ ...parts, tensors: t });
    }
    case 'context':
      return attack.what === 'round'
        ? sealUpdate({ ...parts, context: { round: 2 } })
        : attack.what === 'federation'
          ? sealUpdate({ ...parts, context: { federation: 'elsewhere' } })
          : attack.what === 'signer'
            ? sealUpdate({ ...parts, signSecretKey: stranger.signSecretKey })
            : attack.what === 'recipient'
              ? sealUpdate({ ...parts, coordinatorBoxPublicKey: stranger.boxPublicKey })
              : sealUpdate({ ...parts, meta: { samples: 100, baseVersion: 5 } });
    case 'bytes': {
      const bytes = sealUpdate(parts);
      const at = attack.at % bytes.length;
      // Below 64 bytes an upload has no tail and is refused at update:begin, before it counts (tests/protocol/chunks.test.ts).
      if (attack.truncate) return bytes.slice(0, Math.max(64, at));
      bytes[at] = (bytes[at] as number) ^ attack.flip;
      return bytes;
    }
  }
}

describe('fuzzed updates in a live round', () => {
  e2e(
    'refuses every hostile update with a coded, audited refusal, and publishes exactly the FedAvg of the honest ones',
    async ({ cohort }) => {
      const hostile = runs(20);
      const f = cohort.track(await startCustomFederation(hostile + 2, { rules: { rounds: 1, minParticipants: 2 } }));
      const box = f.coordinatorIdentity.boxPublicKey;
      const sites = await Promise.all(f.institutions.map((id) => joinAs(f.coordinator.url, 'e2e', id, DECLARED)));
      sites.forEach(cohort.track);
      const tasks = await Promise.all(sites.map((c) => c.nextTask()));
      const { maxUploadBytes } = await (sites[0] as RawClient).welcome;
      const attacks = fc.sample(attackArb, { seed: FUZZ_SEED, numRuns: hostile });
      const stranger = generateIdentity('stranger');
      const [honestA, honestB] = [hostile, hostile + 1];
      const honestTask = tasks[honestA] as RoundTask;

      const attempt = async (
        i: number,
      ): Promise<{ before: AckResult[]; main: { step: string; ack: AckResult }; after: { step: string; ack: AckResult } }> => {
        const c = sites[i] as RawClient;
        const me = f.institutions[i] as Identity;
        const env = build(attacks[i] as Attack, me, tasks[i] as RoundTask, box, stranger);
        // Before the real attempt: refusals that must not use up the site's one submission.
        const before = [
          (await c.upload(7, env)).ack,
          (await c.upload(1, env, { totalBytes: maxUploadBytes + 1 })).ack,
          (await c.upload(1, env, { tail: '0'.repeat(128) })).ack,
        ];
        const main = await c.upload(1, env);
        const after = await c.upload(1, sealUpdate({ identity: me, coordinatorBoxPublicKey: box, task: tasks[i] as RoundTask }));
        return { before, main, after };
      };
      const [results, a, b] = await Promise.all([
        Promise.all(attacks.map((_, i) => attempt(i))),
        (sites[honestA] as RawClient).upload(
          1,
          sealUpdate({
            identity: f.institutions[honestA] as Identity,
            coordinatorBoxPublicKey: box,
            task: honestTask,
            tensors: shifted(taskWeights(honestTask), 0.01),
            meta: { samples: 100 },
          }),
        ),
        (sites[honestB] as RawClient).upload(
          1,
          sealUpdate({
            identity: f.institutions[honestB] as Identity,
            coordinatorBoxPublicKey: box,
            task: tasks[honestB] as RoundTask,
            tensors: shifted(taskWeights(honestTask), -0.02),
            meta: { samples: 300 },
          }),
        ),
      ]);
      await until(() => f.coordinator.store.getRound('e2e', 1)?.state === 'published', 20_000, 'round 1 published');

      const { store } = f.coordinator;
      results.forEach((r, i) => {
        const attack = attacks[i] as Attack;
        count(`update:${attack.kind}`);
        for (let k = 0; k < 5; k++) count('pre-commit and duplicate');
        const what = `site-${i + 1} ${JSON.stringify(attack).slice(0, 300)}`;
        expect(
          r.before.map((x) => (x.ok ? 'ok' : x.error.code)),
          what,
        ).toEqual(['WRONG_ROUND', 'PAYLOAD_TOO_LARGE', 'CORRUPT_PAYLOAD']);
        expect(r.main.ack.ok, what).toBe(false);
        const code = (r.main.ack as { error: { code: string } }).error.code;
        expect(KNOWN_CODES.has(code)).toBe(true);
        expect(EXPECTED[attack.kind], `${what}: ${code}`).toContain(code);
        expect(store.getParticipation('e2e', 1, `site-${i + 1}`), what).toMatchObject({ status: 'refused', code });
        expect(
          store
            .listAudit({ federationId: 'e2e' })
            .filter((e) => e.kind === 'update.refused' && e.actor === `site-${i + 1}`)
            .map((e) => e.data.code),
        ).toEqual([code]);
        expect(r.after.ack.ok).toBe(false); // one submission per round: the honest retry is too late
        expect(['DUPLICATE', 'ROUND_CLOSED']).toContain((r.after.ack as { error: { code: string } }).error.code);
      });
      expect([a.ack.ok, b.ack.ok]).toEqual([true, true]);
      expect(store.getRound('e2e', 1)).toMatchObject({ state: 'published', metrics: { participants: 2, samples: 400 } });
      // FedAvg of the two honest updates: w + (100 * 0.01 + 300 * -0.02) / 400 = w - 0.0125, whatever the others sent.
      const published = f.coordinator.runner.currentModel!.tensors;
      const expected = shifted(taskWeights(honestTask), -0.0125);
      let worst = 0;
      published.forEach((t, ti) =>
        t.data.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - (expected[ti] as NamedTensor).data[j]!)))),
      );
      expect(worst).toBeLessThan(1e-5);
    },
  );
});
