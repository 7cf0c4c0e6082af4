/** The baseline every federated result is compared with: the same model trained on the pooled training rows. */
import { poolTabularSpec, type ModelSpec } from '../../protocol/index.js';
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
}

/**
 * Trains from the federation's initial weights (same seed) for `epochs` epochs and evaluates on the test set.
 * @example const { accuracy } = await trainCentralized({ tf, spec, all, train, testSet, epochs: 20, batchSize: 10, learningRate: 0.05, seed: 0 })
 */
export async function trainCentralized(args: CentralizedArgs): Promise<{ accuracy: number; loss: number; predicted: Int32Array }> {
  const pooled = selectRows(args.all, args.train);
  const spec: ModelSpec = args.spec.features && !args.spec.normalization ? poolTabularSpec(args.spec, [featureStats(pooled)]) : args.spec;
  const { weights } = await trainLocal({
    tf: args.tf,
    spec,
    weights: initialWeights(spec, args.seed),
    data: pooled,
    config: { localEpochs: args.epochs, batchSize: args.batchSize, learningRate: args.learningRate },
    valFraction: 0,
    seed: args.seed,
  });
  return evaluate({ tf: args.tf, spec, weights, data: args.testSet });
}
