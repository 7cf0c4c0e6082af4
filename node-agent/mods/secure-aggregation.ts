/**
 * The site's side of secure aggregation for one round: advertises keys and deals shares as soon as the task arrives
 * (while training runs), masks the trained update once the shares are in, and answers the unmask request.
 * Under distributed DP it adds its share of the Gaussian noise before masking, so the coordinator never sees a noiseless sum.
 */
import {
  CohortError,
  encodeMaskedInput,
  fromWire,
  toWire,
  type NamedTensor,
  type SecAggConsistencyRequest,
  type SecAggKeys,
  type SecAggShares,
  type SecAggTerms,
  type SecAggUnmaskRequest,
  type UpdateMeta,
} from '../../protocol/index.js';
import { dp, secagg, toBase64, type Identity } from '../../crypto/index.js';

type Outgoing = { 'secagg:advertise': object; 'secagg:share-keys': object; 'secagg:consistency': object; 'secagg:unmask': object };

export interface SiteSecAggOptions {
  federation: string;
  round: number;
  terms: SecAggTerms;
  /** The std of this site's noise share, derived by the agent from the signed study terms (0 without DP); terms.noiseStd is not obeyed. */
  noiseStd: number;
  vectorLength: number;
  identity: Pick<Identity, 'id' | 'signSecretKey'>;
  /** Sends a message to the coordinator and resolves with its refusal, if any. */
  send(event: keyof Outgoing, msg: object): Promise<void>;
  log(level: 'info' | 'warn', msg: string): void;
}

/** One round's secure-aggregation participant at the site. */
export class SiteSecAgg {
  readonly round: number;
  private readonly client: secagg.SecAggClient;
  private readonly delivered: Promise<SecAggShares>;
  private deliver!: (msg: SecAggShares) => void;
  private fail!: (err: Error) => void;

  constructor(private readonly opts: SiteSecAggOptions) {
    this.round = opts.round;
    const config = secagg.configFromTerms(opts.terms, { federation: opts.federation, round: opts.round, vectorLength: opts.vectorLength });
    this.client = secagg.createSecAggClient({ config, identity: opts.identity, rounding: 'stochastic' });
    this.delivered = new Promise<SecAggShares>((resolve, reject) => {
      this.deliver = resolve;
      this.fail = reject;
    });
    this.delivered.catch(() => undefined);
  }

  /** Step 0: fresh keys, signed. */
  async start(): Promise<void> {
    const step = this.client.advertiseKeys();
    if (!step.ok) throw new CohortError('SECAGG_FAILED', step.failure.message);
    await this.opts.send('secagg:advertise', toWire({ round: this.round, ...step.message }) as object);
  }

  /** Step 1: the neighbours' keys arrived; deal shares of this site's secrets to them. */
  async onKeys(msg: SecAggKeys): Promise<void> {
    const { round: _round, ...keys } = fromWire(msg);
    const step = this.client.shareKeys(keys);
    if (!step.ok) return this.abort(step.failure.message);
    await this.opts.send('secagg:share-keys', toWire({ round: this.round, ...step.message }) as object);
  }

  /** The shares addressed to this site: masking can happen once training is done. */
  onShares(msg: SecAggShares): void {
    this.deliver(msg);
  }

  /**
   * Step 2: the masked input for the trained weights, as the payload of the update envelope. The update is the
   * distance from the global model (flattened in the model's tensor order); under DP it gets this site's noise share.
   */
  async maskedPayload(args: {
    global: readonly NamedTensor[];
    trained: readonly NamedTensor[];
    weight: number;
    meta: UpdateMeta;
    deadline: number;
  }): Promise<Uint8Array> {
    const delivery = await Promise.race([
      this.delivered,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new CohortError('DEADLINE_PASSED', 'the key exchange did not finish before the round deadline')),
          Math.max(0, args.deadline - Date.now()),
        ).unref(),
      ),
    ]);
    let update = flattenDelta(args.global, args.trained, this.opts.vectorLength);
    const { noiseStd } = this.opts;
    if (noiseStd > 0) {
      update = dp.addGaussianNoise(update, noiseStd);
      this.opts.log('info', `round ${this.round}: added this site's share of the DP noise (std ${noiseStd.toPrecision(4)}) before masking`);
    }
    const weight = Math.max(0, Math.min(this.opts.terms.maxWeight, Math.round(args.weight)));
    const { round: _round, ...shares } = fromWire(delivery);
    const step = this.client.maskedInput(shares, { update, weight });
    update.fill(0);
    if (!step.ok) throw new CohortError('SECAGG_FAILED', step.failure.message);
    const { masked, complaints, signature } = step.message;
    return encodeMaskedInput({ meta: args.meta, complaints, signature: toBase64(signature), masked });
  }

  /** Step 3, the consistency check: sign the survivor set the coordinator announces (once per round). */
  async onConsistency(msg: SecAggConsistencyRequest): Promise<void> {
    const step = this.client.signSurvivors({ type: msg.type, to: msg.to, survivors: msg.survivors });
    if (!step.ok) {
      this.opts.log('warn', `round ${this.round}: survivor set refused: ${step.failure.message}`);
      return;
    }
    await this.opts.send('secagg:consistency', toWire({ round: this.round, ...step.message }) as object);
  }

  /** Step 4: reveal what removes the masks (never both secrets of one participant), only for the set t survivors signed. */
  async onUnmask(msg: SecAggUnmaskRequest): Promise<void> {
    const { signatures } = fromWire(msg);
    const step = this.client.unmask({ type: msg.type, to: msg.to, survivors: msg.survivors, dropped: msg.dropped, signatures });
    if (!step.ok) {
      this.opts.log('warn', `round ${this.round}: unmask request refused: ${step.failure.message}`);
      return;
    }
    await this.opts.send('secagg:unmask', toWire({ round: this.round, ...step.message }) as object);
  }

  private abort(message: string): void {
    this.opts.log('warn', `round ${this.round}: secure aggregation aborted: ${message}`);
    this.fail(new CohortError('SECAGG_FAILED', message));
  }
}

/** trained - global over every tensor, in the global model's order, as one vector. */
function flattenDelta(global: readonly NamedTensor[], trained: readonly NamedTensor[], length: number): Float32Array {
  const byName = new Map(trained.map((t) => [t.name, t]));
  const out = new Float32Array(length);
  let offset = 0;
  for (const g of global) {
    const t = byName.get(g.name);
    if (!t || t.data.length !== g.data.length)
      throw new CohortError('SHAPE_MISMATCH', `trained weights lack tensor ${g.name} or its shape changed`);
    for (let i = 0; i < g.data.length; i++) out[offset + i] = (t.data[i] as number) - (g.data[i] as number);
    offset += g.data.length;
  }
  if (offset !== length) throw new CohortError('SHAPE_MISMATCH', `the model has ${offset} parameters, the round expects ${length}`);
  return out;
}
