/** A site's count answer under secure aggregation: its unsuppressed (possibly noisy) counts in the shared layout, pairwise masked. */
import {
  ErrorCode,
  MISSING_CATEGORY,
  OTHER_CATEGORY,
  isMissingToken,
  maskKeyStatement,
  secureAskProblem,
  secureLayout,
  type CountAsk,
  type StudyManifest,
} from '../../protocol/index.js';
import { fingerprint, fromBase64, secagg, toBase64, verifyDocument } from '../../crypto/index.js';
import { NO_NOISE, type CountNoise } from './noise.js';
import { numericAnswer, rowsAnswer } from './site-counts.js';
import { survivalAnswer } from './site-survival.js';
import { columnCells, type Table } from './table.js';

/** Each cell's index among `names` (the agreed names, then (other), then (missing)). */
function labelIndex(cells: readonly string[], names: readonly string[]): number[] {
  const known = new Map(names.slice(0, -2).map((n, i) => [n, i]));
  return cells.map((c) => (isMissingToken(c) ? names.length - 1 : (known.get(c.trim()) ?? names.length - 2)));
}

/**
 * The counts of `secureLayout(ask)`, not suppressed (the coordinator sees only their sum over the sites; the pooled
 * figure is suppressed there): a column this site lacks counts 0. A category is counted under its agreed name even
 * when this site holds it in fewer than k rows; a value outside the agreed names counts under (other).
 * @example secureCounts(table, ask) // Uint32Array [rows, present, missing, ...]
 */
export function secureCounts(table: Table, ask: CountAsk, noise: CountNoise = NO_NOISE): Uint32Array {
  const layout = secureLayout(ask);
  const v = new Uint32Array(layout.length);
  const put = (at: number, counts: readonly number[]) => noise.add(counts).forEach((n, j) => (v[at + j] = n));
  v[layout.rows] = rowsAnswer(table, 1, noise).n;
  ask.numeric.forEach((n, i) => {
    const at = layout.numeric[i];
    if (!at || !table.header.includes(n.column)) return;
    const a = numericAnswer(table, n.column, n.edges, 1, noise);
    v[at.present] = a.present.n;
    v[at.missing] = a.missing.n;
    a.histogram.forEach((c, j) => (v[at.histogram + j] = c.n));
  });
  for (const c of layout.categorical) {
    const cells = columnCells(table, c.column);
    if (!cells) continue;
    const counts = new Array<number>(c.names.length + 2).fill(0);
    for (const i of labelIndex(cells, [...c.names, OTHER_CATEGORY, MISSING_CATEGORY])) counts[i] = (counts[i] as number) + 1;
    put(c.at, counts);
  }
  for (const x of layout.crosstabs) {
    const a = columnCells(table, x.rows);
    const b = columnCells(table, x.cols);
    if (!a || !b) continue;
    const flat = new Array<number>(x.rowNames.length * x.colNames.length).fill(0);
    const cols = labelIndex(b, x.colNames);
    labelIndex(a, x.rowNames).forEach((r, i) => {
      const idx = r * x.colNames.length + (cols[i] as number);
      flat[idx] = (flat[idx] as number) + 1;
    });
    put(x.at, flat);
  }
  if (layout.survival && ask.survival) {
    // k = 1: every group is named here; a group outside the agreed names counts as excluded.
    const s = survivalAnswer(table, ask.survival, 1, noise);
    let excluded = s.excluded.n;
    for (const curve of s.groups) {
      const at = layout.survival.groups.find((g) => g.group === curve.group);
      if (!at) excluded += curve.atRisk[0]?.n ?? 0;
      else {
        curve.atRisk.forEach((c, j) => (v[at.atRisk + j] = c.n));
        curve.events.forEach((c, j) => (v[at.events + j] = c.n));
      }
    }
    v[layout.survival.excluded] = excluded;
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
 * Why this site will not trust the other peers' mask keys, or null: each must come with the peer's Ed25519 key as the
 * study manifest (the one this site consented to) enrols it, and that key's signature over `maskKeyStatement`. A
 * coordinator that swaps a peer's mask key (to read this site's counts) cannot sign for it.
 * @example const problem = securePeerKeysProblem(me, query.secure, manifest, query); if (problem) refuse(problem.code, problem.message)
 */
export function securePeerKeysProblem(
  me: string,
  secure: {
    peers?: Readonly<Record<string, string>> | undefined;
    signed?: Readonly<Record<string, { signPublicKey: string; signature: string }>> | undefined;
  },
  manifest: StudyManifest,
  query: { id: string; federation: string },
): { code: ErrorCode; message: string } | null {
  const enrolled = new Map(manifest.institutions.map((i) => [i.id, i.fingerprint]));
  for (const [peer, maskKey] of Object.entries(secure.peers ?? {})) {
    if (peer === me) continue;
    const proof = secure.signed?.[peer];
    const signKey = proof ? fromBase64(proof.signPublicKey) : undefined;
    if (!proof || !signKey || signKey.length !== 32 || enrolled.get(peer) !== fingerprint(signKey))
      return {
        code: ErrorCode.SECAGG_PARTICIPANT_UNKNOWN,
        message: `peer ${peer} is not enrolled under the key given for it in study version ${manifest.version} (the manifest this site consented to)`,
      };
    const statement = maskKeyStatement({ federation: query.federation, queryId: query.id, institution: peer, maskKey });
    if (!verifyDocument(statement, proof.signature, signKey))
      return { code: ErrorCode.BAD_SIGNATURE, message: `peer ${peer}'s mask key for this query is not signed by ${peer}` };
  }
  return null;
}

/**
 * Why this site will not answer a secure count, or null: an ask without agreed names, no mask key of its own for the
 * query, a peers list it refuses (`securePeersProblem`: BAD_REQUEST), or another peer's key it cannot vouch for
 * (`securePeerKeysProblem`).
 * @example const refusal = secureCountRefusal(me, query, keys.get(query.id), manifest)
 */
export function secureCountRefusal(
  me: string,
  query: { id: string; federation: string; ask: CountAsk; secure: Parameters<typeof securePeerKeysProblem>[1] },
  pair: secagg.X25519KeyPair | undefined,
  manifest: StudyManifest,
): { code: ErrorCode; message: string } | null {
  const problem =
    secureAskProblem(query.ask) ??
    (pair
      ? securePeersProblem(me, query.secure.peers ?? {}, pair.publicKey)
      : 'no mask key for this query: the describe phase did not ask for one');
  if (problem) return { code: ErrorCode.BAD_REQUEST, message: problem };
  return securePeerKeysProblem(me, query.secure, manifest, query);
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
