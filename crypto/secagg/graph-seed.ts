/**
 * SecAgg+'s graph seed, derived from the round's signed key advertisements instead of chosen by the coordinator:
 * SHA-256("cohort/secagg/graph-seed/v1" || context || count || for each advertiser sorted by id: id || c || s).
 * Every participant recomputes it from the advertisements it is shown (each verified against its signer), so the
 * coordinator cannot pick the graph; what it keeps is the choice of which advertisers to include (docs/privacy-secure-aggregation.md).
 */
import { lengthPrefixed, u32le, utf8Encode } from '../bytes.js';
import { sha256 } from '../hash.js';

const TAG = utf8Encode('cohort/secagg/graph-seed/v1');

/**
 * The seed for a round's Harary graph from its advertisers (U1).
 * @example const seed = graphSeed(session.context, advertisements)
 */
export function graphSeed(
  context: Uint8Array,
  advertisers: readonly { from: string; cPublicKey: Uint8Array; sPublicKey: Uint8Array }[],
): Uint8Array {
  const sorted = [...advertisers].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  return sha256([TAG, context, u32le(sorted.length), ...sorted.flatMap((a) => [lengthPrefixed(a.from), a.cPublicKey, a.sPublicKey])]);
}
