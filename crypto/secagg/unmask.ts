/** The server's last step (internal): reconstruct seeds and keys from checked shares, strip every mask, decode the sum. */
import { constantTimeEqual } from '../bytes.js';
import type { Blame, SecAggFailureCode } from './failures.js';
import { pairSeed, x25519PublicKey } from './keys.js';
import { applyMask } from './prg.js';
import { maskSign, type SecAggSession } from './protocol.js';
import { dequantiseSum } from './ring.js';
import { combineVerified, type Share } from './shamir.js';
import { seedCommitment } from './statements.js';

/** What the server keeps about one member of U2. */
export interface DealerRecord {
  id: string;
  index: number;
  sPublicKey: Uint8Array;
  seedCommitment: Uint8Array;
  holders: Map<string, { x: number; sCommitment: Uint8Array; bCommitment: Uint8Array }>;
  /** Checked shares revealed at unmasking: of b if the dealer survived, of its s key if it dropped (never both). */
  shares?: Share[];
}

export interface SecAggResult {
  /** sum_u w_u clip(x_u) / sum_u w_u over the survivors, or null when their weights sum to 0. */
  average: Float32Array | null;
  weightSum: number;
  weightedSum: Float64Array;
  /** U3: whose updates are in the sum. */
  survivors: string[];
  /** U2 \ U3: shared keys but sent no masked input; their pairwise masks were removed, their inputs are not in the sum. */
  dropped: string[];
  blame: Blame[];
}

type UnmaskOutcome =
  | { ok: true; result: Omit<SecAggResult, 'blame'> }
  | { ok: false; code: SecAggFailureCode; message: string; participants: string[]; blame: Blame[] };

function reconstruct(
  record: DealerRecord,
  threshold: number,
  check: (secret: Uint8Array) => boolean,
  what: string,
): { secret: Uint8Array } | Extract<UnmaskOutcome, { ok: false }> {
  const result = combineVerified(record.shares ?? [], threshold, check);
  if (result.ok) return { secret: result.secret };
  if (result.reason === 'TOO_FEW_SHARES') {
    return {
      ok: false,
      code: 'INSUFFICIENT_SHARES',
      message: `${what} of ${record.id}: ${result.message}`,
      participants: [record.id],
      blame: [],
    };
  }
  const message = `${record.id}'s signed share commitments do not describe one ${what} matching its commitment (${result.message})`;
  return {
    ok: false,
    code: 'INCONSISTENT_SHARES',
    message,
    participants: [record.id],
    blame: [{ participant: record.id, reason: 'INCONSISTENT_SHARES', evidence: 'proof', message }],
  };
}

/** Removes the survivors' self masks and the dropped participants' pairwise masks from `sum` (in place), then decodes. */
export function unmaskSum(args: {
  session: SecAggSession;
  sum: Uint32Array;
  dealers: ReadonlyMap<string, DealerRecord>;
  survivors: readonly string[];
  dropped: readonly string[];
}): UnmaskOutcome {
  const { session, sum, dealers, survivors, dropped } = args;
  const { threshold: t, federation, round } = session.config;
  const seeds: { id: string; seed: Uint8Array }[] = [];
  const keys: { record: DealerRecord; secretKey: Uint8Array }[] = [];
  const wipe = () => [...seeds.map((s) => s.seed), ...keys.map((k) => k.secretKey)].forEach((b) => b.fill(0));

  for (const id of survivors) {
    const record = dealers.get(id) as DealerRecord;
    const got = reconstruct(
      record,
      t,
      (s) => constantTimeEqual(seedCommitment(session.context, id, s), record.seedCommitment),
      'self-mask seed',
    );
    if (!('secret' in got)) return (wipe(), got);
    seeds.push({ id, seed: got.secret });
  }
  const survivorIndices = survivors.map((id) => session.indexOf.get(id) as number);
  for (const id of dropped) {
    const record = dealers.get(id) as DealerRecord;
    if (!survivorIndices.some((v) => session.graph.areNeighbours(record.index, v))) continue; // no survivor masked with it
    const got = reconstruct(record, t, (sk) => constantTimeEqual(x25519PublicKey(sk), record.sPublicKey), 's key');
    if (!('secret' in got)) return (wipe(), got);
    keys.push({ record, secretKey: got.secret });
  }

  for (const { seed } of seeds) applyMask(sum, seed, -1, { kind: 'self-mask', federation, round });
  for (const { record, secretKey } of keys) {
    for (const v of survivorIndices) {
      if (!session.graph.areNeighbours(record.index, v)) continue;
      const survivor = dealers.get(session.config.participants[v]?.id as string) as DealerRecord;
      const seed = pairSeed({ secretKey, peerPublicKey: survivor.sPublicKey, context: session.context, a: record.id, b: survivor.id });
      if (!seed) continue; // the survivor could not have masked with a low-order key either: it aborted
      applyMask(sum, seed, maskSign(v, record.index) === 1 ? -1 : 1, { kind: 'pair-mask', federation, round });
      seed.fill(0);
    }
  }
  wipe();
  const decoded = dequantiseSum(sum, session.config.quantisation);
  return { ok: true, result: { ...decoded, survivors: [...survivors], dropped: [...dropped] } };
}
