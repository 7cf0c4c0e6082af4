/** The federation's current global model: loaded from disk on restart, created at version 0, replaced on publication. */
import { ModelSpecSchema, decodeTensors, type ModelSpec, type NamedTensor, type SignedModel } from '../../protocol/index.js';
import type { Identity } from '../../crypto/index.js';
import type { ModelRecord, Store } from '../store/index.js';
import { initialWeights, loadModelFile, saveModelFile, userInitialWeights } from '../models/index.js';
import { encodeAndSign, toSignedModel, type EncodedModel } from './model-signing.js';

export interface CurrentModel {
  version: number;
  digest: string;
  spec: ModelSpec;
  tensors: NamedTensor[];
  /** What agents receive: weights in the codec, signed by the coordinator. */
  signed: SignedModel;
  /** The model file, relative to the data directory ('' for a candidate). */
  path: string;
}

export class ModelRegistry {
  current: CurrentModel | undefined;
  /** The latest candidate's inputs and encoding: publishing that candidate stores the bytes the sites evaluated. */
  private lastCandidate: { version: number; round: number; spec: ModelSpec; tensors: NamedTensor[]; encoded: EncodedModel } | undefined;

  constructor(private readonly deps: { store: Store; identity: Identity; dataDir: string; federation: string }) {}

  /** Loads the latest stored version, verifying its digest; the spec travels in the frame's metadata. */
  loadLatest(fallbackSpec: ModelSpec): void {
    const record = this.deps.store.latestModel(this.deps.federation);
    if (record) this.current = this.load(record, fallbackSpec);
  }

  /** Reads and verifies a stored version (throws when the file is missing or corrupt). */
  load(record: ModelRecord, fallbackSpec: ModelSpec): CurrentModel {
    const bytes = loadModelFile(this.deps.dataDir, record.path, record.digest);
    const decoded = decodeTensors(bytes);
    const parsed = ModelSpecSchema.safeParse(decoded.meta.spec);
    const spec = parsed.success ? parsed.data : fallbackSpec;
    return {
      version: record.version,
      digest: record.digest,
      spec,
      tensors: decoded.tensors,
      signed: toSignedModel(this.deps.federation, record.version, spec, { bytes, digest: record.digest, signature: record.signature }),
      path: record.path,
    };
  }

  /** A candidate version, encoded and signed for the sites to evaluate, but neither stored nor current. */
  candidate(spec: ModelSpec, tensors: NamedTensor[], version: number, round: number): CurrentModel {
    const { federation, identity } = this.deps;
    const encoded = encodeAndSign(identity, federation, version, spec, tensors, { round, spec });
    this.lastCandidate = { version, round, spec, tensors, encoded };
    return { version, digest: encoded.digest, spec, tensors, signed: toSignedModel(federation, version, spec, encoded), path: '' };
  }

  /** Version 0: seeded weights for a preset; a user model's own (pretrained) trained tensors, kept in the data directory. */
  createInitial(spec: ModelSpec, seed: number): CurrentModel {
    const weights = spec.layers ? userInitialWeights(this.deps.dataDir, this.deps.federation, spec) : initialWeights(spec, seed);
    return this.adopt(this.publish(spec, weights, null, null));
  }

  /** Makes a stored version current: only once the transaction that recorded it has committed. */
  adopt(model: CurrentModel): CurrentModel {
    this.current = model;
    return model;
  }

  /**
   * Encodes, signs, writes and records a new version; call inside a store transaction, and `adopt` the result once
   * it has committed (a version whose transaction rolled back must never become the base of the next round).
   */
  publish(spec: ModelSpec, tensors: NamedTensor[], round: number | null, parentVersion: number | null): CurrentModel {
    const version = parentVersion === null ? 0 : parentVersion + 1;
    const { federation, identity, dataDir, store } = this.deps;
    // The same spec, tensors, version and round encode and sign (Ed25519 is deterministic) to the candidate's bytes:
    // those are stored, not a second encoding of them (a copy and a SHA-256 pass over the model fewer per round).
    const c = this.lastCandidate;
    const same = c !== undefined && c.version === version && c.round === round && c.spec === spec && c.tensors === tensors;
    const encoded = same ? c.encoded : encodeAndSign(identity, federation, version, spec, tensors, { round, spec });
    this.lastCandidate = undefined;
    const { path } = saveModelFile(dataDir, federation, version, encoded.bytes);
    store.insertModel({
      federationId: federation,
      version,
      round,
      parentVersion,
      digest: encoded.digest,
      specHash: encoded.specHash,
      signature: encoded.signature,
      path,
      bytes: encoded.bytes.length,
      createdAt: Date.now(),
    });
    return { version, digest: encoded.digest, spec, tensors, signed: toSignedModel(federation, version, spec, encoded), path };
  }
}
