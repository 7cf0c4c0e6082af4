/** Typed socket.io event maps, used by the coordinator's Server and the agent's client alike. */
import type {
  Ack,
  AuthResponse,
  Challenge,
  ConsentRevoke,
  Decline,
  EvaluateTask,
  EvaluationReport,
  FederationComplete,
  FederationFailed,
  Ready,
  RoundClosed,
  RoundTask,
  UploadBegin,
  UploadChunk,
  UploadCommit,
  Welcome,
} from './messages.js';
import type { StatsQuery, StatsReply } from './analytics.js';
import type {
  SecAggAdvertise,
  SecAggConsistency,
  SecAggConsistencyRequest,
  SecAggKeys,
  SecAggShareKeys,
  SecAggShares,
  SecAggUnmask,
  SecAggUnmaskRequest,
} from './secagg-wire.js';

export interface ServerToClientEvents {
  'session:challenge': (msg: Challenge) => void;
  'session:welcome': (msg: Welcome) => void;
  'round:task': (task: RoundTask) => void;
  'round:evaluate': (task: EvaluateTask) => void;
  'round:closed': (msg: RoundClosed) => void;
  'federation:complete': (msg: FederationComplete) => void;
  /** The federation stopped as failed; agents exit with its reason. Also sent to an agent that authenticates afterwards. */
  'federation:failed': (msg: FederationFailed) => void;
  /** Secure aggregation, coordinator -> participant: neighbours' keys, the shares addressed to it, the survivor set to sign, the unmask request. */
  'secagg:keys': (msg: SecAggKeys) => void;
  'secagg:shares': (msg: SecAggShares) => void;
  'secagg:consistency-request': (msg: SecAggConsistencyRequest) => void;
  'secagg:unmask-request': (msg: SecAggUnmaskRequest) => void;
  /** Federated analytics: a query; the site answers in the acknowledgement (signed counts, or a refusal). */
  'stats:query': (msg: StatsQuery, ack: (reply: StatsReply) => void) => void;
}

export interface ClientToServerEvents {
  'session:auth': (msg: AuthResponse, ack: Ack<{ institution: string }>) => void;
  'agent:ready': (msg: Ready, ack: Ack) => void;
  /** Answers `next`: the index of the first chunk the coordinator does not hold (0 for a new upload; where a resumed one continues). */
  'update:begin': (msg: UploadBegin, ack: Ack<{ next: number }>) => void;
  'update:chunk': (msg: UploadChunk, ack: Ack<{ received: number }>) => void;
  'update:commit': (msg: UploadCommit, ack: Ack<{ digest: string }>) => void;
  'round:decline': (msg: Decline, ack: Ack) => void;
  'round:evaluation': (msg: EvaluationReport, ack: Ack) => void;
  'consent:revoke': (msg: ConsentRevoke, ack: Ack) => void;
  /** Secure aggregation, participant -> coordinator (the masked input itself goes through update:begin/chunk/commit). */
  'secagg:advertise': (msg: SecAggAdvertise, ack: Ack) => void;
  'secagg:share-keys': (msg: SecAggShareKeys, ack: Ack) => void;
  'secagg:consistency': (msg: SecAggConsistency, ack: Ack) => void;
  'secagg:unmask': (msg: SecAggUnmask, ack: Ack) => void;
}

/** Every client event name, for handlers that must cover them all (e.g. the authentication gate). */
export const CLIENT_EVENTS = [
  'session:auth',
  'agent:ready',
  'update:begin',
  'update:chunk',
  'update:commit',
  'round:decline',
  'round:evaluation',
  'consent:revoke',
  'secagg:advertise',
  'secagg:share-keys',
  'secagg:consistency',
  'secagg:unmask',
] as const satisfies readonly (keyof ClientToServerEvents)[];
