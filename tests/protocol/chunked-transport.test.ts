import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPrng } from '../../crypto/prng.js';
import { ChunkAssembler, DEFAULT_CHUNK_BYTES, splitIntoChunks, uploadTail } from '../../protocol/chunks.js';
import { decodeTensors, encodeTensors, type DecodedFrame, type NamedTensor } from '../../protocol/codec.js';
import { toCohortError } from '../../protocol/errors.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../protocol/events.js';
import { UploadBeginSchema, UploadChunkSchema, UploadCommitSchema } from '../../protocol/messages.js';
import { bitsOf } from './helpers.js';

type Client = ClientSocket<ServerToClientEvents, ClientToServerEvents>;
const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

let cached: { tensors: NamedTensor[]; frame: Uint8Array<ArrayBuffer> } | undefined;

/** An 8.8 MB model frame (2.2M random floats) with its tensors, built once per file. */
function bigFrame(): { tensors: NamedTensor[]; frame: Uint8Array<ArrayBuffer> } {
  if (cached) return cached;
  const rng = createPrng(11);
  const tensors = [
    { name: 'dense_0/kernel', shape: [2200, 1000], data: Float32Array.from({ length: 2_200_000 }, () => rng.normal()) },
    { name: 'dense_0/bias', shape: [1000], data: Float32Array.from({ length: 1000 }, () => rng.normal()) },
  ];
  cached = { tensors, frame: encodeTensors(tensors, { kind: 'weights', round: 1 }) };
  return cached;
}

describe('chunked upload over a real socket.io server with the default 1 MB limit', () => {
  let io: Server<ClientToServerEvents, ServerToClientEvents>;
  let url: string;
  const clients: Client[] = [];
  const uploads = new Map<string, ChunkAssembler>();
  let decoded: DecodedFrame | undefined;
  let chunkEvents = 0;

  beforeEach(async () => {
    const http = createServer();
    io = new Server(http); // default maxHttpBufferSize: 1e6 bytes
    uploads.clear();
    decoded = undefined;
    chunkEvents = 0;
    io.on('connection', (socket) => {
      // Uploads are keyed by id, not by socket, so a reconnecting sender can resume.
      socket.on('update:begin', (raw, ack) => {
        try {
          const msg = UploadBeginSchema.parse(raw);
          const asm = uploads.get(msg.uploadId) ?? new ChunkAssembler({ ...msg, maxBytes: MAX_UPLOAD_BYTES });
          uploads.set(msg.uploadId, asm);
          ack({ ok: true, next: asm.next });
        } catch (error) {
          ack({ ok: false, error: toCohortError(error).toWire() });
        }
      });
      socket.on('update:chunk', (raw, ack) => {
        chunkEvents += 1;
        try {
          const msg = UploadChunkSchema.parse(raw);
          const asm = uploads.get(msg.uploadId);
          if (!asm) throw new Error(`unknown upload ${msg.uploadId}`);
          ack({ ok: true, received: asm.accept(msg.index, msg.data).received });
        } catch (error) {
          ack({ ok: false, error: toCohortError(error).toWire() });
        }
      });
      socket.on('update:commit', (raw, ack) => {
        try {
          const asm = uploads.get(UploadCommitSchema.parse(raw).uploadId);
          if (!asm) throw new Error('unknown upload');
          decoded = decodeTensors(asm.finish(), { maxBytes: MAX_UPLOAD_BYTES });
          ack({ ok: true, digest: decoded.digest });
        } catch (error) {
          ack({ ok: false, error: toCohortError(error).toWire() });
        }
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await io.close();
  });

  async function client(): Promise<Client> {
    const socket: Client = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  }

  /** Sends the chunks the server does not have yet, from its `next`, one acknowledged emit each; stops after `limit`. */
  async function send(socket: Client, uploadId: string, frame: Uint8Array<ArrayBuffer>, limit = Infinity): Promise<number> {
    const begun = await socket.emitWithAck('update:begin', {
      round: 1,
      uploadId,
      totalBytes: frame.length,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      tail: uploadTail(frame),
    });
    if (!begun.ok) throw new Error(begun.error.message);
    const chunks = splitIntoChunks(frame, DEFAULT_CHUNK_BYTES);
    for (let index = begun.next; index < Math.min(chunks.length, begun.next + limit); index++) {
      const ack = await socket.emitWithAck('update:chunk', { uploadId, index, data: chunks[index]! });
      if (!ack.ok) throw new Error(ack.error.message);
    }
    return begun.next;
  }

  it('delivers an 8.8 MB frame as acknowledged chunks, reassembled and decoded bit-exactly', async () => {
    const { tensors, frame } = bigFrame();
    const socket = await client();

    await send(socket, 'upload-0001', frame);
    const committed = await socket.emitWithAck('update:commit', { uploadId: 'upload-0001' });

    expect(frame.length).toBeGreaterThan(8 * 1024 * 1024);
    expect(chunkEvents).toBe(Math.ceil(frame.length / DEFAULT_CHUNK_BYTES));
    expect(committed).toEqual({ ok: true, digest: decoded?.digest });
    expect(decoded?.meta).toEqual({ kind: 'weights', round: 1 });
    decoded?.tensors.forEach((t, i) => expect(Buffer.from(bitsOf(t.data)).equals(bitsOf(tensors[i]!.data))).toBe(true));
    expect(decoded?.tensors).toHaveLength(2);
  });

  it('resumes after a reconnect, sending only the chunks the server lacks', async () => {
    const { frame } = bigFrame();
    const first = await client();
    await send(first, 'upload-0002', frame, 5);
    first.disconnect();
    const second = await client();

    const resumedAt = await send(second, 'upload-0002', frame);
    const committed = await second.emitWithAck('update:commit', { uploadId: 'upload-0002' });

    expect(resumedAt).toBe(5);
    expect(chunkEvents).toBe(Math.ceil(frame.length / DEFAULT_CHUNK_BYTES));
    expect(committed.ok).toBe(true);
  });

  it('reports an incomplete commit as an error ack', async () => {
    const { frame } = bigFrame();
    const socket = await client();
    await send(socket, 'upload-0003', frame, 2);

    const committed = await socket.emitWithAck('update:commit', { uploadId: 'upload-0003' });

    expect(committed).toEqual({ ok: false, error: { code: 'BAD_REQUEST', message: 'upload incomplete: 15 of 17 chunks missing' } });
  });

  it('control: the same frame in one unchunked emit never arrives; the server drops the client', async () => {
    const { frame } = bigFrame();
    const socket = await client();
    let acked = false;
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still connected after 5 s'), 5000));

    socket.emit('update:chunk', { uploadId: 'upload-0004', index: 0, data: frame }, () => {
      acked = true;
    });
    const outcome = await Promise.race([disconnected, timeout]);

    expect(outcome).toBe('transport close');
    expect(chunkEvents).toBe(0);
    expect(acked).toBe(false);
  });
});
