/** The agent's windowed upload against a real socket.io server holding the coordinator's UploadTable, with slow acknowledgements. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadTable } from '../../../coordinator/realtime/uploads.js';
import { uploadUpdate } from '../../../node-agent/transport/upload.js';
import type { AgentSocket } from '../../../node-agent/transport/connection.js';
import { toCohortError } from '../../../protocol/index.js';

const ACK_DELAY_MS = 20;

/**
 * A server that takes one upload through UploadTable and answers each chunk only after ACK_DELAY_MS, recording how
 * many chunks it held unanswered at most (what the sender had in flight) and the bytes it assembled.
 */
async function slowServer() {
  const http = createServer();
  const io = new Server(http);
  const uploads = new UploadTable(1 << 22);
  const seen = { maxUnanswered: 0, unanswered: 0, chunks: 0, assembled: undefined as Uint8Array | undefined };
  io.on('connection', (socket) => {
    const answer = (ack: (r: unknown) => void, fn: () => Record<string, unknown>) => {
      try {
        ack({ ok: true, ...fn() });
      } catch (err) {
        ack({ ok: false, error: toCohortError(err).toWire() });
      }
    };
    socket.on('update:begin', (msg, ack) => answer(ack, () => uploads.begin('site-1', msg)));
    socket.on('update:chunk', (msg, ack) => {
      seen.chunks += 1;
      seen.maxUnanswered = Math.max(seen.maxUnanswered, ++seen.unanswered);
      // Taken at once, in arrival order; only the answer is late.
      let result: Record<string, unknown> = {};
      let error: unknown;
      try {
        result = uploads.chunk('site-1', msg);
      } catch (err) {
        error = err;
      }
      setTimeout(() => {
        seen.unanswered -= 1;
        answer(ack, () => {
          if (error) throw error;
          return result;
        });
      }, ACK_DELAY_MS);
    });
    socket.on('update:commit', (msg, ack) =>
      answer(ack, () => {
        seen.assembled = uploads.finish('site-1', msg.uploadId).bytes.slice();
        return { digest: 'd'.repeat(64) };
      }),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const socket = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  closers.push(() => (socket.close(), io.close()));
  return { socket: socket as unknown as AgentSocket, seen };
}

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('uploadUpdate with a window', () => {
  it('keeps exactly `window` chunks unacknowledged, and the coordinator assembles the very bytes sent', async () => {
    const { socket, seen } = await slowServer();
    const bytes = randomBytes(40 * 1024 + 123);

    const started = performance.now();
    await uploadUpdate(socket, bytes, { round: 1, chunkBytes: 1024, window: 4, whenSessionReady: async () => undefined });
    const ms = performance.now() - started;

    expect(seen.chunks).toBe(41);
    expect(seen.maxUnanswered).toBe(4);
    expect(Buffer.from(seen.assembled!).equals(bytes)).toBe(true);
    // 41 chunks answered 20 ms late, four at a time: about 11 waits, not 41.
    expect(ms).toBeLessThan(41 * ACK_DELAY_MS);
  });

  it('with a window of 1 waits for each acknowledgement (stop-and-wait, as protocol 1 did)', async () => {
    const { socket, seen } = await slowServer();
    const bytes = randomBytes(5 * 1024);

    await uploadUpdate(socket, bytes, { round: 1, chunkBytes: 1024, window: 1, whenSessionReady: async () => undefined });

    expect(seen.maxUnanswered).toBe(1);
    expect(Buffer.from(seen.assembled!).equals(bytes)).toBe(true);
  });

  it('refuses a window that is not a positive integer', async () => {
    const { socket } = await slowServer();

    const tries = [0, -2, 1.5].map((window) =>
      uploadUpdate(socket, randomBytes(100), { round: 1, chunkBytes: 64, window, whenSessionReady: async () => undefined }).catch(
        (err: { code: string; message: string }) => err,
      ),
    );

    for (const err of await Promise.all(tries)) {
      expect(err).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/upload window must be a positive integer/) });
    }
  });
});
