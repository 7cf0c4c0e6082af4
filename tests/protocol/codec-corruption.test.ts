import { describe, expect, it } from 'vitest';
import { decodeTensors, encodeTensors, frameDigest } from '../../protocol/codec.js';
import { dataSection, flipByte, float32Bytes, handFrame, headerText, redigest, thrown } from './helpers.js';

const frame = encodeTensors(
  [
    { name: 'dense_0/kernel', shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'dense_0/bias', shape: [2], data: Float32Array.from([7, 8]) },
  ],
  { round: 4 },
);
const dataStart = frame.length - 32 - dataSection(frame).length;
const digestStart = frame.length - 32;

function corruption(bytes: Uint8Array, options?: { maxBytes?: number }): string {
  const error = thrown(() => decodeTensors(bytes, options));
  expect(error.code).toBe('CORRUPT_PAYLOAD');
  return error.message;
}

describe('decodeTensors on damaged frames', () => {
  it('accepts the intact frame (control)', () => {
    expect(decodeTensors(frame).tensors).toHaveLength(2);
  });

  it('refuses a flipped byte in the data, in the header and in the digest', () => {
    const nameAt = 12 + headerText(frame).indexOf('kernel');

    expect(corruption(flipByte(frame, dataStart + 5))).toMatch(/digest mismatch/);
    expect(corruption(flipByte(frame, nameAt))).toMatch(/digest mismatch/);
    expect(corruption(flipByte(frame, 12))).toMatch(/header is not UTF-8 JSON/);
    expect(corruption(flipByte(frame, digestStart + 31))).toMatch(/digest mismatch/);
    expect(() => frameDigest(flipByte(frame, dataStart))).toThrow(/digest mismatch/);
  });

  it('refuses truncated frames at every kind of cut', () => {
    expect(corruption(frame.subarray(0, 10))).toMatch(/shorter than the minimum 44/);
    expect(corruption(frame.subarray(0, 50))).toMatch(/header length \d+ out of bounds/);
    expect(corruption(frame.subarray(0, frame.length - 1))).toMatch(/header shapes need 32 data bytes .* carries 31/);
    expect(corruption(frame.subarray(0, frame.length - 4))).toMatch(/carries 28/);
  });

  it('refuses a wrong magic, version or reserved byte', () => {
    expect(corruption(redigest(flipByte(frame, 0)))).toMatch(/bad magic/);
    expect(corruption(handFrame('{"tensors":[],"meta":{}}', new Uint8Array(), { version: 2 }))).toMatch(/unsupported codec version 2/);
    expect(corruption(redigest(flipByte(frame, 6)))).toMatch(/reserved bytes/);
  });

  it('refuses a header that lies about shapes even with a valid digest', () => {
    const lying = handFrame(headerText(frame).replace('[3,2]', '[3,3]'), dataSection(frame));

    expect(corruption(lying)).toMatch(/header shapes need 44 data bytes \(11 float32\), frame carries 32/);
  });

  it('refuses headers that break the schema even with a valid digest', () => {
    const data = float32Bytes([1]);
    const cases: [string, RegExp][] = [
      ['{"tensors":[{"name":"w","dtype":"float64","shape":[1]}],"meta":{}}', /bad header: tensors\.0\.dtype/],
      ['{"tensors":[{"name":"","dtype":"float32","shape":[1]}],"meta":{}}', /bad header: tensors\.0\.name/],
      ['{"tensors":[{"name":"w","dtype":"float32","shape":[-1]}],"meta":{}}', /bad header: tensors\.0\.shape\.0/],
      ['{"tensors":[{"name":"w","dtype":"float32","shape":[1.5]}],"meta":{}}', /bad header: tensors\.0\.shape\.0/],
      ['{"tensors":[{"name":"w","dtype":"float32","shape":[1,1,1,1,1,1,1,1,1]}],"meta":{}}', /bad header: tensors\.0\.shape/],
      [
        '{"tensors":[{"name":"w","dtype":"float32","shape":[1]},{"name":"w","dtype":"float32","shape":[0]}],"meta":{}}',
        /duplicate tensor name 'w'/,
      ],
      ['{"tensors":[{"name":"w","dtype":"float32","shape":[1],"extra":1}],"meta":{}}', /bad header: tensors\.0/],
      ['{"tensors":[{"name":"w","dtype":"float32","shape":[1]}]}', /bad header: meta/],
      ['[1]', /bad header: \(root\)/],
      ['{"tensors":', /header is not UTF-8 JSON/],
    ];
    for (const [json, message] of cases) expect(corruption(handFrame(json, data))).toMatch(message);
    expect(corruption(handFrame('{"tensors":[],"meta":{}} ', new Uint8Array(), { pad: false }))).toMatch(/leaves the data unaligned/);
  });

  it('refuses a header that is not valid UTF-8', () => {
    const bad = handFrame('{"tensors":[],"meta":{"x":"\u00e9"}}', new Uint8Array());
    const at = 12 + new TextEncoder().encode('{"tensors":[],"meta":{"x":"').length;
    bad[at] = 0xff;

    expect(corruption(redigest(bad))).toMatch(/header is not UTF-8 JSON/);
  });

  it('refuses a frame larger than maxBytes with PAYLOAD_TOO_LARGE, accepts one at the limit', () => {
    const error = thrown(() => decodeTensors(frame, { maxBytes: frame.length - 1 }));

    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toMatch(`frame of ${frame.length} bytes exceeds the limit of ${frame.length - 1}`);
    expect(decodeTensors(frame, { maxBytes: frame.length }).tensors).toHaveLength(2);
  });
});
