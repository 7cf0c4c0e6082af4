/** Traffic capture: everything an agent sends, byte by byte on TCP and packet by packet in engine.io, holds no raw sample. */
import { randomBytes } from 'node:crypto';
import { createServer, connect as tcpConnect, type Server as TcpServer } from 'node:net';
import { describe, expect } from 'vitest';
import { CLIENT_EVENTS } from '../../protocol/index.js';
import { loadMnist } from '../../node-agent/data/index.js';
import type { Agent } from '../../node-agent/index.js';
import { e2e, startAgent } from './helpers.js';
import { rawConnect, type RawClient } from './raw-client.js';

const PIXELS = 784;

/** A loopback TCP proxy to `targetPort` that records, per connection, every byte the client writes. */
interface Tap {
  port: number;
  connections: { chunks: Buffer[]; closed: Promise<void> }[];
  close(): Promise<void>;
}

async function startTap(targetPort: number): Promise<Tap> {
  const connections: Tap['connections'] = [];
  const server: TcpServer = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    connections.push({ chunks, closed });
    client.on('data', (b: Buffer) => chunks.push(Buffer.from(b)));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

interface WsMessage {
  binary: boolean;
  data: Buffer;
}

/** Splits a client's byte stream into its HTTP upgrade request and unmasked WebSocket messages (RFC 6455 §5). */
function parseClientStream(stream: Buffer): { request: string; messages: WsMessage[]; unmaskedFrames: number; compressedFrames: number } {
  const headerEnd = stream.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw new Error('no HTTP upgrade request in the capture');
  const request = stream.subarray(0, headerEnd).toString('latin1');
  const messages: WsMessage[] = [];
  let unmaskedFrames = 0;
  let compressedFrames = 0;
  let partial: { binary: boolean; parts: Buffer[] } | undefined;
  let at = headerEnd + 4;
  while (at + 2 <= stream.length) {
    const b0 = stream[at] as number;
    const b1 = stream[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (b0 & 0x40) compressedFrames++;
    const masked = (b1 & 0x80) !== 0;
    if (!masked) unmaskedFrames++;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = stream.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(p));
      p += 8;
    }
    const mask = masked ? stream.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    if (p + length > stream.length) break; // cut mid-frame: nothing more to read
    const payload = Buffer.from(stream.subarray(p, p + length));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    at = p + length;
    if (opcode >= 0x8) continue; // close, ping, pong
    if (opcode !== 0) partial = { binary: opcode === 2, parts: [] };
    partial?.parts.push(payload);
    if (fin && partial) {
      messages.push({ binary: partial.binary, data: Buffer.concat(partial.parts) });
      partial = undefined;
    }
  }
  return { request, messages, unmaskedFrames, compressedFrames };
}

/** The socket.io events inside engine.io messages, with their binary attachments (socket.io-parser's format, v5). */
function socketIoEvents(messages: WsMessage[]): { event: string; args: unknown[]; attachments: Buffer[] }[] {
  const out: { event: string; args: unknown[]; attachments: Buffer[] }[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as WsMessage;
    const text = m.binary ? '' : m.data.toString('utf8');
    if (!text.startsWith('4')) continue; // engine.io "message" packets only
    const match = /^4([25])(?:(\d+)-)?(?:\/[^,]*,)?\d*(\[.*)$/s.exec(text);
    if (!match) continue;
    const attachments = messages.slice(i + 1, i + 1 + Number(match[2] ?? 0)).map((a) => a.data);
    i += attachments.length;
    const [event, ...args] = JSON.parse(match[3] as string) as [string, ...unknown[]];
    out.push({ event, args, attachments });
  }
  return out;
}

/** Byte patterns that would betray a raw row: float32/float64 windows and JSON texts of runs of pixels with ink. */
function rowNeedles(row: Float32Array): Buffer[] {
  const needles: Buffer[] = [];
  const ink = (from: number, to: number) => row.subarray(from, to).filter((v) => v !== 0).length;
  const asF32 = Buffer.from(row.buffer, row.byteOffset, row.byteLength);
  for (let i = 0; i + 16 <= row.length; i += 16) if (ink(i, i + 16) >= 4) needles.push(asF32.subarray(i * 4, i * 4 + 64));
  const f64 = Buffer.from(Float64Array.from(row).buffer);
  const decimals = row.map((v) => Number(v.toFixed(3)));
  const f64d = Buffer.from(Float64Array.from(decimals).buffer);
  for (let i = 0; i + 8 <= row.length; i += 8) {
    if (ink(i, i + 8) < 4) continue;
    needles.push(f64.subarray(i * 8, i * 8 + 64), f64d.subarray(i * 8, i * 8 + 64));
    const values = Array.from(row.subarray(i, i + 8));
    needles.push(Buffer.from(values.join(',')), Buffer.from(values.map((v) => Number(v.toFixed(3))).join(',')));
    needles.push(Buffer.from(values.map((v, j) => `"${i + j}":${v}`).join(',')));
  }
  return needles;
}

/** Indices of the rows of which some pattern occurs in `haystack` (rows that share a run of pixels are found together). */
function leakedRows(haystack: Buffer, rows: Float32Array[]): number[] {
  return [...rows.entries()].filter(([, row]) => rowNeedles(row).some((needle) => haystack.includes(needle))).map(([r]) => r);
}

/** Everything one agent wrote, at the TCP level (masked), the WebSocket level (unmasked) and the engine.io level. */
interface Capture {
  tcp: Buffer;
  ws: ReturnType<typeof parseClientStream>;
  engine: { type: string; data: Buffer | string | undefined }[];
}

/** Records engine.io packets as the client creates them, for every engine the manager opens. */
function tapEngine(socket: RawClient['socket'] | Agent['socket']): Capture['engine'] {
  const packets: Capture['engine'] = [];
  const seen = new WeakSet<object>();
  const hook = () => {
    const engine = socket.io.engine;
    if (!engine || seen.has(engine)) return;
    seen.add(engine);
    engine.on('packetCreate', (packet: { type: string; data?: unknown }) => {
      const data = packet.data;
      packets.push({ type: packet.type, data: typeof data === 'string' || data === undefined ? data : Buffer.from(data as Uint8Array) });
    });
  };
  hook();
  socket.io.on('open', hook);
  return packets;
}

/** engine.io's WebSocket encoding of a packet: strings get the type digit in front, binary goes as is. */
const ENGINE_TYPES: Record<string, string> = { open: '0', close: '1', ping: '2', pong: '3', message: '4', upgrade: '5', noop: '6' };
function engineWire(p: Capture['engine'][number]): Buffer {
  if (Buffer.isBuffer(p.data)) return p.data;
  return Buffer.from(`${ENGINE_TYPES[p.type]}${p.data ?? ''}`);
}

const haystacks = (c: Capture): [string, Buffer][] => [
  ['tcp', c.tcp],
  ['websocket', Buffer.concat(c.ws.messages.map((m) => m.data))],
  ['engine.io', Buffer.concat(c.engine.map(engineWire))],
];

const rowOf = (index: number): Float32Array => loadMnist().x.subarray(index * PIXELS, (index + 1) * PIXELS);

describe('what agents send', () => {
  e2e('holds none of their raw rows in any form, and every update leaves as a sealed envelope', async ({ cohort }) => {
    const fed = await cohort.federation(3, { rounds: 2, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } }, 'logreg', 200);
    const taps = await Promise.all([0, 1, 2].map(() => startTap(fed.coordinator.port)));
    taps.forEach((t) => cohort.track(t));
    const agents = taps.map((tap, i) => startAgent(fed, i, { coordinatorUrl: `http://127.0.0.1:${tap.port}` }));
    const engines = agents.map((a) => tapEngine(a.socket));

    // Stop at the first refused update too, so that a leaking agent fails on what it sent rather than on a timeout.
    const refused = new Promise<string>((resolve) => agents.forEach((a) => a.events.once('refused', (e) => resolve(`refused: ${e.code}`))));
    const outcome = await Promise.race([Promise.all(agents.map((a) => a.done)), refused]);
    agents.forEach((a) => a.close());
    await Promise.all(taps.flatMap((t) => t.connections.map((c) => c.closed)));

    for (const [i, tap] of taps.entries()) {
      expect(tap.connections).toHaveLength(1);
      const tcp = Buffer.concat(tap.connections[0]!.chunks);
      const capture: Capture = { tcp, ws: parseClientStream(tcp), engine: engines[i]! };
      // The capture is complete and readable: every frame masked, none compressed, the two levels agree packet for packet.
      expect(capture.ws.request).toMatch(/^GET \/socket\.io\/\?EIO=4&transport=websocket/);
      expect(capture.ws.unmaskedFrames).toBe(0);
      expect(capture.ws.compressedFrames).toBe(0);
      expect(capture.ws.messages.map((m) => m.data)).toEqual(capture.engine.map(engineWire));
      // Not one of 50 of the site's rows, in any form, at any level; no tensor frame ("COHT") in clear.
      const rows = fed.parts[i]!.slice(0, 50).map(rowOf);
      for (const [level, bytes] of haystacks(capture)) {
        expect(bytes.indexOf('COHT'), `${level}: tensor frame in clear`).toBe(-1);
        expect(leakedRows(bytes, rows), `${level}: raw rows of site-${i + 1}`).toEqual([]);
      }
      // Only protocol events, and each update is one sealed envelope (magic "CENV").
      const events = socketIoEvents(capture.ws.messages);
      // (No declines, revocations or secure-aggregation steps in this plain round.)
      expect(new Set(events.map((e) => e.event))).toEqual(
        new Set(CLIENT_EVENTS.filter((e) => e !== 'round:decline' && e !== 'consent:revoke' && !e.startsWith('secagg:'))),
      );
      const chunks = events.filter((e) => e.event === 'update:chunk');
      const begins = events.filter((e) => e.event === 'update:begin');
      expect(chunks).toHaveLength(2);
      chunks.forEach((c, k) => {
        expect(c.attachments).toHaveLength(1);
        expect(c.attachments[0]!.subarray(0, 4).toString('latin1')).toBe('CENV');
        expect(c.attachments[0]!.length).toBe((begins[k]!.args[0] as { totalBytes: number }).totalBytes);
      });
    }
    expect(outcome).toEqual([0, 1, 2].map(() => ({ rounds: 2, finalVersion: 2 })));
  });

  e2e('catches a raw row when one is sent, as binary or as JSON, through the same capture and detector', async ({ cohort }) => {
    const fed = await cohort.federation(1);
    const tap = await startTap(fed.coordinator.port);
    cohort.track(tap);
    const rows = fed.parts[0]!.slice(0, 50).map(rowOf);
    const leaked = rows[17] as Float32Array;
    const client = rawConnect({ url: `http://127.0.0.1:${tap.port}`, federation: 'e2e', institution: 'site-1' });
    const engine = tapEngine(client.socket);
    cohort.track(client);

    await client.challenge;
    const asJson = await client.call('agent:ready', { samples: 1, backend: 'raw', rows: [Array.from(leaked)] });
    const asBytes = await client.call('update:chunk', {
      uploadId: 'abcdefgh',
      index: 0,
      data: new Uint8Array(leaked.buffer, leaked.byteOffset, leaked.byteLength),
    });
    client.close();
    await tap.connections[0]!.closed;

    expect([asJson, asBytes].map((a) => a.ok)).toEqual([false, false]);
    const tcp = Buffer.concat(tap.connections[0]!.chunks);
    const capture: Capture = { tcp, ws: parseClientStream(tcp), engine };
    const [, websocket] = haystacks(capture)[1]!;
    const [, packets] = haystacks(capture)[2]!;
    expect(leakedRows(websocket, rows)).toContain(17);
    expect(leakedRows(packets, rows)).toContain(17);
    expect(leakedRows(tcp, rows), 'masking hides the row from a naive look at the TCP bytes').toEqual([]);
    // Each form on its own is caught: the JSON message alone, and the binary attachment alone.
    const events = socketIoEvents(capture.ws.messages);
    const ready = Buffer.from(JSON.stringify(events.find((e) => e.event === 'agent:ready')!.args));
    const chunk = events.find((e) => e.event === 'update:chunk')!.attachments[0]!;
    expect(leakedRows(ready, rows)).toContain(17);
    expect(leakedRows(chunk, rows)).toContain(17);
    // A row injected into an honest-looking stream as a masked frame is found once unmasked.
    const mask = randomBytes(4);
    const payload = Buffer.from(leaked.buffer, leaked.byteOffset, leaked.byteLength).map((b, k) => b ^ (mask[k & 3] as number));
    const frame = Buffer.concat([Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 0xff]), mask, payload]);
    const injected = parseClientStream(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), frame]));
    expect(leakedRows(Buffer.concat(injected.messages.map((m) => m.data)), rows)).toContain(17);
  });
});
