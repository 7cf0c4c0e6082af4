/** Update compression through the real coordinator and agents: each mode trains, a hostile site's malformed payloads are refused, secure aggregation refuses it. */
import { describe, expect } from 'vitest';
import {
  compressTensors,
  encodeCompressedFrame,
  encodeTensors,
  parameterCount,
  type CompressedTensor,
  type RoundTask,
} from '../../protocol/index.js';
import { createPrng, sealEnvelope, type Identity } from '../../crypto/index.js';
import { e2e, grantConsent, startFederation, type Federation } from './helpers.js';
import { joinAs, taskWeights } from './raw-client.js';

const train = { localEpochs: 1, batchSize: 20, learningRate: 0.1 };
const audits = (fed: Federation, kind: string) => fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === kind);

/** A sealed update whose payload is whatever the test built (a compressed frame, well formed or not). */
function sealPayload(fed: Federation, site: Identity, task: RoundTask, payload: (meta: Record<string, unknown>) => Uint8Array) {
  const meta = {
    kind: 'weights',
    federation: task.federation,
    round: task.round,
    institution: site.id,
    baseVersion: task.model.version,
    samples: 100,
    metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 10 },
  };
  return sealEnvelope({
    payload: payload(meta),
    context: { federation: task.federation, round: task.round, institution: site.id },
    recipientBoxPublicKey: fed.coordinatorIdentity.boxPublicKey,
    senderSignSecretKey: site.signSecretKey,
  });
}

/** A small, well-formed compressed delta for the task's model, to be spoiled by the test. */
function smallDelta(task: RoundTask, compression: Parameters<typeof compressTensors>[1]): CompressedTensor[] {
  const rng = createPrng(3);
  const deltas = taskWeights(task).map((t) => ({ ...t, data: t.data.map(() => 0.001 * rng.normal()) }));
  return compressTensors(deltas, compression, rng.next);
}

describe('update compression', () => {
  e2e.for(['fp16', 'int8', 'topk:0.2'])(
    'a federation compressing with %s trains (sites measure the aggregate above 0.6) on fewer upload bytes than float32',
    async (compress, { cohort }) => {
      const fed = await cohort.federation(2, { rounds: 3, train: { ...train, compress } }, 'logreg', 300);
      cohort.agent(fed, 0);
      cohort.agent(fed, 1);
      await Promise.all(cohort.agents.map((a) => a.done));

      const { store } = fed.coordinator;
      expect(store.getFederation('e2e')!.manifest.training.compress).toBe(compress);
      const last = store.getRound('e2e', 3)!;
      expect(last.state).toBe('published');
      expect(last.metrics?.siteValAccuracyMedian).toBeGreaterThan(0.6); // chance: 0.1
      const float32 = 4 * parameterCount(store.getFederation('e2e')!.spec);
      const share = { fp16: 0.55, int8: 0.3, 'topk:0.2': 0.45 }[compress]!;
      for (const p of store.listParticipations('e2e').filter((p) => p.status === 'accepted'))
        expect(p.bytes, `${p.institutionId} round ${p.round}`).toBeLessThan(share * float32);
    },
  );

  e2e(
    'refuses malformed int8 and top-k payloads with BAD_COMPRESSION (a NaN scale, a plain frame, an index out of range, a repeated index, a wrong count), audits each and publishes the honest site',
    async ({ cohort }) => {
      for (const [compress, spoils] of [
        [
          'int8',
          [
            (c: CompressedTensor[]) => c.map((t, i) => (i === 0 ? { ...t, scale: Number.NaN } : t)),
            (c: CompressedTensor[]) => c.slice(0, 0), // replaced below by a plain float32 frame
          ],
        ],
        [
          'topk:0.1',
          [
            (c: CompressedTensor[]) =>
              c.map((t, i) => (i === 0 && 'indices' in t ? { ...t, indices: t.indices.map((x, j) => (j === 2 ? 7850 : x)) } : t)),
            (c: CompressedTensor[]) =>
              c.map((t, i) => (i === 0 && 'indices' in t ? { ...t, indices: t.indices.map((x, j) => (j === 2 ? t.indices[1]! : x)) } : t)),
            (c: CompressedTensor[]) =>
              c.map((t, i) => (i === 0 && 'indices' in t ? { ...t, indices: t.indices.slice(1), values: t.values.slice(1) } : t)),
          ],
        ],
      ] as const) {
        const hostile = spoils.length;
        const fed = await cohort.federation(
          hostile + 1,
          { rounds: 1, minParticipants: 1, joinGraceMs: 10_000, train: { ...train, compress } },
          'logreg',
          200,
        );
        const raws = await Promise.all(fed.institutions.slice(1).map((site) => joinAs(fed.coordinator.url, 'e2e', site)));
        raws.forEach((raw) => cohort.track(raw));
        grantConsent(fed, 0, 0); // the honest site aggregates alone once the others are refused
        cohort.agent(fed, 0);
        const compression = compress === 'int8' ? ({ mode: 'int8' } as const) : ({ mode: 'topk', fraction: 0.1 } as const);
        const acks = await Promise.all(
          raws.map(async (raw, k) => {
            const task = await raw.nextTask();
            const site = fed.institutions[k + 1]!;
            const envelope = sealPayload(fed, site, task, (meta) => {
              const spoiled = spoils[k]!(smallDelta(task, compression));
              return spoiled.length === 0 ? encodeTensors(taskWeights(task), meta) : encodeCompressedFrame(spoiled, meta);
            });
            return (await raw.upload(task.round, envelope)).ack;
          }),
        );
        await Promise.all(cohort.agents.map((a) => a.done));

        for (const ack of acks) expect(ack).toMatchObject({ ok: false, error: { code: 'BAD_COMPRESSION' } });
        const refused = audits(fed, 'update.refused');
        expect(refused.map((e) => e.data.code)).toEqual(Array(hostile).fill('BAD_COMPRESSION'));
        expect(audits(fed, 'update.accepted').map((e) => e.actor)).toEqual(['site-1']);
        expect(fed.coordinator.store.getRound('e2e', 1)!.state).toBe('published');
        cohort.agents.splice(0).forEach((a) => a.close());
      }
    },
  );

  e2e('a study that compresses under secure aggregation is refused at the start with COMPRESSION_UNSUPPORTED', async () => {
    for (const compress of ['fp16', 'int8', 'topk:0.1']) {
      await expect(
        startFederation(3, { rounds: 1, secagg: { graph: 'complete', clipNorm: 10 }, train: { ...train, compress } }),
      ).rejects.toMatchObject({ code: 'COMPRESSION_UNSUPPORTED', message: expect.stringMatching(/secure aggregation/) });
    }
  });
});
