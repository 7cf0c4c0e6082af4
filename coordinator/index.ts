/** The coordinator: one node:http server carrying the REST API and socket.io, a SQLite store, and a round runner. */
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createAdaptorServer } from '@hono/node-server';
import { Server } from 'socket.io';
import { pino, type Logger } from 'pino';
import { DEFAULT_CHUNK_BYTES, manifestHash, parameterCount, type NamedTensor } from '../protocol/index.js';
import { baseTensors, keepBaseModel } from './models/index.js';
import { ed25519Signer, fingerprint, fromHex, toBase64, type Identity, type PublicIdentity } from '../crypto/index.js';
import type { Store } from './store/index.js';
import { createStrategy } from './strategies/index.js';
import { defaultPolicy, policyHash } from './policy/index.js';
import { studyManifest, withInstitution } from './study.js';
import { checkPrivacyRules } from './privacy.js';
import { FederationSetupSchema, type FederationSetupInput } from './config.js';
import { setupChangedError, setupDifferences } from './setup-check.js';
import { RoundRunner } from './rounds/index.js';
import { attachRealtime } from './realtime/attach.js';
import type { RateLimits } from './realtime/rate-limit.js';
import type { CohortServer } from './realtime/types.js';
import { createApi } from './http/app.js';
import { authenticateToken } from './auth/index.js';
import { attachConsoleLive, mountConsole } from './console/index.js';
import type { ModelRunner } from './models/index.js';
import { statsApi } from './analytics/index.js';

export interface CoordinatorOptions {
  store: Store;
  /** Where published model files live (paths in the store are relative to it). */
  dataDir: string;
  identity: Identity;
  /** Created in the store on first start; on later starts the stored federation is resumed, and a setup that differs from the stored one is refused. */
  federation: FederationSetupInput;
  /**
   * A user model (spec arch 'layers'): its model.json and every tensor of it named as the spec names them (read with
   * node-agent/train's readUserModel by the CLI). Kept in the data directory at first start (coordinator/models/
   * base-model.ts); later starts may omit it.
   */
  userModel?: { modelJson: string; tensors: NamedTensor[] };
  /** Institutions to enrol (or re-enrol) before agents may connect. */
  institutions?: PublicIdentity[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  log?: Logger;
  chunkBytes?: number;
  maxUploadBytes?: number;
  /** Serve HTTPS and WSS with this certificate chain and private key (PEM); plain HTTP and WS when absent. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Connection, message and byte rates per institution on the socket.io side (DEFAULT_RATE_LIMITS when absent). */
  limits?: Partial<RateLimits>;
  /**
   * Runs published models for predict (node-agent/train's `createModelRunner()`: TF.js in a worker thread, so the
   * coordinator itself never loads TF.js). Closed with the coordinator. Without one, predict answers 503 MODEL_RUNNER_UNAVAILABLE.
   */
  modelRunner?: ModelRunner;
}

export interface Coordinator {
  readonly url: string;
  readonly port: number;
  readonly federation: string;
  readonly runner: RoundRunner;
  readonly store: Store;
  enroll(pub: PublicIdentity): void;
  /** Stops as a crash would (tests, restarts): an interrupted round is failed at the next start. */
  close(): Promise<void>;
  /** Stops gracefully: the round in progress is recorded as failed with `reason` and `coordinator.stopped` audited, then close(). */
  shutdown(reason: string): Promise<void>;
}

/**
 * Starts a coordinator and its round loop.
 * @example const c = await createCoordinator({ store, dataDir, identity, federation, institutions, port: 0 })
 */
export async function createCoordinator(opts: CoordinatorOptions): Promise<Coordinator> {
  const setup = FederationSetupSchema.parse(opts.federation);
  checkPrivacyRules(setup.rules);
  const log = opts.log ?? pino({ name: 'coordinator' });
  const { store, identity } = opts;
  const strategy = createStrategy(setup.rules.strategy, setup.rules.strategyParams);
  const signAudit = ed25519Signer(identity.signSecretKey);
  store.setAuditSigner((hash) => toBase64(signAudit(fromHex(hash))));
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const maxUploadBytes = opts.maxUploadBytes ?? parameterCount(setup.spec) * 4 + (1 << 20);

  if (setup.spec.layers && opts.userModel) keepBaseModel(opts.dataDir, setup.id, setup.spec, opts.userModel);
  if (setup.spec.layers) baseTensors(opts.dataDir, setup.id, setup.spec); // refuses to start without the kept model
  let federation = store.getFederation(setup.id);
  if (federation) {
    const differences = setupDifferences(federation, setup);
    if (differences.length > 0) throw setupChangedError(setup.id, differences);
  }
  const policy = setup.policy ?? defaultPolicy();
  if (!federation) {
    const now = Date.now();
    const manifest = studyManifest(setup, identity, opts.institutions ?? []);
    federation = store.transaction(() => {
      const created = store.createFederation({
        id: setup.id,
        name: setup.name,
        spec: setup.spec,
        config: setup.rules,
        manifest,
        manifestHash: manifestHash(manifest),
        policy,
        policyHash: policyHash(policy),
        status: 'created',
        createdAt: now,
        updatedAt: now,
      });
      store.appendAudit({
        federationId: setup.id,
        kind: 'federation.created',
        actor: 'coordinator',
        subject: null,
        data: { name: setup.name, rules: setup.rules, spec: setup.spec, manifestHash: created.manifestHash },
      });
      store.appendAudit({
        federationId: setup.id,
        kind: 'policy.set',
        actor: 'coordinator',
        subject: null,
        data: { policy, policyHash: created.policyHash },
      });
      return created;
    });
  } else if (setup.policy && policyHash(setup.policy) !== federation.policyHash) {
    const previous = federation.policyHash;
    federation = store.transaction(() => {
      const updated = store.updateFederation(setup.id, { policy, policyHash: policyHash(policy) });
      store.appendAudit({
        federationId: setup.id,
        kind: 'policy.changed',
        actor: 'coordinator',
        subject: null,
        data: { policy, policyHash: updated.policyHash, previousPolicyHash: previous },
      });
      return updated;
    });
    log.info({ policyHash: federation.policyHash, previous }, 'policy changed');
  }
  let runner: RoundRunner | undefined;
  /** A new institution (or a new key) is a new study version: consents to the previous one no longer cover it. */
  const amendStudy = (pub: PublicIdentity): void => {
    const current = federation as NonNullable<typeof federation>;
    const manifest = withInstitution(current.manifest, pub);
    if (manifest === current.manifest) return;
    const hash = manifestHash(manifest);
    federation = store.updateFederation(setup.id, { manifest, manifestHash: hash });
    store.appendAudit({
      federationId: setup.id,
      kind: 'study.amended',
      actor: 'coordinator',
      subject: pub.id,
      data: {
        previousManifestHash: current.manifestHash,
        manifestHash: hash,
        version: manifest.version,
        institution: pub.id,
        fingerprint: fingerprint(pub.signPublicKey),
      },
    });
    log.info(
      { manifestHash: hash, version: manifest.version, institution: pub.id },
      'study amended: sites must consent to the new version',
    );
    runner?.amendStudy(manifest, hash);
  };
  const enroll = (pub: PublicIdentity): void => {
    const held = store.getInstitution(setup.id, pub.id);
    const fp = fingerprint(pub.signPublicKey);
    if (held && held.status !== 'active') {
      // Re-enrolling never reactivates (POST .../reactivate does, audited): the stored status stands, key included.
      store.appendAudit({
        federationId: setup.id,
        kind: 'institution.reenrolment.ignored',
        actor: 'coordinator',
        subject: pub.id,
        data: { status: held.status, fingerprint: fp, storedFingerprint: held.fingerprint },
      });
      log.warn(
        { institution: pub.id, status: held.status },
        `institution ${pub.id} is ${held.status}: re-enrolment ignored (reactivate it through the API)`,
      );
      return;
    }
    store.upsertInstitution({
      federationId: setup.id,
      id: pub.id,
      name: pub.id,
      signPublicKey: toBase64(pub.signPublicKey),
      boxPublicKey: toBase64(pub.boxPublicKey),
      fingerprint: fingerprint(pub.signPublicKey),
      status: 'active',
      enrolledAt: Date.now(),
    });
    // A new key for an enrolled institution replaces its old one (which stops verifying at once): audited as such.
    const replaced = held !== undefined && held.fingerprint !== fp;
    store.appendAudit({
      federationId: setup.id,
      kind: replaced ? 'institution.key.replaced' : 'institution.enrolled',
      actor: 'coordinator',
      subject: pub.id,
      data: replaced ? { fingerprint: fp, previousFingerprint: held.fingerprint } : { fingerprint: fp },
    });
    if (replaced)
      log.warn({ institution: pub.id, fingerprint: fp, previous: held.fingerprint }, `institution ${pub.id}: enrolled key replaced`);
    amendStudy(pub);
  };
  for (const pub of opts.institutions ?? []) enroll(pub);

  const startedAt = Date.now();
  let stopping = false;
  const api = createApi({
    store,
    dataDir: opts.dataDir,
    coordinatorSignPublicKey: toBase64(identity.signPublicKey),
    online: () => runner?.onlineInstitutions ?? [],
    startedAt,
    modelRunner: opts.modelRunner,
    readiness: () => ({ accepting: stopping ? 'the coordinator is shutting down' : null, database: databaseProblem(store, setup.id) }),
    ...statsApi(() => ({ io, store, federation: setup.id, runner: () => runner, log })),
  });
  mountConsole(api);
  const httpServer = (
    opts.tls
      ? createAdaptorServer({
          fetch: api.fetch,
          createServer: createHttpsServer,
          serverOptions: { cert: opts.tls.cert, key: opts.tls.key },
        })
      : createAdaptorServer({ fetch: api.fetch })
  ) as HttpServer;
  const io: CohortServer = new Server(httpServer, { maxHttpBufferSize: chunkBytes + 64 * 1024, serveClient: true });
  const outbox = attachRealtime(
    { io, store, identity, federation: setup.id, log, chunkBytes, maxUploadBytes, limits: opts.limits },
    () => runner as RoundRunner,
  );
  runner = new RoundRunner({
    store,
    identity,
    federation,
    rules: federation.config,
    strategy,
    dataDir: opts.dataDir,
    outbox,
    log,
    maxPayloadBytes: maxUploadBytes,
  });
  const consoleLive = attachConsoleLive({
    io,
    runner,
    store,
    federation: setup.id,
    log,
    verifyToken: (token) => authenticateToken(store, token),
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const url = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, federation: setup.id }, 'coordinator listening');
  runner.start();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      stopping = true;
      runner?.stop();
      outbox.close();
      consoleLive.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await opts.modelRunner?.close();
    })());
  return {
    url,
    port,
    federation: setup.id,
    runner,
    store,
    enroll,
    async shutdown(reason) {
      stopping = true;
      runner?.shutdown(reason);
      await close();
    },
    close,
  };
}

/** null when the database answers a read of the federation, else what went wrong (for /readyz). */
function databaseProblem(store: Store, federation: string): string | null {
  try {
    return store.getFederation(federation) ? null : `federation ${federation} is missing from the database`;
  } catch (err) {
    return (err as Error).message;
  }
}

export { FederationSetupSchema, RoundRulesSchema } from './config.js';
export type { FederationSetup, FederationSetupInput, RoundRules } from './config.js';
export type { RoundRunner, RunnerEventMap } from './rounds/index.js';
export { openSqliteStore } from './store/index.js';
export { DEFAULT_RATE_LIMITS } from './realtime/rate-limit.js';
export type { RateLimits } from './realtime/rate-limit.js';
export type { Store } from './store/index.js';
