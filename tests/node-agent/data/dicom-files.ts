import { deflateRawSync } from 'node:zlib';

/** A minimal DICOM Part 10 writer for tests: preamble, "DICM", group 0002 meta (explicit VR little endian), the image module, pixel data. */

/** What a test image declares; pixel values are the stored values (before rescale). */
export interface DicomSpec {
  rows: number;
  columns: number;
  pixels: ArrayLike<number>;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  /** 1: signed (two's complement). */
  pixelRepresentation?: 0 | 1;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB';
  slope?: number;
  intercept?: number;
  /** Window Center / Width; several values are written backslash-separated. */
  windowCenter?: number | number[];
  windowWidth?: number | number[];
  /**
   * Default Explicit VR Little Endian; Deflated (…1.2.1.99) and Explicit VR Big Endian (…1.2.2) write the data set
   * accordingly; any other writes encapsulated (compressed-style) pixel data.
   */
  transferSyntax?: string;
}

const enc = new TextEncoder();

/** A DICOM string value padded to even length (UIDs with NUL, text with space). */
function text(value: string, pad: string): Uint8Array {
  return enc.encode(value.length % 2 === 0 ? value : value + pad);
}

/** One explicit VR element (little endian unless `le` is false). */
function element(group: number, elem: number, vr: string, value: Uint8Array, undefinedLength = false, le = true): Uint8Array {
  const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const view = new DataView(head.buffer);
  view.setUint16(0, group, le);
  view.setUint16(2, elem, le);
  head.set(enc.encode(vr), 4);
  if (long) view.setUint32(8, undefinedLength ? 0xffffffff : value.length, le);
  else view.setUint16(6, value.length, le);
  return concat([head, value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const us = (v: number, le = true): Uint8Array => {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, v, le);
  return out;
};
const ul = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);
const ds = (v: number | number[]): Uint8Array => text((Array.isArray(v) ? v : [v]).map(String).join('\\'), ' ');

/** Encapsulated pixel data: an empty basic offset table item, one fragment, the sequence delimiter. */
function encapsulated(bytes: Uint8Array): Uint8Array {
  const item = (payload: Uint8Array): Uint8Array => concat([us(0xfffe), us(0xe000), ul(payload.length), payload]);
  return concat([item(new Uint8Array(0)), item(bytes), us(0xfffe), us(0xe0dd), ul(0)]);
}

/**
 * A complete Part 10 file for the spec.
 * @example writeFileSync('a.dcm', dicomFile({ rows: 2, columns: 2, pixels: [0, 100, 200, 300], bitsAllocated: 16 }))
 */
export function dicomFile(spec: DicomSpec): Uint8Array {
  const bits = spec.bitsAllocated ?? 16;
  const syntax = spec.transferSyntax ?? '1.2.840.10008.1.2.1';
  const le = syntax !== '1.2.840.10008.1.2.2';
  const n = spec.rows * spec.columns * (spec.photometric === 'RGB' ? 3 : 1);
  const raw = new Uint8Array(n * (bits / 8));
  const view = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    const v = spec.pixels[i] as number;
    if (bits === 8) view.setUint8(i, v & 0xff);
    else view.setUint16(2 * i, v & 0xffff, le);
  }
  const metaBody = concat([
    element(0x0002, 0x0001, 'OB', new Uint8Array([0, 1])),
    element(0x0002, 0x0002, 'UI', text('1.2.840.10008.5.1.4.1.1.7', '\0')),
    element(0x0002, 0x0003, 'UI', text('1.2.826.0.1.3680043.2.1125.1', '\0')),
    element(0x0002, 0x0010, 'UI', text(syntax, '\0')),
    element(0x0002, 0x0012, 'UI', text('1.2.826.0.1.3680043.2.1125.2', '\0')),
  ]);
  const el = (group: number, elem: number, vr: string, value: Uint8Array, undefinedLength = false): Uint8Array =>
    element(group, elem, vr, value, undefinedLength, le);
  const optional: Uint8Array[] = [];
  if (spec.windowCenter !== undefined) optional.push(el(0x0028, 0x1050, 'DS', ds(spec.windowCenter)));
  if (spec.windowWidth !== undefined) optional.push(el(0x0028, 0x1051, 'DS', ds(spec.windowWidth)));
  if (spec.intercept !== undefined) optional.push(el(0x0028, 0x1052, 'DS', ds(spec.intercept)));
  if (spec.slope !== undefined) optional.push(el(0x0028, 0x1053, 'DS', ds(spec.slope)));
  const compressed = !['1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2'].includes(syntax);
  const body = concat([
    el(0x0008, 0x0060, 'CS', text('OT', ' ')),
    el(0x0028, 0x0002, 'US', us(spec.photometric === 'RGB' ? 3 : 1, le)),
    el(0x0028, 0x0004, 'CS', text(spec.photometric ?? 'MONOCHROME2', ' ')),
    el(0x0028, 0x0010, 'US', us(spec.rows, le)),
    el(0x0028, 0x0011, 'US', us(spec.columns, le)),
    el(0x0028, 0x0100, 'US', us(bits, le)),
    el(0x0028, 0x0101, 'US', us(spec.bitsStored ?? bits, le)),
    el(0x0028, 0x0102, 'US', us((spec.bitsStored ?? bits) - 1, le)),
    el(0x0028, 0x0103, 'US', us(spec.pixelRepresentation ?? 0, le)),
    ...optional,
    compressed ? el(0x7fe0, 0x0010, 'OB', encapsulated(raw), true) : el(0x7fe0, 0x0010, bits === 8 ? 'OB' : 'OW', raw),
  ]);
  const deflated = syntax === '1.2.840.10008.1.2.1.99';
  return concat([
    new Uint8Array(128),
    enc.encode('DICM'),
    element(0x0002, 0x0000, 'UL', ul(metaBody.length)),
    metaBody,
    deflated ? new Uint8Array(deflateRawSync(body)) : body,
  ]);
}
