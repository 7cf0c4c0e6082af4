/** DICOM decoding (dicom-parser) and DICOM manifests, on Part 10 files written by the test helper. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDicom } from '../../../node-agent/data/dicom.js';
import { loadDicomManifest } from '../../../node-agent/data/dicom-manifest.js';
import { resizeChannel } from '../../../node-agent/data/image-resize.js';
import { dicomFile, type DicomSpec } from './dicom-files.js';

const decode = (spec: DicomSpec): number[] =>
  Array.from(decodeDicom(dicomFile(spec), 'test.dcm').values).map((v) => Math.round(v * 1000) / 1000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-dicom-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decodeDicom', () => {
  it('scales an image without a window by its min-max (16-bit unsigned, MONOCHROME2)', () => {
    expect(decode({ rows: 1, columns: 4, pixels: [100, 200, 300, 500] })).toEqual([0, 0.25, 0.5, 1]);
  });

  it('applies Rescale Slope and Intercept before the window (values in Hounsfield units)', () => {
    // stored 0, 1000, 2000 -> HU -1024, 976, 2976 with slope 2, intercept -1024; window centre 0 width 2001 covers [-1000, 1000]
    const values = decode({ rows: 1, columns: 3, pixels: [0, 1000, 2000], slope: 2, intercept: -1024, windowCenter: 0, windowWidth: 2001 });
    expect(values[0]).toBe(0);
    expect(values[1]).toBeCloseTo((976 + 0.5) / 2000 + 0.5, 3); // DICOM's linear VOI: ((x - (c - 0.5)) / (w - 1) + 0.5)
    expect(values[2]).toBe(1);
  });

  it('maps the window centre to one half and clips outside the window; takes the first of several windows', () => {
    const values = decode({ rows: 1, columns: 4, pixels: [0, 39, 50, 200], windowCenter: [50, 500], windowWidth: [21, 1000] });
    expect(values[0]).toBe(0);
    expect(values[1]).toBe(0);
    expect(values[2]).toBeCloseTo(0.525, 3);
    expect(values[3]).toBe(1);
  });

  it('inverts MONOCHROME1 so that higher is brighter', () => {
    expect(decode({ rows: 1, columns: 3, pixels: [0, 50, 100], photometric: 'MONOCHROME1' })).toEqual([1, 0.5, 0]);
  });

  it("reads signed 16-bit pixels (two's complement) and 8-bit pixels", () => {
    expect(decode({ rows: 1, columns: 3, pixels: [-100, 0, 100], pixelRepresentation: 1 })).toEqual([0, 0.5, 1]);
    expect(decode({ rows: 1, columns: 3, pixels: [10, 20, 30], bitsAllocated: 8 })).toEqual([0, 0.5, 1]);
  });

  it('masks stored bits: 12 of 16 allocated, sign taken from bit 11', () => {
    // 0xF000 | 5 in a 12-bit stored field is 5 (the high 4 bits are not pixel data)
    expect(decode({ rows: 1, columns: 2, pixels: [0xf000 | 5, 15], bitsStored: 12 })).toEqual([0, 1]);
    expect(decode({ rows: 1, columns: 3, pixels: [0x800, 0, 0x7ff], bitsStored: 12, pixelRepresentation: 1 })).toEqual([0, 0.5, 1]);
  });

  it('reads Deflated Explicit VR Little Endian and Explicit VR Big Endian files to the same values', () => {
    const spec: DicomSpec = { rows: 1, columns: 4, pixels: [100, 200, 300, 500], slope: 2, intercept: -10 };
    expect(decode({ ...spec, transferSyntax: '1.2.840.10008.1.2.1.99' })).toEqual([0, 0.25, 0.5, 1]);
    expect(decode({ ...spec, transferSyntax: '1.2.840.10008.1.2.2' })).toEqual([0, 0.25, 0.5, 1]);
    expect(decode({ ...spec, transferSyntax: '1.2.840.10008.1.2.2', windowCenter: 589.5, windowWidth: 2 })).toEqual([0, 0, 1, 1]);
  });

  it('refuses a compressed transfer syntax naming the file, the UID and its name', () => {
    const file = dicomFile({ rows: 1, columns: 2, pixels: [1, 2], transferSyntax: '1.2.840.10008.1.2.4.90' });
    expect(() => decodeDicom(file, 'scans/ct-1.dcm')).toThrow(
      /scans\/ct-1\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90 \(JPEG 2000 \(Lossless Only\)\)/,
    );
    const rle = dicomFile({ rows: 1, columns: 2, pixels: [1, 2], transferSyntax: '1.2.840.10008.1.2.5' });
    expect(() => decodeDicom(rle, 'x.dcm')).toThrow(/RLE Lossless/);
  });

  it('refuses truncated pixel data, a non-DICOM file and colour images with messages naming the file', () => {
    const whole = dicomFile({ rows: 4, columns: 4, pixels: new Array(16).fill(7) });
    expect(() => decodeDicom(whole.subarray(0, whole.length - 10), 'cut.dcm')).toThrow(/cut\.dcm: /);
    expect(() => decodeDicom(new TextEncoder().encode('hello, not dicom'), 'note.dcm')).toThrow(
      /note\.dcm: not a readable DICOM Part 10 file/,
    );
    expect(() => decodeDicom(dicomFile({ rows: 1, columns: 1, pixels: [1, 2, 3], photometric: 'RGB' }), 'rgb.dcm')).toThrow(
      /rgb\.dcm: Photometric Interpretation "RGB" is not supported/,
    );
  });
});

describe('resizeChannel', () => {
  it('averages when shrinking and keeps a constant image constant', () => {
    expect(Array.from(resizeChannel(new Float32Array([0, 1, 1, 0]), 2, 2, 1, 1))).toEqual([0.5]);
    expect(Array.from(resizeChannel(new Float32Array(12).fill(0.3), 3, 4, 5, 2)).every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
  });
});

describe('loadDicomManifest', () => {
  const write = (name: string, spec: DicomSpec): string => {
    writeFileSync(join(dir, name), dicomFile(spec));
    return name;
  };

  it('reads file,label,site rows relative to the CSV, resizes to --image-size and sorts the classes', () => {
    const rows = [0, 1, 2, 3].map(
      (i) =>
        `${write(`m${i}.dcm`, { rows: 8, columns: 6, pixels: Array.from({ length: 48 }, (_, k) => k * (i + 1)) })},${i % 2 ? 'pneumonia' : 'normal'},site-${i % 2}`,
    );
    writeFileSync(join(dir, 'manifest.csv'), `file,label,site\n${rows.join('\n')}\n`);
    const set = loadDicomManifest(join(dir, 'manifest.csv'), { size: [4, 3] });
    expect(set.imageShape).toEqual([4, 3, 1]);
    expect(set.pixels.length).toBe(4 * 12);
    expect(set.classes).toEqual(['normal', 'pneumonia']);
    expect(Array.from(set.labels)).toEqual([0, 1, 0, 1]);
    expect(set.sites).toEqual(['site-0', 'site-1', 'site-0', 'site-1']);
    expect(set.files[2]).toBe(join(dir, 'm2.dcm'));
  });

  it('refuses a bad file by default and skips it with --on-bad-file skip, saying so in one line', () => {
    writeFileSync(join(dir, 'broken.dcm'), 'not dicom');
    const good = write('g.dcm', { rows: 2, columns: 2, pixels: [1, 2, 3, 4] });
    writeFileSync(join(dir, 'bad.csv'), `file,label\n${good},a\nbroken.dcm,b\n${good},b\n`);
    expect(() => loadDicomManifest(join(dir, 'bad.csv'))).toThrow(
      /1 unreadable file: .*broken\.dcm \(not a readable DICOM Part 10 file.*--on-bad-file skip/,
    );
    const lines: string[] = [];
    const set = loadDicomManifest(join(dir, 'bad.csv'), { onBadFile: 'skip' }, (l) => lines.push(l));
    expect(set.labels.length).toBe(2);
    expect(set.skipped.map((b) => b.path)).toEqual([join(dir, 'broken.dcm')]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/skipped 1 unreadable file: .*broken\.dcm/);
  });

  it('names the missing column and refuses a set over --max-memory-mb before decoding', () => {
    writeFileSync(join(dir, 'nolabel.csv'), 'file,class\nx.dcm,a\n');
    expect(() => loadDicomManifest(join(dir, 'nolabel.csv'))).toThrow(/must name columns "file" and "label"/);
    writeFileSync(join(dir, 'big.csv'), 'file,label\nnot-there-1.dcm,a\nnot-there-2.dcm,b\n');
    expect(() => loadDicomManifest(join(dir, 'big.csv'), { size: [1024, 1024], maxMemoryMb: 1 })).toThrow(
      /2 images of 1024x1024x1 take 8 MiB .*--max-memory-mb 1/,
    );
  });
});
