/** The count phase under secure aggregation: every peer's masked vector, summed; a dropped site makes the survivors mask again. */
import { secureAskProblem, type CountAsk, type StatsQuery } from '../../protocol/index.js';
import { toBase64 } from '../../crypto/index.js';
import { askAll, type Answers, type StatsDeps } from './ask.js';
import { pooledAnswer, unmaskSum, type PooledAnswer } from './pool-secure.js';

/** Tries at most this many times (each drop of a site costs one). */
const MAX_ATTEMPTS = 3;

export interface SecureCount {
  pooled?: PooledAnswer;
  /** The sites whose masked vectors make up the sum. */
  sites: string[];
  attempts: number;
  /** The largest minimum cell size among those sites: the pooled counts are suppressed at it. */
  minCellSize: number;
  refused: Answers['refused'];
  dp: Answers['bodies'];
}

/**
 * The count ask without what cannot be masked (category names differ between sites), each removal noted.
 * @example const ask = secureOnly(countAsk, notes)
 */
export function secureOnly(ask: CountAsk, notes: string[]): CountAsk {
  const problem = secureAskProblem(ask);
  if (!problem) return ask;
  notes.push(
    `secure aggregation: ${problem}; left out: ${[...ask.categorical, ...ask.crosstabs.map((x) => `${x.rows}:${x.cols}`), ...(ask.survival?.group ? [`group ${ask.survival.group}`] : [])].join(', ')}`,
  );
  const { group: _group, ...survival } = ask.survival ?? { time: '', event: '', grid: [] };
  return { phase: 'count', numeric: ask.numeric, categorical: [], crosstabs: [], ...(ask.survival ? { survival } : {}) };
}

const pick = <T>(from: Record<string, T>, keys: Record<string, unknown>): Record<string, T> =>
  Object.fromEntries(Object.keys(keys).flatMap((k) => (from[k] ? [[k, from[k]]] : [])));

/**
 * Asks the sites that sent a mask key in the describe phase for masked vectors (peers: every such site's key); when one
 * does not answer, asks the others again under the next attempt (fresh masks: the attempt and the peer set are in the
 * seeds' context), until all answer, fewer than two remain, or MAX_ATTEMPTS.
 * @example const r = await secureCount(deps, described, { id, federation }, ask, 15_000)
 */
export async function secureCount(
  deps: StatsDeps,
  described: Answers,
  base: Omit<StatsQuery, 'ask' | 'secure'>,
  ask: CountAsk,
  timeoutMs: number,
): Promise<SecureCount> {
  let peers = Object.fromEntries([...described.bodies].flatMap(([site, b]) => (b.maskKey ? [[site, b.maskKey]] : [])));
  // Each site checks the others' keys against the enrolled identities: the coordinator only forwards the proofs.
  const signed = Object.fromEntries(
    [...described.bodies].flatMap(([site, b]) => {
      const key = deps.signKey(site);
      return b.maskKeySignature && key ? [[site, { signPublicKey: toBase64(key), signature: b.maskKeySignature }]] : [];
    }),
  );
  const refused: Answers['refused'] = {};
  for (let attempt = 0; attempt < MAX_ATTEMPTS && Object.keys(peers).length >= 2; attempt++) {
    const answers = await askAll(
      deps,
      Object.keys(peers),
      { ...base, secure: { attempt, peers, signed: pick(signed, peers) }, ask },
      timeoutMs,
    );
    Object.assign(refused, answers.refused);
    const dropped = Object.keys(peers).filter((s) => answers.bodies.get(s)?.masked === undefined);
    if (dropped.length === 0) {
      const bodies = [...answers.bodies.values()];
      const minCellSize = Math.max(...bodies.map((b) => b.minCellSize));
      const sum = unmaskSum(
        bodies.map((b) => b.masked as string),
        ask,
      );
      return {
        pooled: pooledAnswer(sum, ask, minCellSize),
        sites: Object.keys(peers),
        attempts: attempt + 1,
        minCellSize,
        refused,
        dp: answers.bodies,
      };
    }
    deps.audit('stats.secure-retry', { queryId: base.id, attempt, dropped });
    for (const s of dropped) {
      refused[s] ??= { code: 'NO_ANSWER', message: 'no masked vector' };
      delete peers[s];
    }
    peers = { ...peers };
  }
  return { sites: [], attempts: MAX_ATTEMPTS, minCellSize: 0, refused, dp: new Map() };
}
