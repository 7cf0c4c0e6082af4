/** Sends one sealed update in chunks under the coordinator's frame limit, a window of them unacknowledged at a time, resuming after a reconnect. */
import { randomBytes } from 'node:crypto';
import { CohortError, DEFAULT_UPLOAD_WINDOW, splitIntoChunks, uploadTail } from '../../protocol/index.js';
import { peekEnvelope } from '../../crypto/index.js';
import type { AgentSocket } from './connection.js';

export interface UploadOptions {
  round: number;
  chunkBytes: number;
  /** Chunks sent ahead of their acknowledgements (default DEFAULT_UPLOAD_WINDOW = 8; 1 is stop-and-wait). */
  window?: number | undefined;
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
  // The envelope's signature, which commits to every byte: names this upload on a resume without hashing it again.
  const tail = uploadTail(bytes);
  const chunks = splitIntoChunks(bytes, opts.chunkBytes);
  const window = opts.window ?? DEFAULT_UPLOAD_WINDOW;
  if (!Number.isSafeInteger(window) || window < 1)
    throw new CohortError('BAD_REQUEST', `upload window must be a positive integer, got ${window}`);
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
        tail,
      });
      if (!begin.ok && begin.error.code === 'DUPLICATE' && committed) {
        // The coordinator holds this round's update from us: the lost acknowledgement's, counted once.
        return { digest: peekEnvelope(bytes)?.payloadDigest ?? '' };
      }
      if (!begin.ok) throw new Refused(new CohortError(begin.error.code, begin.error.message));
      await sendWindowed(socket, uploadId, chunks, begin.next, { window, timeout, onProgress: opts.onProgress });
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

/**
 * Sends `chunks[from..]` in order, at most `window` of them unacknowledged; resolves once all are acknowledged.
 * On the first refusal or transport failure it sends nothing more, waits for the chunks in flight, and throws that first error.
 */
async function sendWindowed(
  socket: AgentSocket,
  uploadId: string,
  chunks: readonly Uint8Array[],
  from: number,
  opts: { window: number; timeout: number; onProgress?: (sent: number, total: number) => void },
): Promise<void> {
  let next = from;
  let acked = from;
  let failure: Error | undefined;
  const inFlight = new Set<Promise<void>>();
  for (;;) {
    while (failure === undefined && next < chunks.length && inFlight.size < opts.window) {
      // A chunk emitted while disconnected would be buffered and refused by the next session before it authenticates.
      if (!socket.connected) {
        failure = new Error('disconnected during the upload');
        break;
      }
      const index = next++;
      const sent: Promise<void> = socket
        .timeout(opts.timeout)
        .emitWithAck('update:chunk', { uploadId, index, data: chunks[index] as Uint8Array })
        .then((res) => {
          if (!res.ok) throw new Refused(new CohortError(res.error.code, res.error.message));
          opts.onProgress?.(++acked, chunks.length);
        })
        .catch((err: Error) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight);
  }
  if (failure !== undefined) throw failure;
}
