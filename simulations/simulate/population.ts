/** A virtual population: institutions that exist only while sampled, their rows, keys and consent derived from (seed, index). */
import {
  createPrng,
  generateIdentity,
  sha256,
  signConsent,
  utf8Encode,
  verifyConsent,
  type Identity,
  type Prng,
} from '../../crypto/index.js';
import type { SignedConsent } from '../../protocol/index.js';

export interface PopulationOptions {
  /** N: how many institutions the population holds (none of them is ever listed). */
  size: number;
  /** K: how many are sampled (and exist) in each round. */
  perRound: number;
  /** Rows each institution holds, drawn from the shared training rows. */
  rows: number;
}

/** 32 bytes that depend only on (purpose, seed, institution): every derived quantity of an institution starts here. */
function derive(purpose: string, seed: number, institution: number): Uint8Array {
  return sha256([utf8Encode(`cohort-population/v1|${purpose}|${seed}|${institution}`)]);
}

const u32 = (bytes: Uint8Array): number => (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;

/**
 * k distinct integers of [0, n), sorted, by Floyd's algorithm: O(k) time and memory whatever n (up to 2^53).
 * @example sampleDistinct(1_000_000, 3, createPrng(1)) // e.g. [20511, 377203, 918734]
 */
export function sampleDistinct(n: number, k: number, rng: Prng): number[] {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(k) || k < 0 || k > n) throw new RangeError(`cannot draw ${k} of ${n}`);
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(rng.next() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * The institutions of a round: K distinct indices of [0, N), a function of (seed, round) only.
 * @example samplePopulation({ size: 1e6, perRound: 1000, rows: 20 }, 0, 1).length // 1000
 */
export function samplePopulation(population: PopulationOptions, seed: number, round: number): number[] {
  return sampleDistinct(population.size, population.perRound, createPrng(u32(derive('round', seed, round))));
}

/**
 * Institution i's rows: `rows` distinct entries of the shared pool (indices into the data set), a function of (seed, i).
 * @example populationRows(0, 123_456, 20, train) // the same 20 row indices every time institution 123456 is sampled
 */
export function populationRows(seed: number, institution: number, rows: number, pool: readonly number[]): number[] {
  const picks = sampleDistinct(pool.length, Math.min(rows, pool.length), createPrng(u32(derive('rows', seed, institution))));
  return picks.map((p) => pool[p] as number);
}

/** The seed institution i's local training gets in a round (its shuffles), as an agent's seed would. */
export function populationTrainSeed(seed: number, institution: number, round: number): number {
  return (u32(derive('train', seed, institution)) + round) >>> 0;
}

/**
 * Institution i's identity (Ed25519 and X25519 keys) from (seed, i). A simulation's keys only: anyone who knows the
 * seed knows them.
 * @example populationIdentity(0, 7).id // 'population-7'
 */
export function populationIdentity(seed: number, institution: number): Identity {
  const bytes = new Uint8Array(64);
  bytes.set(derive('sign-key', seed, institution), 0);
  bytes.set(derive('box-key', seed, institution), 32);
  let offset = 0;
  const identity = generateIdentity(`population-${institution}`, (n) => {
    const out = bytes.slice(offset, offset + n);
    offset += n;
    return out;
  });
  bytes.fill(0);
  return identity;
}

/**
 * Institution i's signed consent to train for the study whose hash is `studyHash` (deterministic: Ed25519 signatures are).
 * @example verifyConsent(populationConsent(id, hash), id.signPublicKey) // true
 */
export function populationConsent(identity: Identity, federation: string, studyHash: string): SignedConsent {
  return signConsent(
    {
      format: 'cohort-consent/v1',
      institution: identity.id,
      federation,
      manifestHash: studyHash,
      uses: ['training'],
      ethicsApproval: { reference: `SIM-IRB-${identity.id}`, expires: '2099-12-31' },
      dataCategories: ['handwritten-digit-images'],
      dataResidency: 'local',
      limits: { requireSecureAggregation: false, minOtherInstitutions: 1 },
      grantedAt: '2026-01-01T00:00:00.000Z',
    },
    identity.signSecretKey,
  );
}

/** Whether a consent lets its institution train for this study: signed by its key, for this study, covering training. */
export function consentCoversTraining(consent: SignedConsent, identity: Identity, studyHash: string): boolean {
  const { body } = consent;
  return body.manifestHash === studyHash && body.uses.includes('training') && verifyConsent(consent, identity.signPublicKey);
}
