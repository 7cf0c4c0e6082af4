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
