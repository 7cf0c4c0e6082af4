/** A hand-driven protocol client for adversarial tests: it can say anything, in any order, with any bytes. */
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  decodeTensors,
  manifestHash,
  encodeTensors,
  splitIntoChunks,
  uploadTail,
  type Challenge,
  type NamedTensor,
  type RoundTask,
  type Welcome,
  type WireError,
} from '../../protocol/index.js';
import { fromBase64, sealEnvelope, signChallenge, signConsent, toBase64, type EnvelopeContext, type Identity } from '../../crypto/index.js';

/** What a coordinator acknowledgement carries: a result, or a wire error. */
export type AckResult = ({ ok: true } & Record<string, unknown>) | { ok: false; error: WireError };

export interface RawClientOptions {
  url: string;
  federation: string;
  institution: string;
  /** Sent as is in the connect auth (default: PROTOCOL_VERSION), so it may be wrong or not even a number. */
  protocolVersion?: unknown;
}

/**
 * One socket.io connection driven by hand: no reconnection, websocket only, untyped events.
 * @example const c = rawConnect({ url, federation: 'e2e', institution: 'site-1' }); await c.authenticate(me.signSecretKey);
 */
export class RawClient {
  readonly socket: Socket;
  /** The coordinator's challenge, once it arrives. */
  readonly challenge: Promise<Challenge>;
  /** The welcome sent after a successful authentication. */
  readonly welcome: Promise<Welcome>;
  readonly tasks: RoundTask[] = [];
  /** Resolves with socket.io's reason when the connection ends. */
  readonly disconnected: Promise<string>;
  private readonly opts: RawClientOptions;
  private taskWaiters: ((task: RoundTask) => void)[] = [];
  private taken = 0;

  constructor(opts: RawClientOptions) {
    this.opts = opts;
    this.socket = io(opts.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: {
        protocolVersion: opts.protocolVersion ?? PROTOCOL_VERSION,
        federation: opts.federation,
        institution: opts.institution,
        nonce: toBase64(randomBytes(32)),
      },
    });
    this.challenge = new Promise((resolve) => this.socket.once('session:challenge', resolve));
    this.welcome = new Promise((resolve) => this.socket.once('session:welcome', resolve));
    this.disconnected = new Promise((resolve) => this.socket.once('disconnect', (reason: string) => resolve(reason)));
    // A raw client measures nothing: it declines evaluations at once, so rounds need not wait for them.
    this.socket.on('round:evaluate', (task: { round: number }) => {
      this.socket.emit('round:decline', { round: task.round, code: 'NO_VALIDATION_DATA', message: 'raw test client' }, () => undefined);
    });
    this.socket.on('round:task', (task: RoundTask) => {
      this.tasks.push(task);
      this.taskWaiters.shift()?.(task);
    });
  }

  /** Emits `event` with `args` and waits for the acknowledgement (rejects after 5 s without one). */
  call(event: string, ...args: unknown[]): Promise<AckResult> {
    return this.socket.timeout(5_000).emitWithAck(event, ...args) as Promise<AckResult>;
  }

  /** Answers the challenge, signing with `signSecretKey` (the institution's own key, or any other). */
  async authenticate(signSecretKey: Uint8Array): Promise<AckResult> {
    const ch = await this.challenge;
    const signature = signChallenge(
      {
        federation: this.opts.federation,
        institution: this.opts.institution,
        challenge: fromBase64(ch.challenge),
        coordinatorSignPublicKey: fromBase64(ch.coordinatorSignPublicKey),
      },
      signSecretKey,
    );
    return this.call('session:auth', { signature: toBase64(signature) });
  }

  /** The next round task not yet taken (waits for one to arrive). */
  nextTask(timeoutMs = 10_000): Promise<RoundTask> {
    const waiting = this.tasks.length - this.taken;
    if (waiting > 0) return Promise.resolve(this.tasks[this.taken++] as RoundTask);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.opts.institution}: no task within ${timeoutMs} ms`)), timeoutMs);
      this.taskWaiters.push((task) => {
        clearTimeout(timer);
        this.taken++;
        resolve(task);
      });
    });
  }

  /**
   * Uploads `bytes` as update:begin / update:chunk... / update:commit and returns the first refusal or the commit ack.
   * `tail` and `totalBytes` may lie; `chunkBytes` defaults to everything in one chunk. Chunks go one at a time (stop-and-wait).
   */
  async upload(
    round: number,
    bytes: Uint8Array,
    lie: { tail?: string; totalBytes?: number; chunkBytes?: number } = {},
  ): Promise<{ step: 'begin' | 'chunk' | 'commit'; ack: AckResult }> {
    const uploadId = randomBytes(12).toString('hex');
    const chunkBytes = lie.chunkBytes ?? Math.max(1, bytes.length);
    const begin = await this.call('update:begin', {
      round,
      uploadId,
      totalBytes: lie.totalBytes ?? bytes.length,
      chunkBytes,
      // Fewer than 64 bytes have no tail: zeros fill in, and the coordinator refuses the size.
      tail: lie.tail ?? (bytes.length >= 64 ? uploadTail(bytes) : '0'.repeat(128)),
    });
    if (!begin.ok) return { step: 'begin', ack: begin };
    const chunks = splitIntoChunks(bytes, chunkBytes);
    for (let index = 0; index < chunks.length; index++) {
      const ack = await this.call('update:chunk', { uploadId, index, data: chunks[index] });
      if (!ack.ok) return { step: 'chunk', ack };
    }
    return { step: 'commit', ack: await this.call('update:commit', { uploadId }) };
  }

  close(): void {
    this.socket.disconnect();
  }
}

/** Opens a raw connection (see RawClient). */
export function rawConnect(opts: RawClientOptions): RawClient {
  return new RawClient(opts);
}

/** Connects, authenticates with the institution's own key and sends agent:ready; throws on any refusal. */
export async function joinAs(url: string, federation: string, identity: Identity, samples = 100): Promise<RawClient> {
  const client = rawConnect({ url, federation, institution: identity.id });
  const auth = await client.authenticate(identity.signSecretKey);
  if (!auth.ok) throw new Error(`auth refused: ${auth.error.code} ${auth.error.message}`);
  // A raw client is still an enrolled institution with consent in force, so that it gets selected.
  const welcome = await client.welcome;
  const consent = signConsent(
    {
      format: 'cohort-consent/v1',
      institution: identity.id,
      federation,
      manifestHash: manifestHash(welcome.study),
      uses: ['training', 'evaluation'],
      ethicsApproval: { reference: 'RAW-1', expires: '2099-12-31' },
      dataCategories: welcome.study.dataCategories,
      dataResidency: 'local',
      limits: { requireSecureAggregation: false, minOtherInstitutions: 0 },
      grantedAt: new Date().toISOString(),
    },
    identity.signSecretKey,
  );
  const ready = await client.call('agent:ready', { samples, backend: 'raw', consent });
  if (!ready.ok) throw new Error(`ready refused: ${ready.error.code} ${ready.error.message}`);
  return client;
}

/** Waits for the connection to be refused and returns the connect error (its `data` is the WireError). */
export function connectRefusal(client: RawClient): Promise<Error & { data?: WireError }> {
  return new Promise((resolve, reject) => {
    client.socket.once('connect_error', (err: Error & { data?: WireError }) => resolve(err));
    client.socket.once('connect', () => reject(new Error('connection was accepted')));
  });
}

/** The tensors of the model a task distributes (an honest "update" is these, unchanged). */
export function taskWeights(task: RoundTask): NamedTensor[] {
  return decodeTensors(task.model.weights).tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: t.data.slice() }));
}

export interface UpdateParts {
  /** Who seals and signs (its id is the envelope's and meta's institution unless overridden). */
  identity: Identity;
  coordinatorBoxPublicKey: Uint8Array;
  task: RoundTask;
  tensors?: NamedTensor[];
  /** Fields to change in the update meta (e.g. samples, baseVersion, round). */
  meta?: Record<string, unknown>;
  /** Fields to change in the envelope's signed context. */
  context?: Partial<EnvelopeContext>;
  /** Sign with this key instead of the identity's own. */
  signSecretKey?: Uint8Array;
}

/**
 * A sealed update as node-agent/agent.ts builds it, with any part replaced.
 * @example const envelope = sealUpdate({ identity, coordinatorBoxPublicKey, task, meta: { samples: 0 } })
 */
export function sealUpdate(p: UpdateParts): Uint8Array {
  const { task, identity } = p;
  const meta = {
    kind: 'weights',
    federation: task.federation,
    round: task.round,
    institution: identity.id,
    baseVersion: task.model.version,
    samples: 100,
    metrics: { trainLoss: 1, trainAccuracy: 0.5, epochs: 1, durationMs: 10 },
    ...p.meta,
  };
  return sealEnvelope({
    payload: encodeTensors(p.tensors ?? taskWeights(task), meta),
    context: { federation: task.federation, round: task.round, institution: identity.id, ...p.context },
    recipientBoxPublicKey: p.coordinatorBoxPublicKey,
    senderSignSecretKey: p.signSecretKey ?? identity.signSecretKey,
  });
}

/**
 * Polls `check` until it returns a truthy value (or throws after `timeoutMs`).
 * @example const round = await until(() => store.getRound(fed, 1)?.state === 'published' && store.getRound(fed, 1))
 */
export async function until<T>(check: () => T | undefined | null | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
