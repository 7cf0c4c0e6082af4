/**
 * The tables' maths without the network: the coordinator's own selection, initial weights and strategies, the agents' own
 * trainer and Byzantine transforms, called in-process with no sockets, envelopes, signatures or database.
 */
import type { NamedTensor } from '../../protocol/index.js';
import { initialWeights } from '../../coordinator/models/index.js';
import { selectParticipants } from '../../coordinator/rounds/index.js';
import { createStrategy } from '../../coordinator/strategies/index.js';
import { selectRows } from '../../node-agent/data/index.js';
import { evaluate, trainLocal } from '../../node-agent/train/index.js';
import type { ConfigArgs, ConfigResult } from './convergence-run.js';

/**
 * Runs `args.config` the way the federation would (same selection seed, same per-site training seeds, same aggregation) until
 * the global model reaches `args.target` on the test set or a cap is hit, measuring it after every round.
 * @example const r = await runDirect({ ...args, strategy: { name: 'median', params: {} } })
 */
export async function runDirect(args: ConfigArgs): Promise<ConfigResult> {
  const { tf, data, config } = args;
  const started = Date.now();
  const n = data.sites.length;
  const ids = data.sites.map((_, i) => `institution-${i + 1}`);
  const rows = data.sites.map((site) => selectRows(data.all, site));
  const strategy = createStrategy(args.strategy?.name ?? 'fedavg', args.strategy?.params ?? {});
  const train = {
    localEpochs: config.localEpochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    ...strategy.trainConfig,
  };
  let model: NamedTensor[] = initialWeights(data.spec, args.seed);
  const result: ConfigResult = {
    config,
    partition: args.partition,
    roundsToTarget: null,
    stoppedBy: 'round-cap',
    roundsRun: 0,
    bestAccuracy: 0,
    bestRound: 0,
    curve: [],
    wallMs: 0,
  };
  const byzantine: number[] = [];
  for (let round = 1; round <= config.roundCap; round++) {
    if (Date.now() - started > config.timeCapS * 1000) {
      result.stoppedBy = 'time-cap';
      break;
    }
    const selected = selectParticipants(ids, {
      fraction: args.fraction,
      minParticipants: Math.max(1, Math.round(args.fraction * n)),
      seed: args.seed,
      round,
    });
    const accumulator = strategy.begin(
      model.map((t) => t.shape),
      model.map((t) => t.data),
    );
    let attacks = 0;
    for (const id of selected) {
      const i = ids.indexOf(id);
      const trained = await trainLocal({
        tf,
        spec: data.spec,
        weights: model,
        data: rows[i]!,
        config: train,
        valFraction: 0,
        seed: (args.seed * 1000 + i) * 100_003 + round,
      });
      const transform = args.transformFor?.(i);
      const weights = transform ? transform({ round, global: model, trained: trained.weights }) : trained.weights;
      if (transform) attacks++;
      accumulator.add(
        weights.map((t) => t.data),
        trained.trainSamples,
      );
    }
    const next = accumulator.result();
    if (next) model = model.map((t, k) => ({ name: t.name, shape: t.shape, data: next[k] as Float32Array }));
    if (!model.every((t) => t.data.every(Number.isFinite))) {
      result.stoppedBy = 'failed';
      break;
    }
    const ev = await evaluate({ tf, spec: data.spec, weights: model, data: args.testSet, batchSize: 500 });
    result.curve.push({ round, accuracy: ev.accuracy, loss: ev.loss, elapsedMs: Date.now() - started });
    result.roundsRun = round;
    byzantine.push(attacks);
    if (ev.accuracy > result.bestAccuracy) Object.assign(result, { bestAccuracy: ev.accuracy, bestRound: round });
    args.say(
      `[${args.partition} ${config.name}] round ${round}: accuracy ${ev.accuracy.toFixed(4)} loss ${ev.loss.toFixed(4)} (best ${result.bestAccuracy.toFixed(4)}), ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    if (args.target !== undefined && ev.accuracy >= args.target) {
      Object.assign(result, { roundsToTarget: round, stoppedBy: 'target' });
      break;
    }
  }
  result.wallMs = Date.now() - started;
  if (data.sites.some((_, i) => args.transformFor?.(i))) result.byzantinePerRound = byzantine;
  return result;
}
