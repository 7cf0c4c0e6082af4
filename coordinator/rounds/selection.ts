/** Chooses a round's participants: a seeded random fraction C of those online, never fewer than the minimum. */
import { createPrng } from '../../crypto/prng.js';

/**
 * Selects `max(minParticipants, ceil(fraction * online))` institutions, reproducibly for (seed, round).
 * @example selectParticipants(['a', 'b', 'c'], { fraction: 1, minParticipants: 2, seed: 1, round: 1 }) // all three, sorted
 */
export function selectParticipants(
  online: readonly string[],
  opts: { fraction: number; minParticipants: number; seed: number; round: number },
): string[] {
  const sorted = [...online].sort();
  const want = Math.min(sorted.length, Math.max(opts.minParticipants, Math.ceil(opts.fraction * sorted.length)));
  if (want >= sorted.length) return sorted;
  const rng = createPrng((opts.seed * 1_000_003 + opts.round) >>> 0);
  return rng.shuffle(sorted).slice(0, want).sort();
}

export interface Exclusion {
  institution: string;
  code: string;
  message: string;
}

/** Whether an institution's consent (and the policy) lets it train, given the round's size when known. */
export type Eligibility = (institution: string, participants?: number) => { ok: true } | { ok: false; code: string; message: string };

/**
 * Selects among the online institutions those whose consent covers training, by fraction C; then
 * drops any whose own limits (e.g. the fewest other institutions) the selected round's size does not
 * meet, and selects again, until the selection is stable.
 * @example selectEligible(['a', 'b'], (i) => ({ ok: true }), { fraction: 1, minParticipants: 1, seed: 0, round: 1 })
 */
export function selectEligible(
  online: readonly string[],
  covers: Eligibility,
  opts: { fraction: number; minParticipants: number; seed: number; round: number },
): { participants: string[]; excluded: Exclusion[] } {
  const excluded = new Map<string, Exclusion>();
  const check = (institution: string, participants?: number): boolean => {
    const verdict = covers(institution, participants);
    if (!verdict.ok) excluded.set(institution, { institution, code: verdict.code, message: verdict.message });
    return verdict.ok;
  };
  let candidates = online.filter((institution) => check(institution));
  for (let i = 0; i < 10 && candidates.length > 0; i++) {
    const selected = selectParticipants(candidates, opts);
    const unmet = selected.filter((institution) => !check(institution, selected.length));
    if (unmet.length === 0) return { participants: selected, excluded: [...excluded.values()] };
    candidates = candidates.filter((c) => !unmet.includes(c));
  }
  return { participants: [], excluded: [...excluded.values()] };
}
