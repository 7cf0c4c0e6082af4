/** Model files: atomic writes under the data dir, digest-checked reads, no escaping the data dir. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initialWeights, loadModelFile, saveModelFile } from '../../../coordinator/models/index.js';
import { decodeTensors, encodeTensors, frameDigest } from '../../../protocol/codec.js';

const spec = { arch: 'logreg' as const, inputShape: [8], classes: ['no', 'yes'] };

describe('model files', () => {
  let dataDir: string;
  let frame: Uint8Array;
  let digest: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'cohort-models-'));
    frame = encodeTensors(initialWeights(spec, 9), { version: 0 });
    digest = frameDigest(frame);
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('round-trips a frame under models/<federation>/v<version>.cohort, leaving no temporary file', () => {
    const { path } = saveModelFile(dataDir, 'fed-a', 0, frame);

    const loaded = loadModelFile(dataDir, path, digest);

    expect(path).toBe('models/fed-a/v0.cohort');
    expect(loaded).toEqual(frame);
    expect(decodeTensors(loaded).tensors).toEqual(initialWeights(spec, 9));
    expect(readdirSync(join(dataDir, 'models', 'fed-a'))).toEqual(['v0.cohort']);
  });

  it('replaces an existing version file whole', () => {
    saveModelFile(dataDir, 'fed-a', 1, new Uint8Array(100).fill(7));

    const { path } = saveModelFile(dataDir, 'fed-a', 1, frame);

    expect(new Uint8Array(readFileSync(join(dataDir, path)))).toEqual(frame);
  });

  it('detects one corrupted byte', () => {
    const { path } = saveModelFile(dataDir, 'fed-a', 2, frame);
    const bytes = readFileSync(join(dataDir, path));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(join(dataDir, path), bytes);

    const load = () => loadModelFile(dataDir, path, digest);

    expect(load).toThrow(/model file models\/fed-a\/v2\.cohort is corrupt: digest [0-9a-f]{64} != trailer/);
  });

  it('refuses a valid frame whose digest is not the expected one', () => {
    const other = encodeTensors(initialWeights(spec, 10), { version: 0 });
    const { path } = saveModelFile(dataDir, 'fed-a', 3, other);

    const load = () => loadModelFile(dataDir, path, digest);

    expect(load).toThrow(`model file ${path} is corrupt: digest ${frameDigest(other)} != expected ${digest}`);
  });

  it('refuses paths that escape the data directory and unsafe federation ids', () => {
    const outside = join(dataDir, '..', 'escape.cohort');

    expect(() => loadModelFile(dataDir, '../escape.cohort', digest)).toThrow(/escapes the data directory/);
    expect(() => loadModelFile(dataDir, 'models/../../x', digest)).toThrow(/escapes the data directory/);
    expect(() => loadModelFile(dataDir, outside, digest)).toThrow(/escapes the data directory/);
    expect(() => saveModelFile(dataDir, '../evil', 0, frame)).toThrow(/not safe as a directory name/);
    expect(() => saveModelFile(dataDir, 'fed-a', -1, frame)).toThrow(RangeError);
    expect(existsSync(outside)).toBe(false);
  });
});
