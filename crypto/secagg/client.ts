/**
 * One participant of secure aggregation as a state machine with no I/O: each method takes the server's message for the
 * step and returns this participant's reply, or a typed failure (and then refuses everything after).
 * new -> advertised -> shared -> masked -> signed -> done (or aborted).
 */
import { constantTimeEqual } from '../bytes.js';
import type { Identity } from '../identity.js';
import { defaultRandom, takeRandom, type RandomSource } from '../random.js';
import { failure, type SecAggFailure, type SecAggStep, type StepResult } from './failures.js';
import { generateX25519, pairSeed, shareKey, type X25519KeyPair } from './keys.js';
import type {
  AdvertiseKeys,
  Complaint,
  ConsistencyRequest,
  ConsistencySignature,
  EncryptedShare,
  KeysBroadcast,
  MaskedInput,
  RevealedShare,
  ShareKeys,
  SharesDelivery,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
import { applyMask } from './prg.js';
import { deriveGraph, holdersOf, maskSign, openSession, type SecAggConfig, type SecAggSession } from './protocol.js';
import { quantiseWeighted, type Rounding } from './ring.js';
import { NONCE_BYTES, openSharePair, sealSharePair, type SharePair } from './share-box.js';
import { split, type Share } from './shamir.js';
import {
  advertiseStatement,
  consistencyStatement,
  maskedStatement,
  seedCommitment,
  shareCommitment,
  shareStatement,
  ed25519Signer,
  unmaskStatement,
  verifyDetached,
} from './statements.js';

export type ClientPhase = 'new' | 'advertised' | 'shared' | 'masked' | 'signed' | 'done' | 'aborted';

export interface SecAggClientOptions {
  config: SecAggConfig;
  identity: Pick<Identity, 'id' | 'signSecretKey'>;
  random?: RandomSource;
  rounding?: Rounding;
}

interface PeerKeys {
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
}

export class SecAggClient {
  readonly id: string;
  protected readonly session: SecAggSession;
  private readonly index: number;
  private readonly random: RandomSource;
  private readonly rounding: Rounding;
  private readonly sign: (message: Uint8Array) => Uint8Array;
  private current: ClientPhase = 'new';
  private c: X25519KeyPair | null = null;
  private s: X25519KeyPair | null = null;
  private seed: Uint8Array | null = null;
  private readonly peers = new Map<string, PeerKeys>();
  private readonly held = new Map<string, { x: number; pair: SharePair }>();
  /** The survivor set this participant signed in the consistency check (sorted); the only one it will unmask for. */
  private signedSurvivors: string[] | null = null;

  constructor(options: SecAggClientOptions) {
    this.session = openSession(options.config);
    this.id = options.identity.id;
    const index = this.session.indexOf.get(this.id);
    if (index === undefined) throw new RangeError(`${this.id} is not a participant of this round`);
    this.index = index;
    this.random = options.random ?? defaultRandom;
    this.rounding = options.rounding ?? 'nearest';
    this.sign = ed25519Signer(options.identity.signSecretKey);
  }

  get phase(): ClientPhase {
    return this.current;
  }

  private abort(
    code: SecAggFailure['code'],
    step: SecAggStep,
    message: string,
    extra: Partial<SecAggFailure> = {},
  ): { ok: false; failure: SecAggFailure } {
    this.current = 'aborted';
    this.wipe();
    return failure(code, step, `${this.id}: ${message}`, extra);
  }

  private wrongPhase(step: SecAggStep, expected: ClientPhase): { ok: false; failure: SecAggFailure } | null {
    if (this.current === expected) return null;
    const again =
      (step === 'unmasking' && this.current === 'done') ||
      (step === 'consistency-check' && (this.current === 'signed' || this.current === 'done'));
    const code = again ? 'CONSISTENCY_RULE' : 'WRONG_PHASE';
    const message = again
      ? `already answered a ${step} request this round; a second one is refused`
      : `cannot run ${step} in phase ${this.current}`;
    return failure(code, step, `${this.id}: ${message}`);
  }

  private wipe(): void {
    this.c?.secretKey.fill(0);
    this.s?.secretKey.fill(0);
    this.seed?.fill(0);
    for (const { pair } of this.held.values()) for (const part of Object.values(pair)) part.fill(0);
    this.held.clear();
  }

  /**
   * Whether round 2 refuses a delivery from fewer than t dealers. Always true in production; a test seam that lets the
   * attack tests show what the check prevents.
   */
  protected get checksDelivery(): boolean {
    return true;
  }

  /** Splits one of this participant's secrets; a seam for tests that simulate a cheating dealer. */
  protected splitSecret(secret: Uint8Array, threshold: number, count: number, _kind: 's' | 'b'): Share[] {
    return split(secret, threshold, count, this.random);
  }

  /**
   * Round 0: fresh c and s key pairs, signed.
   * @example const advertise = client.advertiseKeys(); // send advertise.message to the server
   */
  advertiseKeys(): StepResult<AdvertiseKeys> {
    const wrong = this.wrongPhase('advertise-keys', 'new');
    if (wrong) return wrong;
    this.c = generateX25519(this.random);
    this.s = generateX25519(this.random);
    const signature = this.sign(advertiseStatement(this.session.context, this.id, this.c.publicKey, this.s.publicKey));
    this.current = 'advertised';
    return {
      ok: true,
      message: { type: 'secagg/advertise-keys', from: this.id, cPublicKey: this.c.publicKey, sPublicKey: this.s.publicKey, signature },
    };
  }

  /**
   * Round 1: checks every other advertiser's signed keys, derives the SecAgg+ graph from them (so the server cannot choose
   * this participant's neighbours), keeps its neighbours' keys, Shamir-shares s_sk and a fresh self-mask seed b among the holders
   * (itself and its neighbours that advertised), and encrypts each holder's pair of shares to it.
   * @example const shared = client.shareKeys(keysBroadcast);
   */
  shareKeys(broadcast: KeysBroadcast): StepResult<ShareKeys> {
    const step = 'share-keys';
    const wrong = this.wrongPhase(step, 'advertised');
    if (wrong) return wrong;
    if (broadcast?.type !== 'secagg/keys' || broadcast.to !== this.id || !Array.isArray(broadcast.keys))
      return this.abort('BAD_MESSAGE', step, 'malformed keys broadcast');
    const advertisers = new Map<string, PeerKeys>([
      [this.id, { cPublicKey: (this.c as X25519KeyPair).publicKey, sPublicKey: (this.s as X25519KeyPair).publicKey }],
    ]);
    for (const key of broadcast.keys) {
      const index = this.session.indexOf.get(key?.from);
      if (index === undefined) return this.abort('BAD_MESSAGE', step, `keys from ${String(key?.from)}, not a participant`);
      if (advertisers.has(key.from)) return this.abort('BAD_MESSAGE', step, `keys from ${key.from} listed twice`);
      const signer = this.session.config.participants[index]?.signPublicKey as Uint8Array;
      const okKeys =
        key.cPublicKey instanceof Uint8Array &&
        key.cPublicKey.length === 32 &&
        key.sPublicKey instanceof Uint8Array &&
        key.sPublicKey.length === 32;
      if (
        !okKeys ||
        !verifyDetached(advertiseStatement(this.session.context, key.from, key.cPublicKey, key.sPublicKey), key.signature, signer)
      ) {
        return this.abort('BAD_MESSAGE', step, `the keys of ${key.from} are malformed or not signed by it`);
      }
      advertisers.set(key.from, { cPublicKey: key.cPublicKey, sPublicKey: key.sPublicKey });
    }
    deriveGraph(
      this.session,
      [...advertisers].map(([from, keys]) => ({ from, ...keys })),
    );
    for (const [from, keys] of advertisers) {
      if (from !== this.id && this.session.graph.areNeighbours(this.index, this.session.indexOf.get(from) as number))
        this.peers.set(from, keys);
    }
    const present = new Set([this.index, ...[...this.peers.keys()].map((id) => this.session.indexOf.get(id) as number)]);
    const holders = holdersOf(this.session, this.index, present);
    const t = this.session.config.threshold;
    if (holders.length < t)
      return this.abort('TOO_FEW_PARTICIPANTS', step, `${holders.length} share holders, threshold ${t}`, { have: holders.length, need: t });

    this.seed = takeRandom(this.random, 32);
    const commitment = seedCommitment(this.session.context, this.id, this.seed);
    const sShares = this.splitSecret((this.s as X25519KeyPair).secretKey, t, holders.length, 's');
    const bShares = this.splitSecret(this.seed, t, holders.length, 'b');
    const shares = holders.map((holderIndex, position) => {
      const holder = this.session.config.participants[holderIndex]?.id as string;
      const peerC = holder === this.id ? (this.c as X25519KeyPair).publicKey : (this.peers.get(holder) as PeerKeys).cPublicKey;
      return this.sealFor(holder, position + 1, peerC, sShares[position] as Share, bShares[position] as Share, commitment);
    });
    for (const share of [...sShares, ...bShares]) share.bytes.fill(0);
    if (shares.some((s) => s === null)) return this.abort('BAD_MESSAGE', step, 'a neighbour advertised a low-order c key');
    this.current = 'shared';
    return {
      ok: true,
      message: { type: 'secagg/share-keys', from: this.id, seedCommitment: commitment, shares: shares as EncryptedShare[] },
    };
  }

  private sealFor(
    holder: string,
    x: number,
    peerC: Uint8Array,
    sShare: Share,
    bShare: Share,
    commitment: Uint8Array,
  ): EncryptedShare | null {
    const key = shareKey({
      secretKey: (this.c as X25519KeyPair).secretKey,
      peerPublicKey: peerC,
      context: this.session.context,
      dealer: this.id,
      holder,
    });
    if (!key) return null;
    const pair: SharePair = {
      sShare: sShare.bytes,
      sSalt: takeRandom(this.random, 32),
      bShare: bShare.bytes,
      bSalt: takeRandom(this.random, 32),
    };
    const common = { context: this.session.context, dealer: this.id, holder, x };
    const sCommitment = shareCommitment({ ...common, kind: 's', salt: pair.sSalt, share: pair.sShare });
    const bCommitment = shareCommitment({ ...common, kind: 'b', salt: pair.bSalt, share: pair.bShare });
    const nonce = takeRandom(this.random, NONCE_BYTES);
    const ciphertext = sealSharePair(pair, { dealer: this.id, holder, x, sCommitment, bCommitment }, key, nonce);
    key.fill(0);
    pair.sSalt.fill(0);
    pair.bSalt.fill(0);
    const statement = shareStatement({
      context: this.session.context,
      from: this.id,
      to: holder,
      x,
      seedCommitment: commitment,
      sCommitment,
      bCommitment,
      nonce,
      ciphertext,
    });
    return { to: holder, x, nonce, ciphertext, sCommitment, bCommitment, signature: this.sign(statement) };
  }

  /** Decrypts and checks one delivered share; a Complaint when it is unusable. */
  private receiveShare(from: string, share: EncryptedShare): Complaint | null {
    const peerC = from === this.id ? (this.c as X25519KeyPair).publicKey : this.peers.get(from)?.cPublicKey;
    const key =
      peerC &&
      shareKey({
        secretKey: (this.c as X25519KeyPair).secretKey,
        peerPublicKey: peerC,
        context: this.session.context,
        dealer: from,
        holder: this.id,
      });
    const header = { dealer: from, holder: this.id, x: share.x, sCommitment: share.sCommitment, bCommitment: share.bCommitment };
    const pair = key ? openSharePair(share.ciphertext, header, key, share.nonce) : null;
    key?.fill(0);
    if (!pair) return { against: from, reason: 'UNDECRYPTABLE_SHARE' };
    const common = { context: this.session.context, dealer: from, holder: this.id, x: share.x };
    const sOk = constantTimeEqual(shareCommitment({ ...common, kind: 's', salt: pair.sSalt, share: pair.sShare }), share.sCommitment);
    const bOk = constantTimeEqual(shareCommitment({ ...common, kind: 'b', salt: pair.bSalt, share: pair.bShare }), share.bCommitment);
    if (!sOk || !bOk) return { against: from, reason: 'SHARE_COMMITMENT_MISMATCH' };
    this.held.set(from, { x: share.x, pair });
    return null;
  }

  /**
   * Round 2: keeps the shares addressed to it (complaining about unusable ones), then sends
   * y = quantise(weight * clip(update)) + PRG(b) + sum_{v > me} PRG(s_me,v) - sum_{v < me} PRG(s_me,v) (mod 2^32)
   * over its neighbours v that shared keys (U2).
   * @example const masked = client.maskedInput(delivery, { update, weight: sampleCount });
   */
  maskedInput(delivery: SharesDelivery, input: { update: Float32Array; weight: number }): StepResult<MaskedInput> {
    const step = 'masked-input';
    const wrong = this.wrongPhase(step, 'shared');
    if (wrong) return wrong;
    if (delivery?.type !== 'secagg/shares' || delivery.to !== this.id || !Array.isArray(delivery.shares))
      return this.abort('BAD_MESSAGE', step, 'malformed shares delivery');
    if (!(input?.update instanceof Float32Array) || input.update.length !== this.session.config.vectorLength) {
      return this.abort('BAD_MESSAGE', step, `update must be a Float32Array of ${this.session.config.vectorLength} parameters`);
    }
    const complaints: Complaint[] = [];
    const dealers = new Set<string>();
    for (const { from, seedCommitment: commitment, share } of delivery.shares) {
      const index = this.session.indexOf.get(from);
      if (index === undefined || dealers.has(from) || (from !== this.id && !this.peers.has(from)) || share?.to !== this.id) {
        return this.abort('BAD_MESSAGE', step, `unexpected share from ${String(from)}`);
      }
      const signer = this.session.config.participants[index]?.signPublicKey as Uint8Array;
      const statement = shareStatement({
        context: this.session.context,
        from,
        to: this.id,
        x: share.x,
        seedCommitment: commitment,
        sCommitment: share.sCommitment,
        bCommitment: share.bCommitment,
        nonce: share.nonce,
        ciphertext: share.ciphertext,
      });
      if (!verifyDetached(statement, share.signature, signer))
        return this.abort('BAD_MESSAGE', step, `the share from ${from} is not signed by it`);
      dealers.add(from);
      const complaint = this.receiveShare(from, share);
      if (complaint) complaints.push(complaint);
    }
    if (!dealers.has(this.id)) return this.abort('NOT_IN_ROUND', step, 'its own shares were not delivered: it is not in U2');
    // Round 2 of the paper: with fewer than t dealers in its delivery (U2 seen by this participant), the masked input
    // would carry few or no pairwise masks, and an ordinary unmask request (t shares of b) would open it in the clear.
    const t = this.session.config.threshold;
    if (this.checksDelivery && dealers.size < t)
      return this.abort(
        'TOO_FEW_PARTICIPANTS',
        step,
        `shares from ${dealers.size} dealers, threshold ${t}: masking now would expose this update`,
        { have: dealers.size, need: t },
      );

    let encoded: Uint32Array;
    try {
      encoded = quantiseWeighted(input.update, input.weight, this.session.config.quantisation, {
        rounding: this.rounding,
        random: this.random,
      }).vector;
    } catch (error) {
      return this.abort('BAD_MESSAGE', step, `cannot encode the update: ${(error as Error).message}`);
    }
    const prg = { federation: this.session.config.federation, round: this.session.config.round };
    applyMask(encoded, this.seed as Uint8Array, 1, { ...prg, kind: 'self-mask' });
    for (const other of dealers) {
      if (other === this.id) continue;
      const seed = pairSeed({
        secretKey: (this.s as X25519KeyPair).secretKey,
        peerPublicKey: (this.peers.get(other) as PeerKeys).sPublicKey,
        context: this.session.context,
        a: this.id,
        b: other,
      });
      if (!seed) return this.abort('BAD_MESSAGE', step, `${other} advertised a low-order s key`);
      applyMask(encoded, seed, maskSign(this.index, this.session.indexOf.get(other) as number), { ...prg, kind: 'pair-mask' });
      seed.fill(0);
    }
    const signature = this.sign(maskedStatement(this.session.context, this.id, encoded, complaints));
    this.current = 'masked';
    return { ok: true, message: { type: 'secagg/masked-input', from: this.id, masked: encoded, complaints, signature } };
  }

  /**
   * Round 3 (the paper's consistency check): signs the survivor set U3 the server announces, once. Refuses a set that
   * does not list this participant, lists someone twice or an unknown id, or has fewer than t members.
   * @example const signed = client.signSurvivors(consistencyRequest);
   */
  signSurvivors(request: ConsistencyRequest): StepResult<ConsistencySignature> {
    const step = 'consistency-check';
    const wrong = this.wrongPhase(step, 'masked');
    if (wrong) return wrong;
    if (request?.type !== 'secagg/consistency-request' || request.to !== this.id || !Array.isArray(request.survivors))
      return this.abort('BAD_MESSAGE', step, 'malformed consistency request');
    const survivors = new Set(request.survivors);
    const t = this.session.config.threshold;
    if (survivors.size !== request.survivors.length)
      return this.abort('CONSISTENCY_RULE', step, 'the survivor set lists a participant twice');
    const unknown = request.survivors.filter((id) => !this.session.indexOf.has(id));
    if (unknown.length) return this.abort('BAD_MESSAGE', step, `unknown participants ${unknown.join(', ')}`);
    if (!survivors.has(this.id)) return this.abort('CONSISTENCY_RULE', step, 'the survivor set does not list this participant');
    if (survivors.size < t)
      return this.abort('CONSISTENCY_RULE', step, `only ${survivors.size} survivors, threshold ${t}`, { have: survivors.size, need: t });
    this.signedSurvivors = [...request.survivors].sort();
    this.current = 'signed';
    return {
      ok: true,
      message: {
        type: 'secagg/consistency',
        from: this.id,
        signature: this.sign(consistencyStatement(this.session.context, this.signedSurvivors)),
      },
    };
  }

  /** How many distinct listed survivors validly signed exactly the set this participant signed. */
  private validConsistencySignatures(signatures: UnmaskRequest['signatures']): number {
    const statement = consistencyStatement(this.session.context, this.signedSurvivors as string[]);
    const survivors = new Set(this.signedSurvivors);
    const valid = new Set<string>();
    for (const entry of signatures) {
      if (typeof entry?.from !== 'string' || !survivors.has(entry.from) || valid.has(entry.from)) continue;
      const signer = this.session.config.participants[this.session.indexOf.get(entry.from) as number]?.signPublicKey as Uint8Array;
      if (verifyDetached(statement, entry.signature, signer)) valid.add(entry.from);
    }
    return valid.size;
  }

  /**
   * Round 4: reveals, for each of its dealers, the b share if the dealer survived or the s-key share if it dropped.
   * Refuses (CONSISTENCY_RULE) a request naming anyone as both, naming itself as dropped, listing fewer than t survivors,
   * listing survivors other than the set it signed, carrying fewer than t valid signatures of survivors on that set, or
   * arriving after it has already answered one: the server must never hold both shares of one participant.
   * @example const reveal = client.unmask(request);
   */
  unmask(request: UnmaskRequest): StepResult<UnmaskResponse> {
    const step = 'unmasking';
    const wrong = this.wrongPhase(step, 'signed');
    if (wrong) return wrong;
    if (
      request?.type !== 'secagg/unmask-request' ||
      request.to !== this.id ||
      !Array.isArray(request.survivors) ||
      !Array.isArray(request.dropped) ||
      !Array.isArray(request.signatures)
    ) {
      return this.abort('BAD_MESSAGE', step, 'malformed unmask request');
    }
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    const t = this.session.config.threshold;
    if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length)
      return this.abort('CONSISTENCY_RULE', step, 'the request lists a participant twice');
    const both = request.survivors.filter((id) => dropped.has(id));
    if (both.length)
      return this.abort('CONSISTENCY_RULE', step, `the request names ${both.join(', ')} as both survivor and dropped`, {
        participants: both,
      });
    if (!survivors.has(this.id)) return this.abort('CONSISTENCY_RULE', step, 'the request does not list this participant as a survivor');
    if (survivors.size < t)
      return this.abort('CONSISTENCY_RULE', step, `only ${survivors.size} survivors, threshold ${t}`, { have: survivors.size, need: t });
    const unknown = [...survivors, ...dropped].filter((id) => !this.session.indexOf.has(id));
    if (unknown.length) return this.abort('BAD_MESSAGE', step, `unknown participants ${unknown.join(', ')}`);
    const signed = this.signedSurvivors as string[];
    if (survivors.size !== signed.length || signed.some((id) => !survivors.has(id))) {
      return this.abort(
        'CONSISTENCY_RULE',
        step,
        `the request's survivors differ from the set this participant signed (${signed.join(', ')})`,
      );
    }
    const valid = this.validConsistencySignatures(request.signatures);
    if (valid < t)
      return this.abort('CONSISTENCY_RULE', step, `${valid} valid survivor signatures on the survivor set, threshold ${t}`, {
        have: valid,
        need: t,
      });

    const reveal = (of: string, kind: 's' | 'b'): RevealedShare | null => {
      const held = this.held.get(of);
      if (!held) return null;
      return kind === 'b'
        ? { of, x: held.x, share: held.pair.bShare.slice(), salt: held.pair.bSalt.slice() }
        : { of, x: held.x, share: held.pair.sShare.slice(), salt: held.pair.sSalt.slice() };
    };
    const seedShares = [...survivors].map((id) => reveal(id, 'b')).filter((s): s is RevealedShare => s !== null);
    const keyShares = [...dropped].map((id) => reveal(id, 's')).filter((s): s is RevealedShare => s !== null);
    const signature = this.sign(unmaskStatement(this.session.context, this.id, seedShares, keyShares));
    this.current = 'done';
    this.wipe();
    return { ok: true, message: { type: 'secagg/unmask', from: this.id, seedShares, keyShares, signature } };
  }
}

/**
 * A participant's state machine for one round.
 * @example const client = createSecAggClient({ config, identity: me });
 */
export function createSecAggClient(options: SecAggClientOptions): SecAggClient {
  return new SecAggClient(options);
}
