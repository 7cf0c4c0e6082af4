/** A site's count answer under secure aggregation: its unsuppressed (possibly noisy) counts in the shared layout, pairwise masked. */
import { secureLayout, type CountAsk } from '../../protocol/index.js';
import { fromBase64, secagg, toBase64 } from '../../crypto/index.js';
import { NO_NOISE, type CountNoise } from './noise.js';
import { numericAnswer, rowsAnswer } from './site-counts.js';
import { survivalAnswer } from './site-survival.js';
import type { Table } from './table.js';

/**
 * The counts of `secureLayout(ask)`, not suppressed (the coordinator sees only their sum over the sites; the pooled
 * figure is suppressed there): a column this site lacks counts 0.
 * @example secureCounts(table, ask) // Uint32Array [rows, present, missing, ...]
 */
export function secureCounts(table: Table, ask: CountAsk, noise: CountNoise = NO_NOISE): Uint32Array {
  const layout = secureLayout(ask);
  const v = new Uint32Array(layout.length);
  v[layout.rows] = rowsAnswer(table, 1, noise).n;
  ask.numeric.forEach((n, i) => {
    const at = layout.numeric[i];
    if (!at || !table.header.includes(n.column)) return;
    const a = numericAnswer(table, n.column, n.edges, 1, noise);
    v[at.present] = a.present.n;
    v[at.missing] = a.missing.n;
    a.histogram.forEach((c, j) => (v[at.histogram + j] = c.n));
  });
  if (layout.survival && ask.survival) {
    const s = survivalAnswer(table, ask.survival, 1, noise);
    v[layout.survival.excluded] = s.excluded.n;
    const curve = s.groups[0];
    curve?.atRisk.forEach((c, j) => (v[(layout.survival?.atRisk as number) + j] = c.n));
    curve?.events.forEach((c, j) => (v[(layout.survival?.events as number) + j] = c.n));
  }
  return v;
}

/**
 * Why this site will not mask for these peers, or null: fewer than two peers, itself absent, or its own key replaced.
 * @example securePeersProblem('site-1', peers, myPublicKey)
 */
export function securePeersProblem(me: string, peers: Readonly<Record<string, string>>, myPublicKey: Uint8Array): string | null {
  if (Object.keys(peers).length < 2) return 'secure aggregation needs at least two sites';
  if (peers[me] !== toBase64(myPublicKey)) return `the peers list does not carry ${me}'s own key for this query`;
  return null;
}

/**
 * The masked vector, base64 (u32 little-endian).
 * @example body.masked = maskedAnswer(counts, { me, secretKey, peers, federation, queryId, attempt })
 */
export function maskedAnswer(
  counts: Uint32Array,
  args: {
    me: string;
    secretKey: Uint8Array;
    peers: Readonly<Record<string, string>>;
    federation: string;
    queryId: string;
    attempt: number;
  },
): string {
  const peers = Object.fromEntries(Object.entries(args.peers).map(([id, key]) => [id, fromBase64(key)]));
  const masked = secagg.maskCounts(counts, { ...args, peers });
  return toBase64(secagg.wordsToBytes(masked));
}
