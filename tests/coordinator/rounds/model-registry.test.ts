import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateIdentity, verifyModel, fromBase64 } from '../../../crypto/index.js';
import { ModelRegistry } from '../../../coordinator/rounds/model-registry.js';
import { encodeAndSign, specHash } from '../../../coordinator/rounds/model-signing.js';
import { openSqliteStore } from '../../../coordinator/store/index.js';
import { frameDigest, type NamedTensor } from '../../../protocol/index.js';
import { federation } from '../store/store-cases.js';

const root = mkdtempSync(join(tmpdir(), 'cohort-registry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const identity = generateIdentity('coordinator');
const spec = federation.spec;
const shifted = (tensors: NamedTensor[], by: number): NamedTensor[] => tensors.map((t) => ({ ...t, data: t.data.map((v) => v + by) }));

function registry(dir: string): ModelRegistry {
  const store = openSqliteStore(':memory:');
  store.createFederation(federation);
  return new ModelRegistry({ store, identity, dataDir: join(root, dir), federation: federation.id });
}

describe('ModelRegistry publication of a candidate', () => {
  it('stores the very bytes the sites evaluated, with the digest and signature of a fresh encoding', () => {
    const models = registry('same');
    const base = models.createInitial(spec, 7);
    const tensors = shifted(base.tensors, 0.5);
    const candidate = models.candidate(spec, tensors, 1, 1);

    const published = models.publish(spec, tensors, 1, base.version);

    expect(published.signed.weights).toBe(candidate.signed.weights);
    const fresh = encodeAndSign(identity, federation.id, 1, spec, tensors, { round: 1, spec });
    expect(Buffer.compare(published.signed.weights, fresh.bytes)).toBe(0);
    expect(published.digest).toBe(frameDigest(fresh.bytes));
    expect(published.signed.signature).toBe(fresh.signature);
    expect(Buffer.compare(readFileSync(join(root, 'same', published.path)), fresh.bytes)).toBe(0);
    const params = { federation: federation.id, version: 1, specHash: specHash(spec), weightsDigest: published.digest };
    expect(verifyModel(params, fromBase64(published.signed.signature), identity.signPublicKey)).toBe(true);
  });

  it('encodes afresh when what is published is not the last candidate (other tensors, version or round)', () => {
    const models = registry('other');
    const base = models.createInitial(spec, 7);
    const tensors = shifted(base.tensors, 0.5);
    const candidate = models.candidate(spec, tensors, 1, 1);

    const other = shifted(base.tensors, 0.25);
    const published = models.publish(spec, other, 1, base.version);

    expect(published.digest).not.toBe(candidate.digest);
    expect(published.digest).toBe(frameDigest(published.signed.weights));
    const fresh = encodeAndSign(identity, federation.id, 1, spec, other, { round: 1, spec });
    expect(Buffer.compare(published.signed.weights, fresh.bytes)).toBe(0);

    const again = models.candidate(spec, tensors, 2, 2);
    const nextRound = models.publish(spec, tensors, 3, published.version);
    expect(nextRound.digest).not.toBe(again.digest);
    expect(nextRound.digest).toBe(frameDigest(nextRound.signed.weights));
  });
});
