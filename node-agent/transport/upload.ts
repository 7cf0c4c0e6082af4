/** Sends one sealed update in acknowledged chunks under the coordinator's frame limit, resuming after a reconnect. */
import { randomBytes } from 'node:crypto';
import { CohortError, splitIntoChunks } from '../../protocol/index.js';
import { peekEnvelope, sha256Hex } from '../../crypto/index.js';
import type { AgentSocket } from './connection.js';

export interface UploadOptions {
  round: number;
  chunkBytes: number;
  /** Per-acknowledgement timeout. */
  ackTimeoutMs?: number;
  /** Attempts across reconnects before giving up. */
  attempts?: number;
  onProgress?: (sent: number, total: number) => void;
  /** Wait before retrying after the coordinator answered UNAVAILABLE (doubled each time). */
  unavailableBackoffMs?: number;
  /** Resolves once the session is authenticated again (after a reconnect). */
  whenSessionReady: () => Promise<void>;
}

/** Transport failures are retried; a refusal by the coordinator is final and thrown as its CohortError. */
class Refused extends Error {
  constructor(readonly error: CohortError) {
    super(error.message);
  }
}

/**
 * Uploads `bytes` (a sealed envelope) and returns the digest the coordinator recorded.
 * @example const { digest } = await uploadUpdate(socket, envelope, { round: 3, chunkBytes: 512 * 1024 })
 */
export async function uploadUpdate(socket: AgentSocket, bytes: Uint8Array, opts: UploadOptions): Promise<{ digest: string }> {
  const uploadId = randomBytes(12).toString('hex');
  const sha256 = sha256Hex(bytes);
  const chunks = splitIntoChunks(bytes, opts.chunkBytes);
  const timeout = opts.ackTimeoutMs ?? 30_000;
  const attempts = opts.attempts ?? 5;
  let lastError: Error | undefined;
  // A commit whose acknowledgement was lost (the link failed after it) may have been taken.
  let committed = false;
  let backoff = opts.unavailableBackoffMs ?? 1_000;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await opts.whenSessionReady();
      const begin = await socket.timeout(timeout).emitWithAck('update:begin', {
        round: opts.round,
        uploadId,
        totalBytes: bytes.length,
        chunkBytes: opts.chunkBytes,
        sha256,
      });
      if (!begin.ok && begin.error.code === 'DUPLICATE' && committed) {
        // The coordinator holds this round's update from us: the lost acknowledgement's, counted once.
        return { digest: peekEnvelope(bytes)?.payloadDigest ?? '' };
      }
      if (!begin.ok) throw new Refused(new CohortError(begin.error.code, begin.error.message));
      const have = new Set(begin.received);
      let sent = have.size;
      for (let index = 0; index < chunks.length; index++) {
        if (have.has(index)) continue;
        const res = await socket.timeout(timeout).emitWithAck('update:chunk', { uploadId, index, data: chunks[index] as Uint8Array });
        if (!res.ok) throw new Refused(new CohortError(res.error.code, res.error.message));
        opts.onProgress?.(++sent, chunks.length);
      }
      committed = true;
      const commit = await socket.timeout(timeout).emitWithAck('update:commit', { uploadId });
      if (!commit.ok) throw new Refused(new CohortError(commit.error.code, commit.error.message));
      return { digest: commit.digest };
    } catch (err) {
      if (err instanceof Refused && err.error.code === 'UNAVAILABLE' && attempt < attempts) {
        // Nothing was taken (the coordinator's storage is failing): the whole upload again, later.
        lastError = err.error;
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff *= 2;
        continue;
      }
      // A step buffered across a reconnect reaches the new session before it is authenticated: send it again once it is.
      if (err instanceof Refused && err.error.code === 'UNAUTHENTICATED' && attempt < attempts) {
        lastError = err.error;
        continue;
      }
      if (err instanceof Refused) throw err.error;
      lastError = err as Error;
    }
  }
  throw new CohortError('INTERNAL', `upload failed after ${attempts} attempts: ${lastError?.message ?? 'unknown error'}`);
}
