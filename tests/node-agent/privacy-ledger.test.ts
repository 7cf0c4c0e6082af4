import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dp } from '../../crypto/index.js';
import { ConsentRefusal, DpRefusal, type RoundTask } from '../../protocol/index.js';
import { checkDpTerms, siteNoiseStd } from '../../node-agent/mods/dp-terms.js';
import { budgetVerdict, chargeLedger, ledgerPath, ledgerSpent, readLedger, type LedgerEntry } from '../../node-agent/privacy-ledger.js';
import { dpTerms, study } from '../coordinator/policy/fixtures.js';

const honest = {
  ...dpTerms(0),
  epsilon: Math.ceil(dp.epsilonFor({ q: 1, noiseMultiplier: 1, steps: 10, delta: 1e-5 }).epsilon * 1e6) / 1e6,
};
const task = (over: { epsilon?: number; dpClipNorm?: number; secagg?: Partial<NonNullable<RoundTask['secagg']>> } = {}) =>
  ({
    study: study({
      rounds: 10,
      privacy: { secureAggregation: over.secagg !== undefined, dp: { ...honest, ...(over.epsilon ? { epsilon: over.epsilon } : {}) } },
    }),
    config: {
      localEpochs: 1,
      batchSize: 10,
      learningRate: 0.1,
      ...('dpClipNorm' in over ? (over.dpClipNorm === undefined ? {} : { dpClipNorm: over.dpClipNorm }) : { dpClipNorm: 1 }),
    },
    secagg: over.secagg
      ? ({ threshold: 3, noiseStd: siteNoiseStd(honest, 3), dpClipNorm: 1, ...over.secagg } as RoundTask['secagg'])
      : undefined,
  }) as Pick<RoundTask, 'study' | 'config' | 'secagg'>;
const entry = (round: number): LedgerEntry => ({
  round,
  federation: 'trial',
  manifestHash: 'a'.repeat(64),
  noiseMultiplier: 1,
  samplingRate: 1,
  delta: 1e-5,
  budget: honest.epsilon,
  at: new Date().toISOString(),
});

describe('the study DP terms at the site', () => {
  it('accepts the terms the coordinator derives from the manifest', () => {
    expect(checkDpTerms(task())).toEqual({ ok: true });
    expect(checkDpTerms(task({ secagg: {} }))).toEqual({ ok: true });
  });

  it.each([
    ['a coordinator that asks for no distributed noise (noiseStd 0)', task({ secagg: { noiseStd: 0 } }), DpRefusal.TERMS, /noise std 0/],
    ['half the noise the terms give', task({ secagg: { noiseStd: siteNoiseStd(honest, 3) / 2 } }), DpRefusal.TERMS, /noise std/],
    ['a larger clip norm under secure aggregation', task({ dpClipNorm: 5, secagg: { dpClipNorm: 5 } }), DpRefusal.TERMS, /clips to 5/],
    ['no clip norm at all', task({ dpClipNorm: undefined }), DpRefusal.TERMS, /unclipped/],
    ['a manifest that states less epsilon than its terms spend', task({ epsilon: honest.epsilon / 2 }), DpRefusal.BUDGET_CLAIM, /spend/],
  ] as const)('refuses %s', (_name, t, code, message) => {
    expect(checkDpTerms(t)).toMatchObject({ ok: false, code, message: expect.stringMatching(message) });
  });
});

describe("the site's privacy ledger", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cohort-ledger-'));

  it('composes its charges by RDP, as the accountant does for the same number of rounds', () => {
    const path = ledgerPath(join(dir, 'consent.json'));
    for (let r = 1; r <= 4; r++) chargeLedger(path, entry(r));

    const entries = readLedger(path);

    expect(path).toBe(join(dir, 'consent.ledger.json'));
    expect(entries.map((e) => e.round)).toEqual([1, 2, 3, 4]);
    expect(ledgerSpent(entries, 1e-5)).toBeCloseTo(dp.epsilonFor({ q: 1, noiseMultiplier: 1, steps: 4, delta: 1e-5 }).epsilon, 9);
  });

  it('allows the study its rounds and refuses the contribution that would go past the budget', () => {
    const ten = Array.from({ length: 10 }, (_, i) => entry(i + 1));

    expect(budgetVerdict(ten.slice(0, 9), entry(10))).toMatchObject({ ok: true });
    expect(budgetVerdict(ten, entry(11))).toMatchObject({
      ok: false,
      code: ConsentRefusal.EPSILON,
      message: expect.stringMatching(/10 contributions spent epsilon/),
    });
  });

  it('fails closed on a ledger it cannot read', () => {
    const path = join(dir, 'broken.ledger.json');
    writeFileSync(path, '{"format":"cohort-privacy-ledger/v1","entries":[{"round":"x"}]}');

    expect(() => readLedger(path)).toThrow();
  });
});
