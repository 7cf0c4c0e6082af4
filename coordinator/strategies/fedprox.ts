/** FedProx (Li et al. 2020): FedAvg aggregation; the proximal term (mu/2)·||w − w_global||² is added by the agents. */
import { z } from 'zod';
import { fedAvg } from './fedavg.js';
import { defineStrategy } from './params.js';
import type { Strategy } from './types.js';

/** mu 0.01: Li et al. tune mu over {0.001, 0.01, 0.1, 1} per data set; there is no universal default. */
export const FedProxParamsSchema = z.object({ mu: z.number().min(0).max(1000).default(0.01) });

/**
 * `fedprox`: aggregates exactly as FedAvg; `trainConfig.proximalMu` tells the runner what to send the agents.
 * @example fedProx.create({ mu: 0.1 }).trainConfig // { proximalMu: 0.1 }
 */
export const fedProx = defineStrategy(
  'fedprox',
  'FedAvg aggregation, proximal term mu in the local objective (Li et al. 2020)',
  FedProxParamsSchema,
  (p): Strategy =>
    Object.freeze({
      name: 'fedprox',
      params: Object.freeze({ ...p }),
      trainConfig: Object.freeze({ proximalMu: p.mu }),
      begin: (shapes: number[][], previous: Float32Array[]) => fedAvg.begin(shapes, previous),
    }),
);
