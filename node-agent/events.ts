/** What an agent reports as it works, for whoever runs it (the CLI, simulations, tests). */
import type { ErrorCode, FederationComplete, LocalMetrics, RoundClosed, Welcome } from '../protocol/index.js';

export interface AgentEventMap {
  welcome: [Welcome];
  task: [{ round: number; version: number }];
  epoch: [{ round: number; epoch: number; loss: number; accuracy: number }];
  trained: [{ round: number; metrics: LocalMetrics; samples: number }];
  uploaded: [{ round: number; digest: string; bytes: number }];
  /** valAccuracy is absent for regression (its loss is the MSE). */
  evaluated: [{ round: number; valLoss: number; valAccuracy?: number; valSamples: number }];
  refused: [{ round: number; code: string; message: string }];
  declined: [{ round: number; code: ErrorCode; message: string }];
  'round:closed': [RoundClosed];
  complete: [FederationComplete];
}
