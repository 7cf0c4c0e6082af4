/** A node agent: connects, verifies each global model's signature, trains on private rows, returns a sealed update. */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import {
  CohortError,
  RoundTaskSchema,
  canonicalJson,
  decodeTensors,
  encodeTensors,
  frameDigest,
  toCohortError,
  type FederationComplete,
  type LocalMetrics,
  type ModelSpec,
  type RoundClosed,
  type RoundTask,
  type UpdateMeta,
  type Welcome,
} from '../protocol/index.js';
import { fromBase64, sealEnvelope, sha256Hex, verifyModel, type Identity, type PublicIdentity } from '../crypto/index.js';
import type { Dataset } from './data/index.js';
import { featureStats } from './data/index.js';
import { backendForSpec, selectBackend, trainLocal, type BackendPreference, type SelectedBackend } from './train/index.js';
import type { DataSource } from './data-source.js';
import { connect, type AgentSocket } from './transport/connection.js';
import { uploadUpdate } from './transport/upload.js';

export interface AgentOptions {
  coordinatorUrl: string;
  federation: string;
  identity: Identity;
  /** The coordinator's public identity (its signing key pins the server; its box key is what updates are sealed to). */
  coordinator: PublicIdentity;
  data: DataSource;
  backend?: BackendPreference;
  /** Share of the site's rows kept for local validation metrics. */
  valFraction?: number;
  seed?: number;
  log?: Logger;
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export interface AgentEventMap {
  welcome: [Welcome];
  task: [{ round: number; version: number }];
  epoch: [{ round: number; epoch: number; loss: number; accuracy: number }];
  trained: [{ round: number; metrics: LocalMetrics; samples: number }];
  uploaded: [{ round: number; digest: string; bytes: number }];
  refused: [{ round: number; code: string; message: string }];
  declined: [{ round: number; code: string; message: string }];
  'round:closed': [RoundClosed];
  complete: [FederationComplete];
}

export interface Agent {
  readonly events: EventEmitter<AgentEventMap>;
  readonly socket: AgentSocket;
  /** Resolves once connected, authenticated and ready for tasks; rejects on a fatal refusal. */
  readonly ready: Promise<void>;
  /** Resolves when the coordinator announces the federation complete; rejects on a fatal error. */
  readonly done: Promise<FederationComplete>;
  close(): void;
}

/**
 * Starts an agent.
 * @example const agent = createAgent({ coordinatorUrl, federation, identity, coordinator, data: mnistSource(rows) }); await agent.done;
 */
export function createAgent(opts: AgentOptions): Agent {
  const log = opts.log ?? pino({ name: `agent:${opts.identity.id}` });
  const events = new EventEmitter<AgentEventMap>();
  let welcome: Welcome | undefined;
  let dataset: { specKey: string; ds: Dataset } | undefined;
  let backend: SelectedBackend | undefined;
  let busy: Promise<void> = Promise.resolve();
  let sessionReady = deferred<void>();
  const ready = deferred<void>();
  const done = deferred<FederationComplete>();
  done.promise.catch(() => undefined);
  ready.promise.catch(() => undefined);

  const loadData = (spec: ModelSpec): Dataset => {
    const specKey = canonicalJson({ ...spec, normalization: undefined });
    if (dataset?.specKey !== specKey) dataset = { specKey, ds: opts.data.load(spec) };
    return dataset.ds;
  };

  const socket = connect({
    url: opts.coordinatorUrl,
    federation: opts.federation,
    identity: opts.identity,
    coordinatorSignPublicKey: opts.coordinator.signPublicKey,
    socketOptions: opts.socketOptions,
    log: (level, msg) => log[level](msg),
    onFatal: (err) => {
      log.error({ code: err.code }, err.message);
      ready.reject(err);
      done.reject(err);
      sessionReady.reject(err);
    },
    onWelcome: (msg) => {
      welcome = msg;
      void (async () => {
        try {
          backend ??= await selectBackend(opts.backend ?? 'auto', (m, level = 'info') => log[level](m));
          const ds = loadData(msg.spec);
          const stats = msg.spec.features ? featureStats(ds) : undefined;
          const res = await socket.timeout(15_000).emitWithAck('agent:ready', { samples: ds.n, backend: backend.name, featureStats: stats });
          if (!res.ok) throw new CohortError(res.error.code, res.error.message);
          log.info({ samples: ds.n, backend: backend.name, data: opts.data.description }, 'ready for tasks');
          events.emit('welcome', msg);
          sessionReady.resolve();
          ready.resolve();
        } catch (cause) {
          const err = toCohortError(cause);
          log.error({ code: err.code }, `cannot get ready: ${err.message}`);
          ready.reject(err);
          done.reject(err);
        }
      })();
    },
  });

  socket.on('disconnect', (reason) => {
    log.warn({ reason }, 'disconnected from the coordinator');
    sessionReady = deferred<void>();
    sessionReady.promise.catch(() => undefined);
  });
  socket.on('round:closed', (msg) => events.emit('round:closed', msg));
  socket.on('federation:complete', (msg) => {
    log.info(msg, 'federation complete');
    events.emit('complete', msg);
    done.resolve(msg);
  });
  socket.on('round:task', (raw) => {
    busy = busy.then(() => runTask(raw)).catch((err: unknown) => log.error({ err }, 'task failed'));
  });

  const decline = async (round: number, code: string, message: string): Promise<void> => {
    log.warn({ round, code }, `declining round: ${message}`);
    events.emit('declined', { round, code, message });
    await socket.timeout(15_000).emitWithAck('round:decline', { round, code, message }).catch(() => undefined);
  };

  async function runTask(raw: unknown): Promise<void> {
    const parsed = RoundTaskSchema.safeParse(raw);
    if (!parsed.success) {
      log.error({ issues: parsed.error.issues.slice(0, 3) }, 'malformed task ignored');
      return;
    }
    const task: RoundTask = parsed.data;
    const { model } = task;
    if (task.federation !== opts.federation || model.federation !== opts.federation) {
      return decline(task.round, 'WRONG_FEDERATION', `task for federation ${task.federation}, this agent serves ${opts.federation}`);
    }
    let weightsDigest: string;
    try {
      weightsDigest = frameDigest(model.weights);
    } catch (err) {
      return decline(task.round, 'CORRUPT_PAYLOAD', `model v${model.version} frame is corrupt: ${(err as Error).message}`);
    }
    let signature: Uint8Array;
    try {
      signature = fromBase64(model.signature);
    } catch {
      signature = new Uint8Array(0); // not base64: verifies as nothing, and the task is declined below
    }
    const signed = verifyModel(
      { federation: model.federation, version: model.version, specHash: sha256Hex(new TextEncoder().encode(canonicalJson(model.spec))), weightsDigest },
      signature,
      opts.coordinator.signPublicKey,
    );
    if (!signed || weightsDigest !== model.digest) {
      return decline(task.round, 'BAD_MODEL_SIGNATURE', `model v${model.version} is not signed by the pinned coordinator key: not training on it`);
    }
    events.emit('task', { round: task.round, version: model.version });
    log.info({ round: task.round, version: model.version }, 'training round');
    const chunkBytes = welcome?.chunkBytes ?? 512 * 1024;
    try {
      const weights = decodeTensors(model.weights).tensors;
      const data = loadData(model.spec);
      const run = await backendForSpec(model.spec, backend ?? (await selectBackend(opts.backend ?? 'auto')), (m, level = 'info') => log[level](m));
      const result = await trainLocal({
        tf: run.tf,
        spec: model.spec,
        weights,
        data,
        config: task.config,
        valFraction: opts.valFraction ?? 0.1,
        seed: (opts.seed ?? 0) * 100_003 + task.round,
        onEpoch: (epoch, logs) => events.emit('epoch', { round: task.round, epoch, ...logs }),
      });
      events.emit('trained', { round: task.round, metrics: result.metrics, samples: result.trainSamples });
      const meta: UpdateMeta = {
        kind: 'weights',
        federation: opts.federation,
        round: task.round,
        institution: opts.identity.id,
        baseVersion: model.version,
        samples: result.trainSamples,
        metrics: result.metrics,
      };
      const payload = encodeTensors(result.weights, meta);
      const envelope = sealEnvelope({
        payload,
        context: { federation: opts.federation, round: task.round, institution: opts.identity.id },
        recipientBoxPublicKey: opts.coordinator.boxPublicKey,
        senderSignSecretKey: opts.identity.signSecretKey,
      });
      const { digest } = await uploadUpdate(socket, envelope, { round: task.round, chunkBytes, whenSessionReady: () => sessionReady.promise });
      log.info({ round: task.round, digest, bytes: envelope.length }, 'update accepted');
      events.emit('uploaded', { round: task.round, digest, bytes: envelope.length });
    } catch (cause) {
      const err = toCohortError(cause);
      log.error({ round: task.round, code: err.code }, `update not delivered: ${err.message}`);
      events.emit('refused', { round: task.round, code: err.code, message: err.message });
    }
  }

  return {
    events,
    socket,
    ready: ready.promise,
    done: done.promise,
    close() {
      socket.io.reconnection(false);
      socket.disconnect();
    },
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
