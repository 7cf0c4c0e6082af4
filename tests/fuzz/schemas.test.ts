/** Fuzzing every wire schema, the update envelope and the update intake: wrong shapes and types get a coded refusal, never a throw from the wrong place. */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as protocol from '../../protocol/index.js';
import { CohortError, encodeTensors, tensorLayout, type ModelSpec, type NamedTensor } from '../../protocol/index.js';
import {
  generateIdentity,
  openEnvelope,
  peekEnvelope,
  sealEnvelope,
  signConsent,
  signChallenge,
  verifyChallenge,
  verifyConsent,
  toBase64,
} from '../../crypto/index.js';
import { intakeUpdate } from '../../coordinator/rounds/update-intake.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { FUZZ_SEED, KNOWN_CODES, mutated, reportFuzz, runs, weirdValue } from './fuzz-report.js';

const counts: Record<string, number> = {};
const count = (name: string): void => void (counts[name] = (counts[name] ?? 0) + 1);
afterAll(() => reportFuzz('schemas', counts));
const opts = { seed: FUZZ_SEED };

/** Every zod schema the protocol exports (so one added later is fuzzed too). */
const schemas = Object.entries(protocol as Record<string, unknown>).filter((e): e is [string, z.ZodType] => e[1] instanceof z.ZodType);

const site = generateIdentity('site-1');
const coordinator = generateIdentity('coordinator');
const consent = signConsent(
  {
    format: 'cohort-consent/v1',
    institution: 'site-1',
    federation: 'e2e',
    manifestHash: 'a'.repeat(64),
    uses: ['training'],
    ethicsApproval: { reference: 'IRB-1', expires: '2099-01-01' },
    dataCategories: ['x'],
    dataResidency: 'EU',
    limits: { requireSecureAggregation: false, minOtherInstitutions: 0 },
    grantedAt: new Date(0).toISOString(),
  },
  site.signSecretKey,
);
/** A valid example of each inbound message, mutated field by field below. */
const valid: Record<string, unknown> = {
  ConnectAuthSchema: { protocolVersion: 1, federation: 'e2e', institution: 'site-1', nonce: toBase64(new Uint8Array(32)) },
  AuthResponseSchema: { signature: toBase64(new Uint8Array(64)) },
  ReadySchema: { samples: 100, backend: 'wasm', featureStats: { count: 3, mean: [0, 1], m2: [1, 2] }, consent },
  UploadBeginSchema: { round: 1, uploadId: 'abcdefgh12', totalBytes: 1000, chunkBytes: 500, tail: 'a'.repeat(128) },
  UploadChunkSchema: { uploadId: 'abcdefgh12', index: 0, data: new Uint8Array(8) },
  UploadCommitSchema: { uploadId: 'abcdefgh12' },
  DeclineSchema: { round: 1, code: 'CONSENT_EXPIRED', message: 'expired' },
  EvaluationReportSchema: { round: 1, valLoss: 0.5, valAccuracy: 0.9, valSamples: 10 },
  UpdateMetaSchema: {
    kind: 'weights',
    federation: 'e2e',
    round: 1,
    institution: 'site-1',
    baseVersion: 0,
    samples: 10,
    metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 3 },
  },
  SignedConsentSchema: consent,
};

describe('every protocol schema under fuzzing', () => {
  it(`parses anything without throwing, and refuses what is not its shape (${schemas.length} schemas)`, () => {
    expect(schemas.length).toBeGreaterThan(15);
    for (const [name, schema] of schemas) {
      const example = valid[name];
      if (example !== undefined) expect(schema.safeParse(example).success, `${name} accepts its valid example`).toBe(true);
      const input = example === undefined ? weirdValue : mutated(example);
      fc.assert(
        fc.property(input, (value) => {
          count(`schema:${name}`);
          const res = schema.safeParse(value);
          if (!res.success) expect(res.error.issues.length).toBeGreaterThan(0);
        }),
        { ...opts, numRuns: runs(example === undefined ? 60 : 250) },
      );
    }
  });

  it('verifies no consent whose signed body was changed, and no challenge signature that is not the right one', () => {
    fc.assert(
      fc.property(mutated(consent.body), fc.uint8Array({ minLength: 0, maxLength: 80 }), (body, sig) => {
        count('consent-and-challenge');
        const parsed = protocol.SignedConsentSchema.safeParse({ body, signature: consent.signature });
        if (parsed.success && JSON.stringify(parsed.data.body) !== JSON.stringify(consent.body))
          expect(verifyConsent(parsed.data, site.signPublicKey)).toBe(false);
        const p = {
          federation: 'e2e',
          institution: 'site-1',
          challenge: new Uint8Array(32),
          coordinatorSignPublicKey: coordinator.signPublicKey,
        };
        expect(verifyChallenge(p, sig, site.signPublicKey)).toBe(false);
        expect(verifyChallenge(p, signChallenge(p, site.signSecretKey), site.signPublicKey)).toBe(true);
      }),
      { ...opts, numRuns: runs(300) },
    );
  });
});

const spec: ModelSpec = mnistSpec('logreg');
const layout = tensorLayout(spec);
const honestTensors = (): NamedTensor[] =>
  layout.map((l) => ({ name: l.name, shape: [...l.shape], data: new Float32Array(l.shape.reduce((a, b) => a * b, 1)).fill(0.01) }));
const meta = valid.UpdateMetaSchema as Record<string, unknown>;
const context = { federation: 'e2e', round: 1, institution: 'site-1' };
const intakeCtx = { ...context, baseVersion: 0, spec, coordinator, institutionSignPublicKey: site.signPublicKey, maxPayloadBytes: 1 << 20 };
const seal = (payload: Uint8Array, ctx = context, signer = site.signSecretKey) =>
  sealEnvelope({ payload, context: ctx, recipientBoxPublicKey: coordinator.boxPublicKey, senderSignSecretKey: signer });

describe('update envelopes and intake under fuzzing', () => {
  const honest = seal(encodeTensors(honestTensors(), meta));

  it('openEnvelope and peekEnvelope answer any damaged envelope without throwing, with a known reason', () => {
    const damaged = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: honest.length - 1 }).map((n) => honest.slice(0, n)),
      fc.tuple(fc.integer({ min: 0, max: honest.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const copy = honest.slice();
        copy[i] = (copy[i] as number) ^ x;
        return copy;
      }),
    );
    fc.assert(
      fc.property(damaged, (bytes) => {
        count('envelope-damaged');
        peekEnvelope(bytes);
        const opened = openEnvelope(bytes, {
          recipientBoxSecretKey: coordinator.boxSecretKey,
          senderSignPublicKey: site.signPublicKey,
          expected: context,
        });
        expect(opened.ok).toBe(false);
        if (!opened.ok) expect(['MALFORMED', 'BAD_SIGNATURE', 'WRONG_CONTEXT', 'DECRYPT_FAILED']).toContain(opened.reason);
      }),
      { ...opts, numRuns: runs(600) },
    );
  });

  it('intakeUpdate refuses wrong metadata, sample counts, rounds, federations, shapes, dtypes and NaN/Infinity with the right code', () => {
    const other = generateIdentity('site-2');
    const attack = fc.oneof(
      mutated(meta).map((m) => ({ kind: 'meta' as const, meta: m })),
      fc
        .oneof(fc.integer({ min: -5, max: 0 }), fc.constantFrom(1e13, 2.5, -1e12, Number.NaN))
        .map((samples) => ({ kind: 'samples' as const, meta: { ...meta, samples } })),
      fc
        .tuple(fc.integer({ min: 0, max: 7839 }), fc.constantFrom(Number.NaN, Infinity, -Infinity))
        .map(([i, v]) => ({ kind: 'non-finite' as const, at: i, value: v })),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 3 }).map((shape) => ({ kind: 'shape' as const, shape })),
      fc.constantFrom('round', 'federation', 'signer', 'base').map((what) => ({ kind: 'context' as const, what })),
    );
    const expected: Record<string, string[]> = {
      meta: ['BAD_REQUEST', 'BAD_SAMPLE_COUNT', 'WRONG_FEDERATION', 'WRONG_ROUND', 'CORRUPT_PAYLOAD'],
      samples: ['BAD_SAMPLE_COUNT'],
      'non-finite': ['NON_FINITE'],
      shape: ['SHAPE_MISMATCH'],
      context: ['WRONG_ROUND', 'WRONG_FEDERATION', 'BAD_SIGNATURE'],
    };
    fc.assert(
      fc.property(attack, (a) => {
        count(`intake:${a.kind}`);
        let envelope: Uint8Array;
        if (a.kind === 'meta' || a.kind === 'samples') {
          let payload: Uint8Array;
          try {
            payload = encodeTensors(honestTensors(), a.meta as Record<string, unknown>);
          } catch (err) {
            expect(err).toBeInstanceOf(CohortError); // meta that is not an object or not JSON cannot be encoded at all
            return;
          }
          envelope = seal(payload);
        } else if (a.kind === 'non-finite') {
          const t = honestTensors();
          (t[0] as NamedTensor).data[a.at] = a.value;
          envelope = seal(encodeTensors(t, meta));
        } else if (a.kind === 'shape') {
          const t = honestTensors();
          t[1] = { name: (t[1] as NamedTensor).name, shape: a.shape, data: new Float32Array(a.shape.reduce((x, y) => x * y, 1)) };
          envelope = seal(encodeTensors(t, meta));
        } else {
          const payload = encodeTensors(honestTensors(), a.what === 'base' ? { ...meta, baseVersion: 3 } : meta);
          envelope =
            a.what === 'round'
              ? seal(payload, { ...context, round: 2 })
              : a.what === 'federation'
                ? seal(payload, { ...context, federation: 'other' })
                : a.what === 'signer'
                  ? seal(payload, context, other.signSecretKey)
                  : seal(payload);
        }
        let refused: CohortError | undefined;
        try {
          intakeUpdate(envelope, intakeCtx);
        } catch (err) {
          if (!(err instanceof CohortError)) throw new Error(`intake threw ${String(err)}`, { cause: err });
          refused = err;
        }
        if (a.kind === 'meta' && refused === undefined) {
          expect(protocol.UpdateMetaSchema.safeParse(a.meta).success).toBe(true); // a harmless edit (e.g. an extra key) passes
          return;
        }
        expect(refused, `${a.kind} accepted`).toBeDefined();
        expect(KNOWN_CODES.has(refused!.code)).toBe(true);
        expect(expected[a.kind]).toContain(refused!.code);
        expect(refused!.message.length).toBeLessThan(2_000);
      }),
      { ...opts, numRuns: runs(400) },
    );
  });
});
