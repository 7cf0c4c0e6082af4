/**
 * The aggregator of secure aggregation as a state machine with no I/O: receive* take one participant's message and
 * answer a Receipt; close* end a step (call them at the step's deadline) and return the messages to route, or a typed
 * failure when fewer than t participants remain. It keeps one running sum of masked vectors, never the vectors.
 * advertise-keys -> share-keys -> masked-input -> consistency-check -> unmasking -> done (or failed).
 */
import { constantTimeEqual } from '../bytes.js';
import { failure, type Blame, type Receipt, type RejectReason, type SecAggFailure, type SecAggStep } from './failures.js';
import type {
  AdvertiseKeys,
  ConsistencyRequest,
  ConsistencySignature,
  KeysBroadcast,
  MaskedInput,
  ShareKeys,
  SharesDelivery,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
import { deriveGraph, holdersOf, openSession, type SecAggConfig, type SecAggSession } from './protocol.js';
import { addInto } from './ring.js';
import { CIPHERTEXT_BYTES, NONCE_BYTES } from './share-box.js';
import {
  advertiseStatement,
  consistencyStatement,
  maskedStatement,
  shareCommitment,
  shareStatement,
  unmaskStatement,
  verifyDetached,
} from './statements.js';
import { unmaskSum, type DealerRecord, type SecAggResult } from './unmask.js';

export type { SecAggResult } from './unmask.js';
export type ServerPhase = SecAggStep | 'done' | 'failed';
export type ServerStep<T> = { ok: true; messages: T[] } | { ok: false; failure: SecAggFailure; blame: Blame[] };
export type ServerOutcome = { ok: true; result: SecAggResult } | { ok: false; failure: SecAggFailure; blame: Blame[] };

const reject = (reason: RejectReason, message: string): Receipt => ({ ok: false, reason, message });
const is32 = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;

export class SecAggServer {
  private readonly session: SecAggSession;
  private current: ServerPhase = 'advertise-keys';
  private lastFailure: SecAggFailure | null = null;
  private readonly advertised = new Map<string, AdvertiseKeys>();
  private readonly dealers = new Map<string, DealerRecord>();
  private readonly shareMessages = new Map<string, ShareKeys>();
  private sum: Uint32Array | null = null;
  private readonly masked = new Set<string>();
  private survivors: string[] = [];
  private dropped: string[] = [];
  private readonly signatures = new Map<string, Uint8Array>();
  private readonly responded = new Set<string>();
  private readonly blame: Blame[] = [];

  constructor(config: SecAggConfig) {
    this.session = openSession(config);
  }

  get phase(): ServerPhase {
    return this.current;
  }

  private get t(): number {
    return this.session.config.threshold;
  }

  private signer(id: string): Uint8Array {
    return this.session.config.participants[this.session.indexOf.get(id) as number]?.signPublicKey as Uint8Array;
  }

  private check(
    step: SecAggStep,
    from: unknown,
    members: ReadonlySet<string> | ReadonlyMap<string, unknown>,
    seen: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  ): Receipt | null {
    if (this.current !== step) return reject('WRONG_PHASE', `a ${step} message in phase ${this.current}`);
    if (typeof from !== 'string' || !this.session.indexOf.has(from))
      return reject('UNKNOWN_SENDER', `${String(from)} is not a participant`);
    if (!members.has(from)) return reject('NOT_IN_ROUND', `${from} is not in the round at ${step}`);
    if (seen.has(from)) return reject('DUPLICATE', `${from} already sent its ${step} message`);
    return null;
  }

  private fail(
    code: SecAggFailure['code'],
    step: SecAggStep,
    message: string,
    extra: Partial<SecAggFailure> = {},
  ): { ok: false; failure: SecAggFailure; blame: Blame[] } {
    this.current = 'failed';
    this.sum?.fill(0);
    this.sum = null;
    const { failure: f } = failure(code, step, message, extra);
    this.lastFailure = f;
    return { ok: false, failure: f, blame: [...this.blame] };
  }

  private enough(step: SecAggStep, have: number, who: string): { ok: false; failure: SecAggFailure; blame: Blame[] } | null {
    if (have >= this.t) return null;
    return this.fail('TOO_FEW_PARTICIPANTS', step, `${have} ${who}, threshold ${this.t}: the round stops and nothing is revealed`, {
      have,
      need: this.t,
    });
  }

  private closed<T>(step: SecAggStep): ServerStep<T> | null {
    if (this.current === step) return null;
    if (this.current === 'failed' && this.lastFailure) return { ok: false, failure: this.lastFailure, blame: [...this.blame] };
    return {
      ok: false,
      failure: failure('WRONG_PHASE', step, `cannot close ${step} in phase ${this.current}`).failure,
      blame: [...this.blame],
    };
  }

  /** Round 0: one participant's signed public keys. */
  receiveAdvertiseKeys(msg: AdvertiseKeys): Receipt {
    const bad = this.check('advertise-keys', msg?.from, this.session.indexOf, this.advertised);
    if (bad) return bad;
    if (!is32(msg.cPublicKey) || !is32(msg.sPublicKey) || constantTimeEqual(msg.cPublicKey, msg.sPublicKey))
      return reject('MALFORMED', 'two distinct 32-byte keys expected');
    if (
      !verifyDetached(
        advertiseStatement(this.session.context, msg.from, msg.cPublicKey, msg.sPublicKey),
        msg.signature,
        this.signer(msg.from),
      )
    ) {
      return reject('BAD_SIGNATURE', `keys not signed by ${msg.from}`);
    }
    this.advertised.set(msg.from, msg);
    return { ok: true };
  }

  /** The SecAgg+ graph's seed, derived from U1's advertisements when round 0 closed (null for the complete graph). */
  get graphSeed(): Uint8Array | null {
    return this.session.graphSeed;
  }

  /**
   * Ends round 0: U1 = who advertised; each member gets every other member's signed keys (under SecAgg+ it needs them
   * all to derive the graph's seed itself, and keeps its neighbours').
   */
  closeAdvertiseKeys(): ServerStep<KeysBroadcast> {
    const closed = this.closed<KeysBroadcast>('advertise-keys');
    if (closed) return closed;
    const short = this.enough('advertise-keys', this.advertised.size, 'participants advertised keys');
    if (short) return short;
    this.current = 'share-keys';
    deriveGraph(this.session, [...this.advertised.values()]);
    const messages = [...this.advertised.keys()].map((to): KeysBroadcast => ({
      type: 'secagg/keys',
      to,
      keys: [...this.advertised.values()].filter((k) => k.from !== to),
    }));
    return { ok: true, messages };
  }

  private presentIndices(): Set<number> {
    return new Set([...this.advertised.keys()].map((id) => this.session.indexOf.get(id) as number));
  }

  /** Round 1: one participant's encrypted shares, one entry per holder (itself and its neighbours in U1), each signed. */
  receiveShareKeys(msg: ShareKeys): Receipt {
    const bad = this.check('share-keys', msg?.from, this.advertised, this.dealers);
    if (bad) return bad;
    if (!is32(msg.seedCommitment) || !Array.isArray(msg.shares)) return reject('MALFORMED', 'seedCommitment and shares expected');
    const dealerIndex = this.session.indexOf.get(msg.from) as number;
    const holders = holdersOf(this.session, dealerIndex, this.presentIndices()).map(
      (i) => this.session.config.participants[i]?.id as string,
    );
    if (msg.shares.length !== holders.length)
      return reject('MALFORMED', `${holders.length} share entries expected, got ${msg.shares.length}`);
    const record: DealerRecord = {
      id: msg.from,
      index: dealerIndex,
      sPublicKey: (this.advertised.get(msg.from) as AdvertiseKeys).sPublicKey,
      seedCommitment: msg.seedCommitment,
      holders: new Map(),
    };
    for (const entry of msg.shares) {
      const position = holders.indexOf(entry?.to);
      if (position < 0 || record.holders.has(entry.to) || entry.x !== position + 1)
        return reject('MALFORMED', `share entry for ${String(entry?.to)} is unexpected or has the wrong index`);
      const shapeOk =
        entry.nonce instanceof Uint8Array &&
        entry.nonce.length === NONCE_BYTES &&
        entry.ciphertext instanceof Uint8Array &&
        entry.ciphertext.length === CIPHERTEXT_BYTES &&
        is32(entry.sCommitment) &&
        is32(entry.bCommitment);
      if (!shapeOk) return reject('MALFORMED', `share entry for ${entry.to} has the wrong sizes`);
      const statement = shareStatement({
        context: this.session.context,
        from: msg.from,
        to: entry.to,
        x: entry.x,
        seedCommitment: msg.seedCommitment,
        sCommitment: entry.sCommitment,
        bCommitment: entry.bCommitment,
        nonce: entry.nonce,
        ciphertext: entry.ciphertext,
      });
      if (!verifyDetached(statement, entry.signature, this.signer(msg.from)))
        return reject('BAD_SIGNATURE', `share entry for ${entry.to} not signed by ${msg.from}`);
      record.holders.set(entry.to, { x: entry.x, sCommitment: entry.sCommitment, bCommitment: entry.bCommitment });
    }
    this.dealers.set(msg.from, record);
    this.shareMessages.set(msg.from, msg);
    return { ok: true };
  }

  /** Ends round 1: U2 = who shared; each member of U2 receives the shares addressed to it. */
  closeShareKeys(): ServerStep<SharesDelivery> {
    const closed = this.closed<SharesDelivery>('share-keys');
    if (closed) return closed;
    const short = this.enough('share-keys', this.dealers.size, 'participants shared keys');
    if (short) return short;
    this.current = 'masked-input';
    this.sum = new Uint32Array(this.session.config.vectorLength + 1);
    const messages = [...this.dealers.keys()].map((to): SharesDelivery => {
      const shares = [...this.shareMessages.values()].flatMap((m) =>
        m.shares.filter((s) => s.to === to).map((share) => ({ from: m.from, seedCommitment: m.seedCommitment, share })),
      );
      return { type: 'secagg/shares', to, shares };
    });
    this.shareMessages.clear();
    return { ok: true, messages };
  }

  /** Round 2: one masked vector, added to the running sum at once; complaints are recorded as blame. */
  receiveMaskedInput(msg: MaskedInput): Receipt {
    const bad = this.check('masked-input', msg?.from, this.dealers, this.masked);
    if (bad) return bad;
    if (!(msg.masked instanceof Uint32Array) || msg.masked.length !== this.session.config.vectorLength + 1)
      return reject('MALFORMED', `a Uint32Array of ${this.session.config.vectorLength + 1} entries expected`);
    const complaints = Array.isArray(msg.complaints) ? msg.complaints : null;
    const validComplaint = (c: { against: unknown; reason: unknown }) =>
      typeof c?.against === 'string' &&
      this.dealers.get(c.against)?.holders.has(msg.from) === true &&
      (c.reason === 'UNDECRYPTABLE_SHARE' || c.reason === 'SHARE_COMMITMENT_MISMATCH');
    if (!complaints || !complaints.every(validComplaint)) return reject('MALFORMED', 'complaints must name dealers of the sender');
    if (!verifyDetached(maskedStatement(this.session.context, msg.from, msg.masked, complaints), msg.signature, this.signer(msg.from)))
      return reject('BAD_SIGNATURE', `masked input not signed by ${msg.from}`);
    addInto(this.sum as Uint32Array, msg.masked);
    this.masked.add(msg.from);
    for (const c of complaints) {
      this.blame.push({
        participant: c.against,
        reason: c.reason,
        evidence: 'complaint',
        reportedBy: msg.from,
        message: `${msg.from} reports that its share from ${c.against} is unusable (${c.reason})`,
      });
    }
    return { ok: true };
  }

  /** Ends round 2: U3 = who sent a masked vector; each member is asked to sign U3 (the consistency check). */
  closeMaskedInput(): ServerStep<ConsistencyRequest> {
    const closed = this.closed<ConsistencyRequest>('masked-input');
    if (closed) return closed;
    const short = this.enough('masked-input', this.masked.size, 'participants sent masked input');
    if (short) return short;
    this.current = 'consistency-check';
    const byIndex = (a: string, b: string) => (this.session.indexOf.get(a) as number) - (this.session.indexOf.get(b) as number);
    this.survivors = [...this.masked].sort(byIndex);
    this.dropped = [...this.dealers.keys()].filter((id) => !this.masked.has(id)).sort(byIndex);
    for (const record of this.dealers.values()) record.shares = [];
    const messages = this.survivors.map((to): ConsistencyRequest => ({
      type: 'secagg/consistency-request',
      to,
      survivors: [...this.survivors],
    }));
    return { ok: true, messages };
  }

  /** Round 3: one survivor's signature over U3. */
  receiveConsistency(msg: ConsistencySignature): Receipt {
    const bad = this.check('consistency-check', msg?.from, new Set(this.survivors), this.signatures);
    if (bad) return bad;
    if (!verifyDetached(consistencyStatement(this.session.context, this.survivors), msg.signature, this.signer(msg.from)))
      return reject('BAD_SIGNATURE', `survivor set not signed by ${msg.from}`);
    this.signatures.set(msg.from, msg.signature);
    return { ok: true };
  }

  /** Ends round 3: U4 = who signed U3; each is asked for b shares of U3 and s-key shares of U2 \ U3, with every signature. */
  closeConsistency(): ServerStep<UnmaskRequest> {
    const closed = this.closed<UnmaskRequest>('consistency-check');
    if (closed) return closed;
    const short = this.enough('consistency-check', this.signatures.size, 'survivors signed the survivor set');
    if (short) return short;
    this.current = 'unmasking';
    const signatures = [...this.signatures].map(([from, signature]) => ({ from, signature }));
    const messages = [...this.signatures.keys()].map((to): UnmaskRequest => ({
      type: 'secagg/unmask-request',
      to,
      survivors: [...this.survivors],
      dropped: [...this.dropped],
      signatures,
    }));
    return { ok: true, messages };
  }

  /** Round 4: one participant's revealed shares; each is checked against its dealer's signed commitment. */
  receiveUnmask(msg: UnmaskResponse): Receipt {
    const bad = this.check('unmasking', msg?.from, this.signatures, this.responded);
    if (bad) return bad;
    if (!Array.isArray(msg.seedShares) || !Array.isArray(msg.keyShares)) return reject('MALFORMED', 'seedShares and keyShares expected');
    const survivors = new Set(this.survivors);
    const dropped = new Set(this.dropped);
    const entries = [...msg.seedShares.map((s) => ({ s, kind: 'b' as const })), ...msg.keyShares.map((s) => ({ s, kind: 's' as const }))];
    const seen = new Set<string>();
    for (const { s, kind } of entries) {
      const allowed = kind === 'b' ? survivors : dropped;
      const holder = this.dealers.get(s?.of)?.holders.get(msg.from);
      if (!allowed.has(s?.of) || !holder || seen.has(s.of) || s.x !== holder.x || !is32(s.share) || !is32(s.salt)) {
        return reject('MALFORMED', `${msg.from} revealed an unrequested or malformed ${kind} share of ${String(s?.of)}`);
      }
      seen.add(s.of);
    }
    if (
      !verifyDetached(unmaskStatement(this.session.context, msg.from, msg.seedShares, msg.keyShares), msg.signature, this.signer(msg.from))
    ) {
      return reject('BAD_SIGNATURE', `unmask response not signed by ${msg.from}`);
    }
    for (const { s, kind } of entries) {
      const record = this.dealers.get(s.of) as DealerRecord;
      const holder = record.holders.get(msg.from) as { x: number; sCommitment: Uint8Array; bCommitment: Uint8Array };
      const expected = kind === 'b' ? holder.bCommitment : holder.sCommitment;
      const actual = shareCommitment({
        context: this.session.context,
        dealer: s.of,
        holder: msg.from,
        x: s.x,
        kind,
        salt: s.salt,
        share: s.share,
      });
      if (!constantTimeEqual(actual, expected)) {
        this.blame.push({
          participant: msg.from,
          reason: 'WRONG_SHARE_REVEALED',
          evidence: 'proof',
          message: `${msg.from} revealed a ${kind} share of ${s.of} that contradicts ${s.of}'s signed commitment`,
        });
        continue;
      }
      record.shares?.push({ index: s.x, bytes: s.share.slice() });
    }
    this.responded.add(msg.from);
    return { ok: true };
  }

  /**
   * Ends round 4: reconstructs the survivors' self-mask seeds and the dropped participants' s keys, removes every mask,
   * and decodes the weighted average. A typed failure (and no sum) when fewer than t responded or a secret cannot be
   * reconstructed; a dealer whose shares contradict its commitments is named.
   * @example const outcome = server.finish(); if (outcome.ok) publish(outcome.result.average);
   */
  finish(): ServerOutcome {
    const closed = this.closed<never>('unmasking');
    if (closed) return closed as ServerOutcome;
    const short = this.enough('unmasking', this.responded.size, 'participants answered the unmask request');
    if (short) return short;
    const outcome = unmaskSum({
      session: this.session,
      sum: this.sum as Uint32Array,
      dealers: this.dealers,
      survivors: this.survivors,
      dropped: this.dropped,
    });
    if (!outcome.ok) {
      this.blame.push(...outcome.blame);
      return this.fail(outcome.code, 'unmasking', outcome.message, { participants: outcome.participants });
    }
    this.current = 'done';
    this.sum = null;
    return { ok: true, result: { ...outcome.result, blame: [...this.blame] } };
  }
}

/**
 * The aggregator's state machine for one round.
 * @example const server = createSecAggServer(config);
 */
export function createSecAggServer(config: SecAggConfig): SecAggServer {
  return new SecAggServer(config);
}
