/** The round runner's wiring: what it needs (RunnerDeps, Outbox) and what it announces (RunnerEventMap). */
import type { Logger } from 'pino';
import type { ErrorCode, EvaluateTask, LocalMetrics, RoundClosed, RoundTask, ServerToClientEvents } from '../../protocol/index.js';
import type { Identity } from '../../crypto/index.js';
import type { Federation, RoundMetrics, Store } from '../store/index.js';
import type { Strategy } from '../strategies/index.js';
import type { RoundRules } from '../config.js';
import type { RuleDecision } from '../policy/index.js';

/** What the runner needs to reach agents; implemented by the realtime layer. */
export interface Outbox {
  /** Sends a task to an online institution; false when it is not connected. */
  sendTask(institution: string, task: RoundTask): boolean;
  sendEvaluation(institution: string, task: EvaluateTask): boolean;
  broadcast(event: 'round:closed', msg: RoundClosed): void;
  broadcast(event: 'federation:complete', msg: { rounds: number; finalVersion: number }): void;
  broadcast(event: 'federation:failed', msg: { reason: string }): void;
  /** Secure aggregation's coordinator -> participant messages; false when the institution is not connected. */
  sendSecAgg<E extends 'secagg:keys' | 'secagg:shares' | 'secagg:consistency-request' | 'secagg:unmask-request'>(
    institution: string,
    event: E,
    msg: Parameters<ServerToClientEvents[E]>[0],
  ): boolean;
}

/** Every event the runner emits, with its payload. */
export interface RunnerEventMap {
  'round:waiting': [{ round: number; online: number; needed: number }];
  /** Who is online now, after an agent got ready or went away. */
  'agents:online': [{ online: string[] }];
  'round:blocked': [
    { round: number; eligible: number; needed: number; excluded: { institution: string; code: string; message: string }[]; reason: string },
  ];
  'round:started': [
    {
      round: number;
      participants: string[];
      excluded: { institution: string; code: string; message: string }[];
      baseVersion: number;
      deadline: number;
    },
  ];
  'update:accepted': [{ round: number; institution: string; samples: number; digest: string; metrics: LocalMetrics }];
  'update:refused': [{ round: number; institution: string; code: ErrorCode; message: string }];
  'participant:declined': [{ round: number; institution: string; code: ErrorCode; message: string }];
  'participant:dropped': [{ round: number; institution: string; reason: string }];
  'consent:revoked': [{ institution: string; fromRound: number }];
  'round:decided': [{ round: number; decisions: RuleDecision[]; published: boolean }];
  'round:published': [{ round: number; version: number; digest: string; metrics: RoundMetrics; decisions: RuleDecision[] }];
  'round:withheld': [{ round: number; decisions: RuleDecision[]; reason: string }];
  'round:failed': [{ round: number; reason: string }];
  'federation:complete': [{ rounds: number; finalVersion: number }];
  'federation:failed': [{ reason: string }];
  'model:corrupt': [{ version: number; reason: string }];
}

/** Everything one federation's runner is built from. */
export interface RunnerDeps {
  store: Store;
  identity: Identity;
  federation: Federation;
  rules: RoundRules;
  strategy: Strategy;
  dataDir: string;
  outbox: Outbox;
  log: Logger;
  maxPayloadBytes: number;
}
