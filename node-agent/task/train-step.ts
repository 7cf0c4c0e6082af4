/** The end of the agent's task chain: trains on the site's rows from the global model the task carries. */
import type { EventEmitter } from 'node:events';
import {
  decodeTensors,
  toCohortError,
  type LocalMetrics,
  type ModelSpec,
  type NamedTensor,
  type TrainConfig,
} from '../../protocol/index.js';
import { trainLocal, type SelectedBackend } from '../train/index.js';
import type { AgentEventMap } from '../events.js';
import type { DataSource } from '../data-source.js';
import type { SiteBase } from '../site-base.js';
import type { SiteRows } from '../site-data.js';
import type { Next } from '../mods/chain.js';

/**
 * A stand-in for local training: gets the global weights, returns the weights to send.
 * @example const trainer: CustomTrainer = async ({ weights, samples }) => ({ weights, trainSamples: samples, metrics: { trainLoss: 0, trainAccuracy: 0, epochs: 1, durationMs: 0 } })
 */
export type CustomTrainer = (input: {
  round: number;
  spec: ModelSpec;
  weights: NamedTensor[];
  config: TrainConfig;
  samples: number;
}) => Promise<{ weights: NamedTensor[]; metrics: LocalMetrics; trainSamples: number }>;

/** What training needs from the agent. */
export interface SiteTraining {
  rows(spec: ModelSpec): SiteRows;
  /** The backend chosen at welcome (chosen now when the welcome has not come yet). */
  backend(): Promise<SelectedBackend>;
  /** The backend a spec runs on (the chosen one, or cpu for a cnn the wasm backend cannot train). */
  backendFor(spec: ModelSpec): Promise<SelectedBackend>;
  siteBase: SiteBase;
  events: EventEmitter<AgentEventMap>;
  /** Replaces local training (load tests, benches). */
  trainer?: CustomTrainer;
  seed: number;
  augment?: DataSource['augment'];
}

/**
 * Trains the task's model on the site's training rows (with a user model's base, declined with MODEL_BASE_MISMATCH
 * when the site's copy does not match) and returns the trained update.
 * @example const run = chain(mods, trainStep(site)); await run(task, ctx);
 */
export function trainStep(site: SiteTraining): Next {
  return async (task, ctx) => {
    const { model, config, round } = task;
    let base: NamedTensor[] | undefined;
    try {
      base = model.spec.layers ? await site.siteBase.tensors((await site.backend()).tf, model.spec) : undefined;
    } catch (cause) {
      const err = toCohortError(cause);
      return { kind: 'declined', code: err.code === 'INTERNAL' ? 'MODEL_BASE_MISMATCH' : err.code, message: err.message, retry: true };
    }
    site.events.emit('task', { round, version: model.version });
    ctx.log.info({ round, version: model.version }, 'training round');
    const rows = site.rows(model.spec);
    // The consent guard verified the frame's digest and the coordinator's signature over it: no second hash here.
    const global = decodeTensors(model.weights, { authenticated: true }).tensors;
    const result = site.trainer
      ? await site.trainer({ round, spec: model.spec, weights: global, config, samples: rows.train.n })
      : await trainLocal({
          tf: (await site.backendFor(model.spec)).tf,
          spec: model.spec,
          weights: global,
          data: rows.train,
          config,
          ...(base ? { base } : {}),
          valFraction: 0,
          seed: site.seed * 100_003 + round,
          augmentBatch: site.augment, // image sources only
          onEpoch: (epoch, logs) => {
            ctx.log.info({ round, epoch, of: config.localEpochs, ...logs }, 'epoch');
            site.events.emit('epoch', { round, epoch, ...logs });
          },
        });
    const local = (result as { local?: NamedTensor[] }).local;
    if (local) site.siteBase.keepLocal(local); // FedBN: this site's own BatchNorm tensors, kept for the next round
    return {
      kind: 'trained',
      update: { global, weights: result.weights, metrics: { ...result.metrics }, trainSamples: result.trainSamples },
    };
  };
}
