/** Test helpers for protocol tests: catching CohortErrors and hand-building codec frames byte by byte. */
import { createHash } from 'node:crypto';
import { CohortError } from '../../protocol/errors.js';

/** Runs `fn` and returns the CohortError it throws; fails the test if it throws nothing or something else. */
export function thrown(fn: () => unknown): CohortError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CohortError) return error;
    throw error;
  }
  throw new Error('expected a CohortError, nothing was thrown');
}

/** The raw bytes of Float32 values in little-endian order (independent of the codec's own writer). */
export function float32Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** Builds a frame exactly as the documented layout says, from any header JSON text and data bytes. */
export function handFrame(headerJson: string, data: Uint8Array, opts: { version?: number; pad?: boolean } = {}): Uint8Array {
  let header = new TextEncoder().encode(headerJson);
  if (opts.pad !== false) {
    const padded = new Uint8Array(header.length + ((4 - ((12 + header.length) % 4)) % 4)).fill(0x20);
    padded.set(header);
    header = padded;
  }
  const body = new Uint8Array(12 + header.length + data.length);
  body.set(new TextEncoder().encode('COHT'));
  body[4] = opts.version ?? 1;
  new DataView(body.buffer).setUint32(8, header.length, true);
  body.set(header, 12);
  body.set(data, 12 + header.length);
  return redigest(concat(body, new Uint8Array(32)));
}

/** Rewrites the trailing 32-byte SHA-256 of a (tampered) frame so only other checks can catch it. */
export function redigest(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  const end = out.length - 32;
  out.set(createHash('sha256').update(out.subarray(0, end)).digest(), end);
  return out;
}

/** The header JSON text of a frame (padding trimmed). */
export function headerText(frame: Uint8Array): string {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(8, true);
  return new TextDecoder().decode(frame.subarray(12, 12 + length)).trimEnd();
}

/** The data section of a frame. */
export function dataSection(frame: Uint8Array): Uint8Array {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(8, true);
  return frame.subarray(12 + length, frame.length - 32);
}

/** A copy of a frame with one byte XOR-ed. */
export function flipByte(frame: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = frame.slice();
  out[at] = (out[at] as number) ^ mask;
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte-for-byte view of a Float32Array, for exact bit comparisons. */
export function bitsOf(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
