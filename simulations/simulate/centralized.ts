/** The baseline every federated result is compared with: the same model trained on the pooled training rows. */
import { poolChannelSpec, poolTabularSpec, type ModelSpec, type NamedTensor, type TrainConfig } from '../../protocol/index.js';
import { channelStats } from '../../node-agent/data/channel-stats.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { featureStats, selectRows, type Dataset } from '../../node-agent/data/index.js';
import { evaluate, trainLocal, type TF } from '../../node-agent/train/index.js';

export interface CentralizedArgs {
  tf: TF;
  spec: ModelSpec;
  all: Dataset;
  train: number[];
  testSet: Dataset;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** The federation's training terms (optimizer, weight decay, class weights), so the baseline trains alike. */
  training?: Pick<TrainConfig, 'optimizer' | 'momentum' | 'weightDecay' | 'classWeight'>;
  /** A user model: its file's trained tensors (instead of seeded initial weights) and its base. */
  initial?: NamedTensor[];
  base?: NamedTensor[];
}

/**
 * Trains from the federation's initial weights (same seed) for `epochs` epochs and evaluates on the test set.
 * @example const { accuracy } = await trainCentralized({ tf, spec, all, train, testSet, epochs: 20, batchSize: 10, learningRate: 0.05, seed: 0 })
 */
export async function trainCentralized(args: CentralizedArgs): Promise<{ accuracy: number; loss: number; predicted: Int32Array }> {
  const pooled = selectRows(args.all, args.train);
  let spec: ModelSpec = args.spec.features && !args.spec.normalization ? poolTabularSpec(args.spec, [featureStats(pooled)]) : args.spec;
  if (spec.channelNormalization && !spec.channelNormalization.mean) spec = poolChannelSpec(spec, [await channelStats(pooled)]);
  const { weights } = await trainLocal({
    tf: args.tf,
    spec,
    weights: args.initial ?? initialWeights(spec, args.seed),
    ...(args.base ? { base: args.base } : {}),
    data: pooled,
    config: { localEpochs: args.epochs, batchSize: args.batchSize, learningRate: args.learningRate, ...args.training },
    valFraction: 0,
    seed: args.seed,
  });
  return evaluate({ tf: args.tf, spec, weights, data: args.testSet, ...(args.base ? { base: args.base } : {}) });
}
