/**
 * One round of secure aggregation at the coordinator: drives crypto/secagg's server state machine over the socket
 * layer, closes each step when every expected participant answered or its timer ran out, and hands back the sum.
 */
import {
  CohortError,
  fromWire,
  toWire,
  type MaskedFrame,
  type SecAggAdvertise,
  type SecAggConsistency,
  type SecAggConsistencyRequest,
  type SecAggKeys,
  type SecAggShareKeys,
  type SecAggShares,
  type SecAggTerms,
  type SecAggUnmask,
  type SecAggUnmaskRequest,
} from '../../protocol/index.js';
import { fromBase64, secagg } from '../../crypto/index.js';

type Sent = {
  'secagg:keys': SecAggKeys;
  'secagg:shares': SecAggShares;
  'secagg:consistency-request': SecAggConsistencyRequest;
  'secagg:unmask-request': SecAggUnmaskRequest;
};

export interface SecureRoundDeps {
  round: number;
  terms: SecAggTerms;
  config: secagg.SecAggConfig;
  stepTimeoutMs: number;
  send<E extends keyof Sent>(institution: string, event: E, msg: Sent[E]): boolean;
  audit(kind: string, data: Record<string, unknown>, actor?: string): void;
  /** A participant left the protocol at a key-exchange step (it can no longer contribute). */
  onDropped(institution: string, reason: string): void;
  /** Unmasking finished: the weighted average of the survivors' clipped updates, or why there is none. */
  onOutcome(outcome: secagg.ServerOutcome): void;
}

/** The coordinator's side of one secure-aggregation round. */
export class SecureRound {
  private readonly server: secagg.SecAggServer;
  private readonly expected: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly deps: SecureRoundDeps) {
    this.server = secagg.createSecAggServer(deps.config);
    this.expected = new Set(deps.config.participants.map((p) => p.id));
    this.arm(() => this.closeAdvertise());
    deps.audit('secagg.started', {
      round: deps.round,
      participants: this.expected.size,
      threshold: deps.config.threshold,
      graph: deps.terms.graph.kind,
      ...(deps.terms.graph.kind === 'harary' ? { degree: deps.terms.graph.degree } : {}),
      clipNorm: deps.terms.clipNorm,
      maxWeight: deps.terms.maxWeight,
      scale: deps.config.quantisation.scale,
      distributedNoiseStd: deps.terms.noiseStd ?? null,
    });
  }

  get phase(): secagg.ServerPhase {
    return this.server.phase;
  }

  /** Step 0: a participant's signed public keys. */
  advertise(from: string, wire: SecAggAdvertise): void {
    const { round: _round, ...msg } = fromWire(wire);
    this.answered(this.server.receiveAdvertiseKeys(msg), from, msg.from, () => this.closeAdvertise());
  }

  /** Step 1: a participant's encrypted shares for its neighbours. */
  shareKeys(from: string, wire: SecAggShareKeys): void {
    const { round: _round, ...msg } = fromWire(wire);
    this.answered(this.server.receiveShareKeys(msg), from, msg.from, () => this.closeShareKeys());
  }

  /** Step 2: a participant's masked input (arrived through the upload path, envelope already opened). */
  masked(from: string, frame: MaskedFrame): void {
    if (this.server.phase !== 'masked-input') {
      throw new CohortError(
        'SECAGG_FAILED',
        `masked input in step ${this.server.phase}: the key exchange has not finished (or the round moved on)`,
      );
    }
    this.accept(
      this.server.receiveMaskedInput({
        type: 'secagg/masked-input',
        from,
        masked: frame.masked,
        complaints: frame.complaints,
        signature: fromBase64(frame.signature),
      }),
      from,
      from,
    );
  }

  /** Ends step 2 (called when training closes): survivors are asked to sign the survivor set (the consistency check). */
  closeMasked(): void {
    const step = this.server.closeMaskedInput();
    if (!step.ok) return this.fail(step.failure, step.blame);
    this.deps.audit('secagg.step', { round: this.deps.round, step: 'masked-input', survivors: step.messages.length });
    this.expectAnswers(
      'secagg:consistency-request',
      step.messages.map((msg) => ({ to: msg.to, msg: { round: this.deps.round, ...msg } })),
    );
    this.arm(() => this.closeConsistency());
    if (this.expected.size === 0) this.closeConsistency();
  }

  /** Step 3: a survivor's signature over the survivor set. */
  consistency(from: string, wire: SecAggConsistency): void {
    const { round: _round, ...msg } = fromWire(wire);
    this.answered(this.server.receiveConsistency(msg), from, msg.from, () => this.closeConsistency());
  }

  /** Step 4: a survivor's revealed shares. */
  unmask(from: string, wire: SecAggUnmask): void {
    const { round: _round, ...msg } = fromWire(wire);
    this.answered(this.server.receiveUnmask(msg), from, msg.from, () => this.finish());
  }

  dispose(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private accept(receipt: secagg.Receipt, from: string, claimed: string): void {
    if (claimed !== from) throw new CohortError('SECAGG_FAILED', `${from} sent a secure-aggregation message in the name of ${claimed}`);
    if (!receipt.ok)
      throw new CohortError(
        receipt.reason === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'SECAGG_FAILED',
        `secure aggregation refused the message (${receipt.reason}): ${receipt.message}`,
      );
  }

  /** One expected participant's answer to the current step: accepted (or refused), and the step closes once every expected one answered. */
  private answered(receipt: secagg.Receipt, from: string, claimed: string, close: () => void): void {
    this.accept(receipt, from, claimed);
    this.expected.delete(from);
    if (this.expected.size === 0) close();
  }

  /** Sends each participant its message of the next step; an answer is expected from every one it reached. */
  private expectAnswers<E extends keyof Sent>(event: E, outgoing: readonly { to: string; msg: Sent[E] }[]): void {
    this.expected.clear();
    for (const { to, msg } of outgoing) if (this.deps.send(to, event, msg)) this.expected.add(to);
  }

  private arm(onTimeout: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.finished) onTimeout();
    }, this.deps.stepTimeoutMs);
  }

  private dropSilent(step: string): void {
    for (const institution of this.expected)
      this.deps.onDropped(institution, `no secure-aggregation ${step} message before the step closed`);
  }

  private closeAdvertise(): void {
    if (this.server.phase !== 'advertise-keys') return;
    this.dropSilent('advertise-keys');
    const step = this.server.closeAdvertiseKeys();
    if (!step.ok) return this.fail(step.failure, step.blame);
    const seed = this.server.graphSeed;
    this.deps.audit('secagg.step', {
      round: this.deps.round,
      step: 'advertise-keys',
      participants: step.messages.length,
      ...(seed ? { graphSeed: Buffer.from(seed).toString('hex') } : {}),
    });
    this.expectAnswers(
      'secagg:keys',
      step.messages.map((msg) => ({ to: msg.to, msg: toWire({ round: this.deps.round, ...msg }) as SecAggKeys })),
    );
    this.arm(() => this.closeShareKeys());
  }

  private closeShareKeys(): void {
    if (this.server.phase !== 'share-keys') return;
    this.dropSilent('share-keys');
    const step = this.server.closeShareKeys();
    if (!step.ok) return this.fail(step.failure, step.blame);
    this.deps.audit('secagg.step', { round: this.deps.round, step: 'share-keys', participants: step.messages.length });
    this.expected.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const msg of step.messages) this.deps.send(msg.to, 'secagg:shares', toWire({ round: this.deps.round, ...msg }) as SecAggShares);
  }

  /** Ends step 3: the survivors that signed are asked for the shares that remove every mask, with every signature. */
  private closeConsistency(): void {
    if (this.server.phase !== 'consistency-check') return;
    const step = this.server.closeConsistency();
    if (!step.ok) return this.fail(step.failure, step.blame);
    this.deps.audit('secagg.step', { round: this.deps.round, step: 'consistency-check', signed: step.messages.length });
    this.expectAnswers(
      'secagg:unmask-request',
      step.messages.map((msg) => ({ to: msg.to, msg: toWire({ round: this.deps.round, ...msg }) as SecAggUnmaskRequest })),
    );
    this.arm(() => this.finish());
    if (this.expected.size === 0) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.dispose();
    const outcome = this.server.finish();
    if (outcome.ok)
      this.deps.audit('secagg.unmasked', {
        round: this.deps.round,
        survivors: outcome.result.survivors,
        dropped: outcome.result.dropped,
        weightSum: outcome.result.weightSum,
        blame: outcome.result.blame,
      });
    this.report(outcome);
  }

  private fail(failure: secagg.SecAggFailure, blame: secagg.Blame[]): void {
    if (this.finished) return;
    this.dispose();
    this.report({ ok: false, failure, blame });
  }

  private report(outcome: secagg.ServerOutcome): void {
    if (!outcome.ok)
      this.deps.audit('secagg.failed', {
        round: this.deps.round,
        code: outcome.failure.code,
        step: outcome.failure.step,
        message: outcome.failure.message,
        blame: outcome.blame,
      });
    this.deps.onOutcome(outcome);
  }
}
