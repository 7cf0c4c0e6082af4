import { describe, expect, it } from 'vitest';
import { selectEligible, selectParticipants } from '../../../coordinator/rounds/selection.js';

const opts = { fraction: 1, minParticipants: 1, seed: 3, round: 1 };

describe('participant selection', () => {
  it('takes a seeded fraction C of those online, never fewer than the minimum, the same for the same round', () => {
    const online = Array.from({ length: 20 }, (_, i) => `site-${i}`);
    const a = selectParticipants(online, { ...opts, fraction: 0.1, minParticipants: 3 });
    expect(a).toHaveLength(3);
    expect(selectParticipants(online, { ...opts, fraction: 0.1, minParticipants: 3 })).toEqual(a);
    expect(selectParticipants(online, { ...opts, fraction: 0.25, minParticipants: 1 })).toHaveLength(5);
  });

  it('excludes institutions whose consent does not cover training, and says why', () => {
    const covers = (i: string) =>
      i === 'b' ? { ok: false as const, code: 'CONSENT_MISSING', message: 'b has presented no consent' } : { ok: true as const };
    expect(selectEligible(['a', 'b', 'c'], covers, opts)).toEqual({
      participants: ['a', 'c'],
      excluded: [{ institution: 'b', code: 'CONSENT_MISSING', message: 'b has presented no consent' }],
    });
  });

  it('drops a site whose own minimum of other institutions the round cannot meet, then selects again', () => {
    // c wants at least 3 others; with b out there are only a, c, d.
    const wantsOthers: Record<string, number> = { a: 0, c: 3, d: 1 };
    const covers = (i: string, n?: number) => {
      if (i === 'b') return { ok: false as const, code: 'CONSENT_REVOKED', message: 'b revoked' };
      return n === undefined || n - 1 >= (wantsOthers[i] ?? 0)
        ? { ok: true as const }
        : { ok: false as const, code: 'CONSENT_TOO_FEW_INSTITUTIONS', message: `${i} wants more` };
    };
    const { participants, excluded } = selectEligible(['a', 'b', 'c', 'd'], covers, opts);
    expect(participants).toEqual(['a', 'd']);
    expect(excluded.map((e) => [e.institution, e.code])).toEqual([
      ['b', 'CONSENT_REVOKED'],
      ['c', 'CONSENT_TOO_FEW_INSTITUTIONS'],
    ]);
  });

  it('selects nobody when every site needs more company than there is', () => {
    const covers = (_i: string, n?: number) =>
      n === undefined || n >= 5 ? { ok: true as const } : { ok: false as const, code: 'CONSENT_TOO_FEW_INSTITUTIONS', message: 'too few' };
    expect(selectEligible(['a', 'b'], covers, opts).participants).toEqual([]);
  });
});
