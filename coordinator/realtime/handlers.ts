/** A connection's events after the inbound checks: authentication, readiness, uploads, rounds, consent and secure aggregation. */
import {
  AuthResponseSchema,
  CohortError,
  ConsentRevokeSchema,
  EvaluationReportSchema,
  DeclineSchema,
  ReadySchema,
  SecAggAdvertiseSchema,
  SecAggShareKeysSchema,
  SecAggUnmaskSchema,
  SecAggConsistencySchema,
  UploadBeginSchema,
  UploadChunkSchema,
  UploadCommitSchema,
} from '../../protocol/index.js';
import { authenticate } from './authenticate.js';
import { inbound } from './inbound.js';
import type { RealtimeContext } from './context.js';
import type { CohortSocket } from './types.js';

/**
 * Registers every event a connection takes; `timeout` is its challenge timer, cleared on authentication or disconnect.
 * @example io.on('connection', (socket) => attachHandlers(ctx, socket, challenge(ctx, socket)))
 */
export function attachHandlers(ctx: RealtimeContext, socket: CohortSocket, timeout: NodeJS.Timeout): void {
  const { deps, runner, sessions, uploads } = ctx;
  const { institution } = socket.data;

  const on = inbound(ctx, socket);

  on('session:auth', AuthResponseSchema, (msg) => authenticate(ctx, socket, msg, timeout));

  on('agent:ready', ReadySchema, (msg) => {
    runner().agentOnline(institution, msg);
  });

  on('update:begin', UploadBeginSchema, (msg) => {
    runner().assertCanUpload(institution, msg.round);
    if (msg.chunkBytes > deps.chunkBytes) {
      throw new CohortError('BAD_REQUEST', `chunkBytes ${msg.chunkBytes} exceeds this coordinator's ${deps.chunkBytes}`);
    }
    return uploads.begin(institution, msg);
  });

  on('update:chunk', UploadChunkSchema, (msg) => uploads.chunk(institution, msg));

  on('update:commit', UploadCommitSchema, (msg) => {
    const { round, bytes } = uploads.finish(institution, msg.uploadId);
    return runner().submitUpdate(institution, round, bytes);
  });

  on('round:decline', DeclineSchema, (msg) => runner().decline(institution, msg));

  on('round:evaluation', EvaluationReportSchema, (msg) => runner().evaluationReport(institution, msg));

  on('consent:revoke', ConsentRevokeSchema, (msg) => runner().revokeConsent(institution, msg.revocation));

  on('secagg:advertise', SecAggAdvertiseSchema, (msg) => runner().secAgg(institution, 'advertise', msg));
  on('secagg:share-keys', SecAggShareKeysSchema, (msg) => runner().secAgg(institution, 'share-keys', msg));
  on('secagg:consistency', SecAggConsistencySchema, (msg) => runner().secAgg(institution, 'consistency', msg));
  on('secagg:unmask', SecAggUnmaskSchema, (msg) => runner().secAgg(institution, 'unmask', msg));

  socket.on('disconnect', (reason, description?: unknown) => {
    clearTimeout(timeout);
    if (sessions.get(institution) === socket) {
      sessions.delete(institution);
      runner().agentOffline(institution);
      // e.g. "transport error" with "RangeError: Max payload size exceeded" for a frame over maxHttpBufferSize
      const detail = description instanceof Error ? description.message.slice(0, 200) : undefined;
      ctx.audit('agent.disconnected', institution, detail ? { reason, detail } : { reason });
    }
  });
}
