/** A user model kept in the coordinator's data directory: the copy for serving, version 0's tensors, the base for a federation, and what is refused. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseHash, type ModelSpec, type NamedTensor } from '../../../protocol/index.js';
import { baseModelJsonPath, baseTensors, keepBaseModel, userInitialWeights } from '../../../coordinator/models/index.js';

const tensor = (name: string, shape: number[], from: number): NamedTensor => ({
  name,
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => from + i / 10),
});
const file = [tensor('stem/kernel', [2, 3], 1), tensor('stem/bias', [3], 2), tensor('out/kernel', [3, 2], 3), tensor('out/bias', [2], 4)];
const layers = {
  topology: { class_name: 'Sequential', config: { layers: [] } },
  tensors: [
    { name: 'out/kernel', shape: [3, 2], role: 'trained' as const },
    { name: 'out/bias', shape: [2], role: 'trained' as const },
    { name: 'stem/kernel', shape: [2, 3], role: 'frozen' as const },
    { name: 'stem/bias', shape: [3], role: 'frozen' as const },
  ],
};
const spec: ModelSpec = { arch: 'layers', inputShape: [2], classes: ['a', 'b'], layers: { ...layers, baseHash: baseHash(layers, file) } };

let dir: string;
let modelJson: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-base-model-'));
  mkdirSync(join(dir, 'src', 'shards'), { recursive: true });
  writeFileSync(join(dir, 'src', 'shards', 'w.bin'), new Uint8Array(8));
  modelJson = join(dir, 'src', 'model.json');
  writeFileSync(
    modelJson,
    JSON.stringify({ format: 'layers-model', modelTopology: layers.topology, weightsManifest: [{ paths: ['shards/w.bin'], weights: [] }] }),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('keepBaseModel', () => {
  it('copies model.json and its shards, and then serves version 0 (the trained tensors, in layout order) and the base, also after a restart without the file', () => {
    const data = join(dir, 'data');

    keepBaseModel(data, 'fed', spec, { modelJson, tensors: file });
    keepBaseModel(data, 'fed', spec, { modelJson: join(dir, 'nowhere.json'), tensors: [] }); // a restart: already kept, nothing read

    expect(existsSync(baseModelJsonPath(data, 'fed'))).toBe(true);
    expect(existsSync(join(data, 'models', 'fed', 'base', 'shards', 'w.bin'))).toBe(true);
    expect(userInitialWeights(data, 'fed', spec).map((t) => t.name)).toEqual(['out/kernel', 'out/bias']);
    expect(userInitialWeights(data, 'fed', spec)[0]!.data).toEqual(file[2]!.data);
    expect(baseTensors(data, 'fed', spec).map((t) => t.name)).toEqual(['stem/kernel', 'stem/bias']);
    expect(baseTensors(data, 'fed', spec)[1]!.data).toEqual(file[1]!.data);
  });

  it('refuses tensors whose frozen values are not the ones the spec pins, and keeps nothing', () => {
    const data = join(dir, 'data');
    const other = file.map((t) => (t.name === 'stem/bias' ? tensor('stem/bias', [3], 9) : t));

    expect(() => keepBaseModel(data, 'fed', spec, { modelJson, tensors: other })).toThrow(/not the ones the spec pins \(baseHash\)/);
    expect(() => baseTensors(data, 'fed', spec)).toThrow(/tensors\.cohort is missing: start the coordinator with --model PATH/);
  });

  it('refuses a shard path that leaves the model folder', () => {
    writeFileSync(modelJson, JSON.stringify({ weightsManifest: [{ paths: ['../../etc/passwd'], weights: [] }] }));

    expect(() => keepBaseModel(join(dir, 'data'), 'fed', spec, { modelJson, tensors: file })).toThrow(
      /shard path \.\.\/\.\.\/etc\/passwd leaves the model's folder/,
    );
  });
});
